//! User accounts (SPEC §11): the accounts file and the hashing worker.
//!
//! - [`store`]: the file's format, validation and atomic writes.
//! - [`hash`]: argon2id on a worker thread, and the pluggable [`hash::Hasher`].

pub mod hash;
pub mod store;

pub use store::{Account, AccountsFile, Ban, Target};
