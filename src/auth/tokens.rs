//! Random secrets (session tokens, PATs, email tokens) and the digests they are stored as.
//! Only the SHA-256 digest of a secret ever reaches the database; lookups go by digest.

use rand::distributions::Alphanumeric;
use rand::Rng;
use sha2::{Digest, Sha256};

/// `len` characters from `[A-Za-z0-9]` from the OS-seeded CSPRNG (about 5.95 bits each).
pub fn random_alphanumeric(len: usize) -> String {
    rand::rngs::OsRng.sample_iter(&Alphanumeric).take(len).map(char::from).collect()
}

/// An opaque token for sessions and email links: 43 characters, 256 bits of entropy.
pub fn new_opaque_token() -> String {
    random_alphanumeric(43)
}

/// Hex SHA-256 of a secret, as stored.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new ULID as its 26-character text. Monotonic within the process: ids made in the same
/// millisecond still sort in creation order, so "newest first, id as tie-breaker" is stable.
pub fn new_id() -> String {
    new_ulid().to_string()
}

pub fn new_ulid() -> ulid::Ulid {
    static GENERATOR: std::sync::Mutex<Option<ulid::Generator>> = std::sync::Mutex::new(None);
    let mut guard = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    let generator = guard.get_or_insert_with(ulid::Generator::new);
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new())
}

/// True when `s` is a well-formed ULID.
pub fn is_ulid(s: &str) -> bool {
    s.len() == 26 && ulid::Ulid::from_string(s).is_ok()
}
