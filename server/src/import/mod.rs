//! `jwt-allauth import ...`: bringing users and live sessions over from another system.
//!
//! Only one source exists: a django-jwt-allauth 1.5 database ([`django`]).

pub mod django;
