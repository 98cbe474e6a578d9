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
//! The tenant checks of a cached credential ride along (`Standing`): an organization's membership
//! read for the principal of an entry is reused under the same two rules (this instance's write
//! generation from before the read; at most the entry's interval, counted from before the
//! credential's own read). Removing a member and changing a role call [`revoked`] too, so a
//! member removed or demoted on one instance is refused on the next request to any instance.
//! Only reads outside a transaction use it (`access::tenant_for_read`); a change reads the
//! membership again (`access::tenant`).
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
use crate::domain::access::{Principal, Tenant};

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
    /// wrote anything since (the lookup may have read around it). The kept entry and `principal`
    /// share one [`Standing`], so the tenant checks of this request already fill it.
    pub fn put(&self, ticket: Ticket, key: String, principal: &mut Principal) {
        let fresh_until = ticket.started + self.inner.ttl;
        if self.inner.ttl.is_zero()
            || ticket.generation != self.inner.generation.current()
            || Instant::now() >= fresh_until
        {
            return;
        }
        principal.standing = Standing(Some(Arc::new(StandingInner {
            generation: self.inner.generation.clone(),
            fresh_until,
            tenants: Mutex::new(Vec::new()),
        })));
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
    /// narrows a key, deletes an account or an organization with its pinned keys, removes a
    /// member or changes a role) after it
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

/// The most organizations one cached credential remembers its standing in.
const MAX_TENANTS: usize = 32;

/// The tenant checks made for one cached credential (see the module comment): shared by its
/// cache entry and every principal served from it. Empty (and never filled) for a principal
/// that was not cached.
#[derive(Clone, Default)]
pub struct Standing(Option<Arc<StandingInner>>);

struct StandingInner {
    generation: WriteGeneration,
    /// The credential entry's own limit.
    fresh_until: Instant,
    /// (write generation before the membership read, the checked standing)
    tenants: Mutex<Vec<(u64, Tenant)>>,
}

impl std::fmt::Debug for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Standing(cached)" } else { "Standing(none)" })
    }
}

impl Standing {
    /// The standing in `org_id` checked earlier, when it is still good.
    pub fn get(&self, org_id: &str) -> Option<Tenant> {
        let inner = self.0.as_ref()?;
        if Instant::now() >= inner.fresh_until {
            return None;
        }
        let generation = inner.generation.current();
        let tenants = inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.iter().find(|(g, t)| *g == generation && t.org_id() == org_id).map(|(_, t)| t.clone())
    }

    /// Taken just before the membership read: the write generation it may rely on.
    pub fn ticket(&self) -> Option<u64> {
        self.0.as_ref().map(|inner| inner.generation.current())
    }

    /// Keeps `tenant`, read after `ticket`, unless this process wrote anything since.
    pub fn put(&self, ticket: Option<u64>, tenant: &Tenant) {
        let (Some(inner), Some(generation)) = (self.0.as_ref(), ticket) else {
            return;
        };
        if generation != inner.generation.current() || Instant::now() >= inner.fresh_until {
            return;
        }
        let mut tenants = inner.tenants.lock().unwrap_or_else(|e| e.into_inner());
        tenants.retain(|(g, t)| *g == generation && t.org_id() != tenant.org_id());
        if tenants.len() < MAX_TENANTS {
            tenants.push((generation, tenant.clone()));
        }
    }
}
