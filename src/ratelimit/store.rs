//! The two counter stores behind one interface: `hit(key, window, n)` adds `n` to the key's
//! current window (opening a new one when the last has ended) and answers the count and the time
//! left in the window.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Value};

use crate::db::Db;

#[derive(Clone)]
pub enum Store {
    Memory(Arc<Mutex<HashMap<String, (u64, Instant)>>>),
    Database(Db),
}

impl Store {
    pub fn memory() -> Store {
        Store::Memory(Arc::new(Mutex::new(HashMap::new())))
    }

    pub fn database(db: Db) -> Store {
        Store::Database(db)
    }

    pub async fn hit(&self, key: &str, window: Duration, n: u64) -> Result<(u64, Duration), String> {
        match self {
            Store::Memory(map) => {
                let now = Instant::now();
                let mut map = map.lock().map_err(|_| "rate-limit map poisoned".to_string())?;
                let entry = map.entry(key.to_string()).or_insert((0, now + window));
                if entry.1 <= now {
                    *entry = (0, now + window);
                }
                entry.0 += n;
                Ok((entry.0, entry.1.saturating_duration_since(now)))
            }
            Store::Database(db) => {
                let now_ms = chrono::Utc::now().timestamp_millis();
                let reset_ms = now_ms + window.as_millis() as i64;
                let backend = db.backend();
                // One atomic upsert: a new window when the stored one has ended, else one more hit.
                let sql = "INSERT INTO rate_limits (key, count, reset_at_ms) VALUES ($1, $2, $3) \
                    ON CONFLICT (key) DO UPDATE SET \
                    count = CASE WHEN rate_limits.reset_at_ms <= $4 THEN excluded.count ELSE rate_limits.count + excluded.count END, \
                    reset_at_ms = CASE WHEN rate_limits.reset_at_ms <= $4 THEN excluded.reset_at_ms ELSE rate_limits.reset_at_ms END \
                    RETURNING count, reset_at_ms";
                let values: Vec<Value> = vec![key.into(), (n as i64).into(), reset_ms.into(), now_ms.into()];
                let row = db
                    .bookkeeping()
                    .query_one_raw(crate::db::statement(backend, sql, values))
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or("the upsert returned no row")?;
                let count: i64 = row.try_get_by_index(0).map_err(|e| e.to_string())?;
                let reset_at: i64 = row.try_get_by_index(1).map_err(|e| e.to_string())?;
                Ok((count.max(0) as u64, Duration::from_millis((reset_at - now_ms).max(0) as u64)))
            }
        }
    }

    /// Drops windows that have ended.
    pub async fn cleanup(&self) -> Result<(), String> {
        match self {
            Store::Memory(map) => {
                let now = Instant::now();
                map.lock().map_err(|_| "rate-limit map poisoned".to_string())?.retain(|_, (_, reset)| *reset > now);
                Ok(())
            }
            Store::Database(db) => {
                let now_ms = chrono::Utc::now().timestamp_millis();
                let stmt = crate::db::statement(
                    db.backend(),
                    "DELETE FROM rate_limits WHERE reset_at_ms <= $1",
                    vec![now_ms.into()],
                );
                db.bookkeeping().execute_raw(stmt).await.map_err(|e| e.to_string())?;
                Ok(())
            }
        }
    }
}
