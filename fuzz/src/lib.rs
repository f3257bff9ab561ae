//! Shared fixtures of the fuzz targets in `fuzz_targets/`: the test key rings, a
//! reference model of token verification built on `jsonwebtoken::decode`, header maps
//! read from fuzz input, and an empty session store.
//!
//! The targets are run by `scripts/fuzz.sh`; see `fuzz/README.md`.

pub mod empty_store;
pub mod header_map;
pub mod ready;
pub mod reference;
pub mod rings;
