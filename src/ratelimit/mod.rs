//! Rate limits (API.md 8): fixed-window counters per client address and bucket, in memory (one
//! instance) or in the database (every instance shares one budget). A fixed window is what the
//! `RateLimit-*` headers describe (a limit, what is left, seconds until the window resets), and it
//! is one atomic upsert in SQL, so both stores behave the same. (governor's GCRA has no shared
//! store, hence counters of our own.)

mod store;

use std::net::IpAddr;
use std::time::Duration;

use serde_json::json;

use crate::config::RateLimits;
use crate::db::Db;
use crate::error::{AppError, Code};
pub use store::Store;

/// A budget: every route together (`Global`) or one family of routes or GraphQL fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bucket {
    Global,
    SignIn,
    SignUp,
    TwoFactor,
    Passkey,
    MagicLink,
    /// Password-reset and verification emails.
    Email,
}

impl Bucket {
    pub fn name(self) -> &'static str {
        match self {
            Bucket::Global => "global",
            Bucket::SignIn => "sign-in",
            Bucket::SignUp => "sign-up",
            Bucket::TwoFactor => "two-factor",
            Bucket::Passkey => "passkey",
            Bucket::MagicLink => "magic-link",
            Bucket::Email => "email",
        }
    }

    /// The bucket of a REST path, besides the global one.
    pub fn for_path(path: &str) -> Option<Bucket> {
        match path {
            "/api/auth/sign-in/email" => Some(Bucket::SignIn),
            "/api/auth/sign-up/email" => Some(Bucket::SignUp),
            "/api/auth/request-password-reset" | "/api/auth/send-verification-email" => Some(Bucket::Email),
            p if p.starts_with("/api/auth/two-factor/") => Some(Bucket::TwoFactor),
            p if p.starts_with("/api/auth/passkey/") => Some(Bucket::Passkey),
            p if p.starts_with("/api/auth/magic-link/") => Some(Bucket::MagicLink),
            _ => None,
        }
    }
}

/// One counted hit: where the bucket stands after it.
#[derive(Clone, Copy, Debug)]
pub struct Decision {
    pub bucket: Bucket,
    pub limit: u64,
    pub count: u64,
    pub reset_in: Duration,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.count <= self.limit
    }
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.count)
    }
    /// Whole seconds until the window resets (at least 1 while it runs).
    pub fn reset_secs(&self) -> u64 {
        self.reset_in.as_millis().div_ceil(1000).max(1) as u64
    }
    /// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`.
    pub fn headers(&self) -> [(&'static str, String); 3] {
        [
            ("ratelimit-limit", self.limit.to_string()),
            ("ratelimit-remaining", self.remaining().to_string()),
            ("ratelimit-reset", self.reset_secs().to_string()),
        ]
    }
}

pub const MESSAGE: &str = "Too many requests from this IP, please try again later.";

/// The 429 of an exceeded bucket: the envelope with `meta.message`, `Retry-After`, the headers.
pub fn rejection(d: &Decision) -> AppError {
    let mut e = AppError::new(Code::RateLimitError, MESSAGE).with_meta(json!({ "message": MESSAGE }));
    for (name, value) in d.headers() {
        e = e.with_header(name, value);
    }
    e.with_header("retry-after", d.reset_secs().to_string())
}

#[derive(Clone)]
pub struct Limiter {
    enabled: bool,
    limits: RateLimits,
    store: Store,
}

impl Limiter {
    pub fn new(enabled: bool, limits: RateLimits, store: Store) -> Self {
        Limiter { enabled, limits, store }
    }

    /// A limiter for the configured store.
    pub fn from_config(config: &crate::config::Config, db: &Db) -> Self {
        let store = match config.rate_limit_store {
            crate::config::RateLimitStore::Memory => Store::memory(),
            crate::config::RateLimitStore::Database => Store::database(db.clone()),
        };
        Limiter::new(config.rate_limit, config.rate_limits.clone(), store)
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts one hit of `bucket` for `ip`; `None` when limits are off. A store failure lets the
    /// request through (logged): the limiter must not take the service down with it.
    pub async fn hit(&self, bucket: Bucket, ip: IpAddr, n: u64) -> Option<Decision> {
        if !self.enabled {
            return None;
        }
        let (limit, window) = self.limits.of(bucket);
        let key = format!("{}|{}", bucket.name(), ip.to_canonical());
        match self.store.hit(&key, window, n).await {
            Ok((count, reset_in)) => Some(Decision { bucket, limit, count, reset_in }),
            Err(e) => {
                tracing::warn!(error = %e, bucket = bucket.name(), "rate-limit store failed; letting the request through");
                None
            }
        }
    }

    /// Counts one invocation of an action (a GraphQL field such as `signIn`) against its bucket
    /// and fails with `RATE_LIMIT_ERROR` past the limit.
    pub async fn enforce(&self, bucket: Bucket, ip: Option<IpAddr>) -> Result<(), AppError> {
        let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        match self.hit(bucket, ip, 1).await {
            Some(d) if !d.allowed() => Err(rejection(&d)),
            _ => Ok(()),
        }
    }

    /// Starts the janitor that drops expired windows (both stores).
    pub fn spawn_cleanup(&self, shutdown: tokio_util::sync::CancellationToken) {
        if !self.enabled {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                    _ = shutdown.cancelled() => break,
                }
                if let Err(e) = store.cleanup().await {
                    tracing::warn!(error = %e, "rate-limit cleanup failed");
                }
            }
        });
    }
}
