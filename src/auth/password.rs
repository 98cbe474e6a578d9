//! Password hashing with Argon2id at the OWASP minimum (19 MiB, 2 passes, 1 lane, 16-byte salt,
//! PHC string). Each hash runs on the blocking pool, inside the caller's tracing span, behind a
//! semaphore: a sign-in flood queues for hashing instead of stalling the async executor or
//! allocating 19 MiB per concurrent request.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use tracing::Instrument;

use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist, so
    /// an unknown email costs the same time as a wrong password.
    dummy: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

impl Hasher {
    pub fn new(concurrency: usize) -> Self {
        let dummy = argon2()
            .hash_password(crate::auth::tokens::random_alphanumeric(32).as_bytes())
            .expect("hashing a random password")
            .to_string();
        Hasher { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy: dummy.into() }
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.permits.available_permits()
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(f))
            .instrument(tracing::Span::current())
            .await
            .map_err(AppError::internal)
    }

    /// The PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_owned();
        self.blocking(move || argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(AppError::internal)
    }

    /// Verifies `password` against `phc`, or against the dummy hash when `phc` is `None`
    /// (unknown account), in which case the answer is always `false`.
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> AppResult<bool> {
        let password = password.to_owned();
        let known = phc.is_some();
        let phc: String = phc.map(str::to_owned).unwrap_or_else(|| self.dummy.to_string());
        let ok = self
            .blocking(move || match PasswordHash::new(&phc) {
                Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            })
            .await?;
        Ok(known && ok)
    }
}
