//! Reads on SQLite without a thread hop.
//!
//! sqlx runs each SQLite connection on a thread of its own and ferries every command and every
//! row across channels, so each statement costs several futex wake-ups and context switches. On
//! the 2-core benchmark machine that was most of the CPU an authenticated request used
//! (bench/README.md, "Where the time went"). In WAL mode a read never waits for a writer and an
//! indexed read takes microseconds, so [`super::Conn`] runs read-only statements that are not part
//! of a transaction right here, on the calling task's thread, through a small pool of rusqlite
//! connections to the same file. Writes, and every statement of a transaction, still go through
//! the sqlx pool; a statement SQLite does not call read-only is handed back to it.
//!
//! Values cross as sea-query [`Value`]s in a sea-orm [`ProxyRow`], so entities and
//! `FromQueryResult` types decode exactly as they do from sqlx:
//! - parameters are bound the way sqlx binds them (booleans as 0/1, timestamps as RFC 3339 text
//!   with `SecondsFormat::AutoSi`), so a comparison with a stored value means the same on both
//!   paths;
//! - a result column takes its type from the column's declared type: `boolean` -> bool,
//!   `timestamp...` -> `DateTime<Utc>`, integers -> i64, reals -> f64, the rest text or bytes. An
//!   expression has no declared type and keeps SQLite's storage class. Hence the convention that
//!   integer fields of entities are `i64`, never `i32`.
//!
//! A result's column names are made once and shared by its rows (`ProxyRow::from_columns`, which
//! the vendored sea-orm adds: vendor/sea-orm/PATCHED.md); values keep the statement's column
//! order, so a row reads by name or by index as it does from sqlx.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use rusqlite::config::DbConfig;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sea_orm::{DbErr, ProxyRow, QueryResult, RuntimeErr, Statement, Value};

/// Idle connections kept for reuse; more may exist while that many reads run at once.
const IDLE: usize = 16;
/// Prepared statements cached per connection (the application has a few dozen distinct ones).
const STATEMENT_CACHE: usize = 256;

pub struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// The pool's statement counter (every statement counts, wherever it ran).
    statements: Arc<AtomicU64>,
    /// Statements run here.
    inline: AtomicU64,
}

impl SqliteReader {
    /// A reader for the file database of `url` (`sqlite://path?...`); `None` for an in-memory
    /// database, whose contents other connections cannot see.
    pub fn for_url(url: &str, statements: Arc<AtomicU64>) -> Option<SqliteReader> {
        let path = super::sqlite_path(url)?;
        Some(SqliteReader { path: path.into(), idle: Mutex::new(Vec::new()), statements, inline: AtomicU64::new(0) })
    }

    /// How many statements ran inline.
    pub fn inline_count(&self) -> u64 {
        self.inline.load(Ordering::Relaxed)
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        // Belt and braces: this connection refuses to change the database even if a writing
        // statement reached it.
        conn.pragma_update(None, "query_only", true)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // The query planner stability guarantee: a plan does not depend on bound values. Without
        // it a parameter that could sway the plan (a bound LIMIT, a LIKE pattern, a partial index
        // test) marks the statement expired at every bind, and SQLite parses and plans it again
        // on every run: a fifth of the CPU of a project list before this line.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    /// Runs `stmt` if it is read-only: `Ok(None)` hands it back for the sqlx pool (a write, or a
    /// parameter of a type this path does not bind). `first_only` stops after one row.
    pub fn query(&self, stmt: &Statement, first_only: bool) -> Result<Option<Vec<QueryResult>>, DbErr> {
        let conn = match self.idle.lock().map(|mut idle| idle.pop()) {
            Ok(Some(conn)) => conn,
            _ => self.open().map_err(db_err)?,
        };
        let result = run(&conn, stmt, first_only);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE {
                idle.push(conn);
            }
        }
        let result = result.map_err(db_err)?;
        if result.is_some() {
            self.statements.fetch_add(1, Ordering::Relaxed);
            self.inline.fetch_add(1, Ordering::Relaxed);
        }
        Ok(result)
    }
}

fn db_err(e: rusqlite::Error) -> DbErr {
    DbErr::Query(RuntimeErr::Internal(format!("sqlite: {e}")))
}

/// The Rust-side type a column decodes to, from its declared SQL type.
#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Timestamp,
    Integer,
    Real,
    Text,
    Blob,
    /// An expression: keep SQLite's storage class.
    Any,
}

fn kind(declared: Option<&str>) -> Kind {
    let Some(d) = declared else {
        return Kind::Any;
    };
    // Case-insensitive `contains` without allocating: this runs for every column of every read.
    let has = |word: &str| d.as_bytes().windows(word.len()).any(|w| w.eq_ignore_ascii_case(word.as_bytes()));
    if has("bool") {
        Kind::Bool
    } else if has("timestamp") || has("datetime") {
        Kind::Timestamp
    } else if has("int") {
        Kind::Integer
    } else if has("real") || has("floa") || has("doub") {
        Kind::Real
    } else if has("blob") {
        Kind::Blob
    } else {
        Kind::Text
    }
}

fn run(conn: &Connection, stmt: &Statement, first_only: bool) -> rusqlite::Result<Option<Vec<QueryResult>>> {
    tracing::trace!(target: "gatehouse::sql", sql = %stmt.sql, "inline read");
    let mut st = conn.prepare_cached(&stmt.sql)?;
    if !st.readonly() {
        return Ok(None);
    }
    if let Some(values) = &stmt.values {
        for (i, v) in values.0.iter().enumerate() {
            if !bind(&mut st, i + 1, v)? {
                return Ok(None);
            }
        }
    }
    let names: Arc<[String]> = st.column_names().into_iter().map(str::to_string).collect();
    let kinds: Vec<Kind> = st.columns().iter().map(|c| kind(c.decl_type())).collect();
    let mut out = Vec::new();
    let mut rows = st.raw_query();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(kinds.len());
        for (i, kind) in kinds.iter().enumerate() {
            values.push(value(row.get_ref(i)?, *kind, i)?);
        }
        out.push(QueryResult::from(ProxyRow::from_columns(names.clone(), values)));
        if first_only {
            break;
        }
    }
    Ok(Some(out))
}

/// Binds `v` as sqlx would; `false` for a type this path does not handle.
fn bind(st: &mut rusqlite::CachedStatement<'_>, i: usize, v: &Value) -> rusqlite::Result<bool> {
    use rusqlite::types::Null;
    fn opt<T: rusqlite::ToSql>(st: &mut rusqlite::CachedStatement<'_>, i: usize, v: Option<T>) -> rusqlite::Result<()> {
        match v {
            Some(v) => st.raw_bind_parameter(i, v),
            None => st.raw_bind_parameter(i, Null),
        }
    }
    let ts = |d: &DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::AutoSi, false);
    match v {
        Value::Bool(b) => opt(st, i, b.map(i64::from))?,
        Value::TinyInt(n) => opt(st, i, n.map(i64::from))?,
        Value::SmallInt(n) => opt(st, i, n.map(i64::from))?,
        Value::Int(n) => opt(st, i, n.map(i64::from))?,
        Value::BigInt(n) => opt(st, i, *n)?,
        Value::TinyUnsigned(n) => opt(st, i, n.map(i64::from))?,
        Value::SmallUnsigned(n) => opt(st, i, n.map(i64::from))?,
        Value::Unsigned(n) => opt(st, i, n.map(i64::from))?,
        Value::BigUnsigned(n) => match n.map(i64::try_from) {
            Some(Err(_)) => return Ok(false),
            other => opt(st, i, other.map(Result::unwrap_or_default))?,
        },
        Value::Float(f) => opt(st, i, f.map(f64::from))?,
        Value::Double(f) => opt(st, i, *f)?,
        Value::String(s) => opt(st, i, s.as_deref())?,
        Value::Char(c) => opt(st, i, c.map(String::from))?,
        Value::Bytes(b) => opt(st, i, b.as_deref())?,
        Value::Json(j) => opt(st, i, j.as_ref().map(|j| j.to_string()))?,
        Value::ChronoDateTimeUtc(d) => opt(st, i, d.as_ref().map(ts))?,
        Value::ChronoDateTimeWithTimeZone(d) => {
            opt(st, i, d.as_ref().map(|d| d.to_rfc3339_opts(SecondsFormat::AutoSi, false)))?
        }
        Value::ChronoDateTime(d) => opt(st, i, d.map(|d| d.format("%F %T%.f").to_string()))?,
        Value::ChronoDate(d) => opt(st, i, d.map(|d| d.format("%F").to_string()))?,
        Value::ChronoTime(d) => opt(st, i, d.map(|d| d.format("%T%.f").to_string()))?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn value(v: ValueRef<'_>, kind: Kind, column: usize) -> rusqlite::Result<Value> {
    let bad = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            v.data_type(),
            format!("cannot read {what} from this column").into(),
        )
    };
    Ok(match (v, kind) {
        (ValueRef::Null, Kind::Bool) => Value::Bool(None),
        (ValueRef::Null, Kind::Timestamp) => Value::ChronoDateTimeUtc(None),
        (ValueRef::Null, Kind::Integer) => Value::BigInt(None),
        (ValueRef::Null, Kind::Real) => Value::Double(None),
        (ValueRef::Null, Kind::Blob) => Value::Bytes(None),
        (ValueRef::Null, Kind::Text | Kind::Any) => Value::String(None),
        (ValueRef::Integer(n), Kind::Bool) => Value::Bool(Some(n != 0)),
        (ValueRef::Integer(n), Kind::Timestamp) => {
            Value::ChronoDateTimeUtc(Some(DateTime::from_timestamp(n, 0).ok_or_else(|| bad("a timestamp"))?))
        }
        (ValueRef::Integer(n), Kind::Real) => Value::Double(Some(n as f64)),
        (ValueRef::Integer(n), Kind::Text) => Value::String(Some(n.to_string())),
        (ValueRef::Integer(n), _) => Value::BigInt(Some(n)),
        (ValueRef::Real(f), Kind::Text) => Value::String(Some(f.to_string())),
        (ValueRef::Real(f), _) => Value::Double(Some(f)),
        (ValueRef::Text(t), Kind::Timestamp) => {
            let t = std::str::from_utf8(t).map_err(|_| bad("text"))?;
            Value::ChronoDateTimeUtc(Some(parse_timestamp(t).ok_or_else(|| bad("a timestamp"))?))
        }
        (ValueRef::Text(t), Kind::Bool) => Value::Bool(Some(matches!(t, b"1" | b"true" | b"TRUE"))),
        (ValueRef::Text(t), Kind::Blob) => Value::Bytes(Some(t.to_vec())),
        (ValueRef::Text(t), _) => Value::String(Some(String::from_utf8(t.to_vec()).map_err(|_| bad("UTF-8 text"))?)),
        (ValueRef::Blob(b), Kind::Text) if std::str::from_utf8(b).is_ok() => {
            Value::String(Some(String::from_utf8_lossy(b).into_owned()))
        }
        (ValueRef::Blob(b), _) => Value::Bytes(Some(b.to_vec())),
    })
}

/// Timestamps as sqlx writes them (RFC 3339), or in SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC).
fn parse_timestamp(t: &str) -> Option<DateTime<Utc>> {
    if let Some(d) = parse_utc_rfc3339(t.as_bytes()) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    ["%F %T%.f", "%FT%T%.f", "%F %T", "%FT%T"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
        .map(|n| n.and_utc())
}

/// The one form every stored timestamp takes, `YYYY-MM-DDTHH:MM:SS[.f{1,9}]+00:00` (or `Z`),
/// read by hand: chrono's general RFC 3339 parser was a few percent of a project list's CPU
/// (two or four timestamps a row). Anything else is `None` and goes to chrono.
fn parse_utc_rfc3339(b: &[u8]) -> Option<DateTime<Utc>> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    }
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let rest = &b[19..];
    let (nanos, zone) = match rest.first() {
        Some(b'.') => {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=9).contains(&digits) {
                return None;
            }
            (num(&rest[1..1 + digits])? * 10u32.pow(9 - digits as u32), &rest[1 + digits..])
        }
        _ => (0, rest),
    };
    if zone != b"Z" && zone != b"+00:00" {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(num(&b[..4])? as i32, num(&b[5..7])?, num(&b[8..10])?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?, nanos)?;
    Some(date.and_time(time).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_in_sqlx_format() {
        let d = DateTime::parse_from_rfc3339("2026-11-28T00:26:12.919+00:00").unwrap().with_timezone(&Utc);
        assert_eq!(parse_timestamp(&d.to_rfc3339_opts(SecondsFormat::AutoSi, false)), Some(d));
        assert_eq!(parse_timestamp("2026-11-28 00:26:12"), Some(d - chrono::TimeDelta::milliseconds(919)));
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn the_stored_form_reads_as_chrono_reads_it() {
        for t in [
            "2026-11-28T19:17:12.887+00:00",
            "2026-11-28T19:17:12+00:00",
            "2026-11-28T19:17:12Z",
            "2026-02-28T23:59:59.123456789Z",
            "1970-01-01T00:00:00.5+00:00",
            "2024-02-29T12:00:00.000001+00:00",
        ] {
            let chrono = DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
            assert_eq!(parse_utc_rfc3339(t.as_bytes()), Some(chrono), "{t}");
        }
        // Not the stored form (other offsets, bad fields): left to chrono, or rejected.
        for t in [
            "2026-11-28T19:17:12.887+02:00",
            "2026-11-28 19:17:12",
            "2026-13-28T19:17:12Z",
            "2026-02-30T19:17:12Z",
            "2026-11-28T25:17:12Z",
            "2026-11-28T19:17:12.Z",
            "2026-11-28T19:17:12.1234567890Z",
            "2026-11-2xT19:17:12Z",
            "+026-11-28T19:17:12Z",
        ] {
            assert_eq!(parse_utc_rfc3339(t.as_bytes()), None, "{t}");
        }
        assert_eq!(parse_timestamp("2026-11-28T21:17:12+02:00"), parse_timestamp("2026-11-28T19:17:12Z"));
    }

    #[test]
    fn declared_types_pick_the_rust_type() {
        assert!(matches!(kind(Some("timestamp_with_timezone_text")), Kind::Timestamp));
        assert!(matches!(kind(Some("boolean")), Kind::Bool));
        assert!(matches!(kind(Some("integer")), Kind::Integer));
        assert!(matches!(kind(Some("varchar(32)")), Kind::Text));
        assert!(matches!(kind(Some("BIGINT")), Kind::Integer));
        assert!(matches!(kind(None), Kind::Any));
    }
}
