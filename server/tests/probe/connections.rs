//! Placeholder: filled by the finding's fix.
