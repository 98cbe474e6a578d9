//! Shared application state: what every handler and resolver reaches through.

use std::sync::Arc;

use crate::auth::password::Hasher;
use crate::config::Config;
use crate::db::Db;
use crate::mail::MailSignal;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub hasher: Hasher,
    /// Wakes the mail worker after a transaction that queued mail commits.
    pub mail: MailSignal,
    pub schema: crate::graphql::GatehouseSchema,
    pub limiter: crate::ratelimit::Limiter,
    /// Recently resolved credentials (`auth::cache`).
    pub credentials: crate::auth::cache::CredentialCache,
}
