//! The credential cache: a resolved principal is reused for a short while (100 ms by default,
//! `GATEHOUSE_CREDENTIAL_CACHE_MS`) instead of reading its key or session again. A client that
//! sends many requests with one credential (a service with its PAT, a page loading its data)
//! then costs one database read per interval instead of one per request.
//!
//! Why a revoked credential still fails on the very next request, on every instance:
//! - On this instance, an entry is used only while the database's write generation
//!   (`db::WriteGeneration`) is the one read *before* the entry's lookup started. Every write of
//!   this process moves it on once the write is over, so nothing written here (a revocation, a
//!   new name, a new organization) is hidden by an entry read before it.
//! - On other instances, an entry lives at most the cache interval counted from *before* its
//!   lookup started, so from before the database read it holds. A revocation ([`revoked`]) waits
//!   that interval after its commit before it answers. An entry that missed the revocation was
//!   read before the commit, so it has expired everywhere by the time the revocation is
//!   answered; a lookup that starts later reads the committed state. (Someone who reads the
//!   committed change some other way within that interval, a key list say, may still see the
//!   credential work elsewhere until the revocation answers.) The wait is this instance's
//!   interval, so every instance must run with the same `GATEHOUSE_CREDENTIAL_CACHE_MS`. Changes that do not take
//!   anything away (a new name, a new organization) reach other instances within the interval.
//!
//! Entries are keyed by the credential's SHA-256 digest (the raw token is never kept), hold only
//! successful resolutions (a bad credential is read every time and answered 401), and stop at the
//! credential's own expiry. `GATEHOUSE_CREDENTIAL_CACHE_MS=0` turns the cache off (and the wait).
//!
//! [`revoked`]: CredentialCache::revoked

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::WriteGeneration;
use crate::domain::access::Principal;

/// The most entries kept; past it, expired entries go, then (if still full) all of them.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct CredentialCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    generation: WriteGeneration,
    entries: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    principal: Principal,
    generation: u64,
    fresh_until: Instant,
}

/// Taken just before a lookup reads the database: what an entry made from it may rely on.
pub struct Ticket {
    generation: u64,
    started: Instant,
}

/// Which kind of credential a cache key names (a key and a session never share an entry).
#[derive(Clone, Copy)]
pub enum Kind {
    ApiKey,
    Session,
}

impl CredentialCache {
    pub fn new(ttl: Duration, generation: WriteGeneration) -> Self {
        CredentialCache { inner: Arc::new(Inner { ttl, generation, entries: Mutex::new(HashMap::new()) }) }
    }

    /// The cache key of a raw credential.
    pub fn key(kind: Kind, raw: &str) -> String {
        let tag = match kind {
            Kind::ApiKey => 'k',
            Kind::Session => 's',
        };
        let mut key = String::with_capacity(65);
        key.push(tag);
        key.push_str(&super::tokens::digest(raw));
        key
    }

    pub fn ticket(&self) -> Ticket {
        Ticket { generation: self.inner.generation.current(), started: Instant::now() }
    }

    /// The principal cached under `key`, when it is still good.
    pub fn get(&self, key: &str) -> Option<Principal> {
        if self.inner.ttl.is_zero() {
            return None;
        }
        let generation = self.inner.generation.current();
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        let good = entry.generation == generation
            && Instant::now() < entry.fresh_until
            && entry.principal.credential_expires_at.is_none_or(|e| e > crate::domain::now());
        if good {
            Some(entry.principal.clone())
        } else {
            entries.remove(key);
            None
        }
    }

    /// Keeps `principal`, resolved by a lookup that started at `ticket`, unless this process
    /// wrote anything since (the lookup may have read around it).
    pub fn put(&self, ticket: Ticket, key: String, principal: &Principal) {
        let fresh_until = ticket.started + self.inner.ttl;
        if self.inner.ttl.is_zero()
            || ticket.generation != self.inner.generation.current()
            || Instant::now() >= fresh_until
        {
            return;
        }
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            let now = Instant::now();
            entries.retain(|_, e| e.fresh_until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let mut principal = principal.clone();
        principal.client = Default::default();
        entries.insert(key, Entry { principal, generation: ticket.generation, fresh_until });
    }

    /// Called by every change that takes a credential away (revokes a session, deletes or
    /// narrows a key, deletes an account or an organization with its pinned keys) after it
    /// committed and before it answers: drops this instance's entries at once, then waits out
    /// the cache interval so that no other instance still holds an entry from before the change
    /// (see the module comment). The 1% and the millisecond cover clock-rate drift between hosts.
    pub async fn revoked(&self) {
        self.inner.generation.advance();
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
        if !self.inner.ttl.is_zero() {
            tokio::time::sleep(self.inner.ttl + self.inner.ttl / 100 + Duration::from_millis(1)).await;
        }
    }
}
