//! Password hashing with Argon2id at the OWASP minimum (19 MiB, 2 passes, 1 lane, 16-byte salt,
//! PHC string). Hashes run on a small fixed pool of dedicated threads (`GATEHOUSE_HASH_CONCURRENCY`,
//! by default one core fewer than the machine has), fed through a queue: a sign-in flood waits
//! its turn instead of stalling the async executor, and memory stays at one 19 MiB working area
//! per hashing thread (the blocking pool would spread the work over many threads, each keeping
//! its own allocator arena with a 19 MiB block in it).

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    threads: usize,
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
    /// Starts `threads` hashing threads (they end when the last `Hasher` clone is dropped).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .expect("start a hashing thread");
        }
        // The dummy is hashed on the pool too, so its memory is the pool's.
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tx.send(Box::new(move || {
            let phc =
                argon2().hash_password(crate::auth::tokens::random_alphanumeric(32).as_bytes()).map(|h| h.to_string());
            let _ = done_tx.send(phc);
        }))
        .expect("the hashing threads run");
        let dummy = done_rx.recv().expect("the dummy hash").expect("hashing a random password");
        Hasher { jobs: tx, threads, dummy: dummy.into() }
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.threads
    }

    /// Runs `f` on a hashing thread, inside the caller's tracing span.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        self.jobs
            .send(Box::new(move || {
                // The request went away (timeout, closed connection): its hash is not worth a core.
                if !tx.is_closed() {
                    let _ = tx.send(span.in_scope(f));
                }
            }))
            .map_err(|_| AppError::internal("the hashing threads are gone"))?;
        rx.await.map_err(|_| AppError::internal("a hashing job was dropped"))
    }

    /// The PHC string of `password` with a fresh random salt.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let password = password.to_owned();
        self.run(move || argon2().hash_password(password.as_bytes()).map(|h| h.to_string()))
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
            .run(move || match PasswordHash::new(&phc) {
                Ok(parsed) => argon2().verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            })
            .await?;
        Ok(known && ok)
    }
}
