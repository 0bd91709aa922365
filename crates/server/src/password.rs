//! Argon2id password hashing, shared by link passwords and dashboard members.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Argon2, PasswordHash, PasswordVerifier};

use crate::error::{AppError, AppResult};

/// Hashes with a fresh salt into the PHC string format (parameters travel with the hash).
pub fn hash(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

pub fn matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Spends the time of one verification, so an unknown email answers as slowly as a wrong password.
pub fn burn_verification(password: &str) {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("linkwire-dummy-password").unwrap_or_default());
    let _ = matches(dummy, password);
}
