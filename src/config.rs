//! Typed configuration (OPERATIONS.md, "Configuration"). Values come from an optional
//! `gatehouse.toml` (keys are the variable names without the `GATEHOUSE_` prefix, lower-cased:
//! `addr`, `database_url`, `base_url`, ...; `GATEHOUSE_CONFIG` names another file) and from the
//! environment, which wins. A bad value stops start-up with one line naming the setting.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailTransport {
    /// One `.eml` file per message in this directory.
    File(PathBuf),
    /// SMTP through lettre; the URL as given (`smtp://user:pass@host:port`, `smtps://...`).
    Smtp(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimitStore {
    Memory,
    Database,
}

/// Requests allowed per window, per bucket (API.md 8 gives the defaults). Each is configurable as
/// `N/SECONDS`: `GATEHOUSE_RATE_LIMIT_SIGN_IN=5/60`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub global: (u64, Duration),
    pub sign_in: (u64, Duration),
    pub sign_up: (u64, Duration),
    pub two_factor: (u64, Duration),
    pub passkey: (u64, Duration),
    pub magic_link: (u64, Duration),
    pub email: (u64, Duration),
}

impl Default for RateLimits {
    fn default() -> Self {
        let secs = Duration::from_secs;
        RateLimits {
            global: (500, secs(15 * 60)),
            sign_in: (5, secs(60)),
            sign_up: (3, secs(60)),
            two_factor: (5, secs(60)),
            passkey: (10, secs(60)),
            magic_link: (5, secs(3600)),
            email: (3, secs(60)),
        }
    }
}

impl RateLimits {
    pub fn of(&self, bucket: crate::ratelimit::Bucket) -> (u64, Duration) {
        use crate::ratelimit::Bucket::*;
        match bucket {
            Global => self.global,
            SignIn => self.sign_in,
            SignUp => self.sign_up,
            TwoFactor => self.two_factor,
            Passkey => self.passkey,
            MagicLink => self.magic_link,
            Email => self.email,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub database_url: String,
    pub base_url: Url,
    /// Origins trusted for cookie-authenticated writes and CORS: the base URL's plus the extra ones.
    pub trusted_origins: Vec<String>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub mail: MailTransport,
    pub mail_from: String,
    pub rate_limit: bool,
    pub rate_limit_store: RateLimitStore,
    pub rate_limits: RateLimits,
    pub require_email_verification: bool,
    pub graphql_introspection: bool,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    /// `Secure` on the session cookie (and the `__Host-` name). Default: base URL is https.
    pub cookie_secure: bool,
    /// Argon2 hashes allowed to run at once (each holds 19 MiB). Default: cores - 1 (at least 1).
    pub hash_concurrency: usize,
    /// How long a request may take before it is answered 503 (default 30 s).
    pub request_timeout: Duration,
    /// How long a resolved credential may be reused without reading the database again
    /// (`auth::cache`); every revocation waits this long before it answers. Zero turns it off.
    pub credential_cache: Duration,
}

impl std::fmt::Debug for Config {
    /// Never prints credentials that may sit in the database or mail URLs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("database", &redact_url(&self.database_url))
            .field("base_url", &self.base_url.as_str())
            .field("rate_limit", &self.rate_limit)
            .field("rate_limit_store", &self.rate_limit_store)
            .finish_non_exhaustive()
    }
}

/// `scheme://host...` with any user and password removed, for logs.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split('@').next_back().unwrap_or("").to_string(),
    }
}

/// A configuration error: the setting and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

fn err(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError { setting: setting.to_string(), problem: problem.into() }
}

const KEYS: &[&str] = &[
    "GATEHOUSE_ADDR",
    "DATABASE_URL",
    "GATEHOUSE_BASE_URL",
    "GATEHOUSE_TRUSTED_ORIGINS",
    "GATEHOUSE_TRUSTED_PROXIES",
    "GATEHOUSE_MAIL_URL",
    "GATEHOUSE_MAIL_FROM",
    "GATEHOUSE_RATE_LIMIT",
    "GATEHOUSE_RATE_LIMIT_STORE",
    "GATEHOUSE_RATE_LIMIT_GLOBAL",
    "GATEHOUSE_RATE_LIMIT_SIGN_IN",
    "GATEHOUSE_RATE_LIMIT_SIGN_UP",
    "GATEHOUSE_RATE_LIMIT_TWO_FACTOR",
    "GATEHOUSE_RATE_LIMIT_PASSKEY",
    "GATEHOUSE_RATE_LIMIT_MAGIC_LINK",
    "GATEHOUSE_RATE_LIMIT_EMAIL",
    "GATEHOUSE_REQUEST_TIMEOUT_SECS",
    "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION",
    "GATEHOUSE_GRAPHQL_INTROSPECTION",
    "GATEHOUSE_DB_MAX_CONNECTIONS",
    "GATEHOUSE_LOG_FORMAT",
    "GATEHOUSE_COOKIE_SECURE",
    "GATEHOUSE_CREDENTIAL_CACHE_MS",
    "GATEHOUSE_HASH_CONCURRENCY",
];

fn file_key(var: &str) -> String {
    var.trim_start_matches("GATEHOUSE_").to_ascii_lowercase()
}

impl Config {
    /// Reads `gatehouse.toml` (if present) and the process environment.
    pub fn load() -> Result<Config, ConfigError> {
        let mut values = HashMap::new();
        let explicit = std::env::var("GATEHOUSE_CONFIG").ok();
        let path = explicit.clone().unwrap_or_else(|| "gatehouse.toml".to_string());
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let table: toml::Table = text.parse().map_err(|e| err(&path, format!("not valid TOML: {e}")))?;
                for var in KEYS {
                    if let Some(v) = table.get(&file_key(var)) {
                        let s = match v {
                            toml::Value::String(s) => s.clone(),
                            toml::Value::Array(items) => items
                                .iter()
                                .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                                .collect::<Vec<_>>()
                                .join(","),
                            other => other.to_string(),
                        };
                        values.insert(var.to_string(), s);
                    }
                }
                if let Some(unknown) = table.keys().find(|k| !KEYS.iter().any(|v| file_key(v) == **k)) {
                    return Err(err(&path, format!("unknown key `{unknown}`")));
                }
            }
            Err(e) if explicit.is_some() => return Err(err("GATEHOUSE_CONFIG", format!("cannot read {path}: {e}"))),
            Err(_) => {}
        }
        for var in KEYS {
            if let Ok(v) = std::env::var(var) {
                values.insert(var.to_string(), v);
            }
        }
        Self::from_values(&values)
    }

    /// Builds a configuration from variable names to raw values; missing ones take defaults.
    pub fn from_values(values: &HashMap<String, String>) -> Result<Config, ConfigError> {
        let get = |k: &str| values.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());

        let addr = get("GATEHOUSE_ADDR").unwrap_or_else(|| "127.0.0.1:3000".into());
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| err("GATEHOUSE_ADDR", format!("`{addr}` is not an address such as 127.0.0.1:3000")))?;

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/gatehouse.db?mode=rwc".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(err("DATABASE_URL", "must start with sqlite: or postgres://"));
        }

        let base = get("GATEHOUSE_BASE_URL").unwrap_or_else(|| "http://localhost:3000".into());
        let base_url =
            Url::parse(&base).map_err(|e| err("GATEHOUSE_BASE_URL", format!("`{base}` is not a URL: {e}")))?;
        if !matches!(base_url.scheme(), "http" | "https") || base_url.host().is_none() {
            return Err(err("GATEHOUSE_BASE_URL", "must be an http or https URL"));
        }

        let mut trusted_origins = vec![base_url.origin().ascii_serialization()];
        for o in
            get("GATEHOUSE_TRUSTED_ORIGINS").unwrap_or_default().split(',').map(str::trim).filter(|o| !o.is_empty())
        {
            let u = Url::parse(o).map_err(|_| {
                err("GATEHOUSE_TRUSTED_ORIGINS", format!("`{o}` is not an origin such as https://app.example.com"))
            })?;
            trusted_origins.push(u.origin().ascii_serialization());
        }

        let mut trusted_proxies = Vec::new();
        for p in
            get("GATEHOUSE_TRUSTED_PROXIES").unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty())
        {
            // A bare address means just that host.
            let net = p
                .parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| err("GATEHOUSE_TRUSTED_PROXIES", format!("`{p}` is not a CIDR such as 10.0.0.0/8")))?;
            trusted_proxies.push(net);
        }

        let mail_url = get("GATEHOUSE_MAIL_URL").unwrap_or_else(|| "file://data/outbox".into());
        let mail = if let Some(dir) = mail_url.strip_prefix("file://") {
            if dir.is_empty() {
                return Err(err("GATEHOUSE_MAIL_URL", "file:// needs a directory"));
            }
            MailTransport::File(PathBuf::from(dir))
        } else if mail_url.starts_with("smtp://") || mail_url.starts_with("smtps://") {
            Url::parse(&mail_url).map_err(|_| err("GATEHOUSE_MAIL_URL", "not a valid smtp:// URL"))?;
            MailTransport::Smtp(mail_url)
        } else {
            return Err(err("GATEHOUSE_MAIL_URL", "must be file://DIR, smtp://... or smtps://..."));
        };

        let mail_from = get("GATEHOUSE_MAIL_FROM").unwrap_or_else(|| "Gatehouse <no-reply@localhost>".into());
        mail_from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| err("GATEHOUSE_MAIL_FROM", format!("`{mail_from}` is not a mailbox: {e}")))?;

        let rate_limit = flag(get("GATEHOUSE_RATE_LIMIT"), true, "GATEHOUSE_RATE_LIMIT")?;
        let rate_limit_store = match get("GATEHOUSE_RATE_LIMIT_STORE").as_deref() {
            None | Some("memory") => RateLimitStore::Memory,
            Some("database") => RateLimitStore::Database,
            Some(o) => return Err(err("GATEHOUSE_RATE_LIMIT_STORE", format!("`{o}` is not memory or database"))),
        };
        let mut rate_limits = RateLimits::default();
        for (var, slot) in [
            ("GATEHOUSE_RATE_LIMIT_GLOBAL", &mut rate_limits.global),
            ("GATEHOUSE_RATE_LIMIT_SIGN_IN", &mut rate_limits.sign_in),
            ("GATEHOUSE_RATE_LIMIT_SIGN_UP", &mut rate_limits.sign_up),
            ("GATEHOUSE_RATE_LIMIT_TWO_FACTOR", &mut rate_limits.two_factor),
            ("GATEHOUSE_RATE_LIMIT_PASSKEY", &mut rate_limits.passkey),
            ("GATEHOUSE_RATE_LIMIT_MAGIC_LINK", &mut rate_limits.magic_link),
            ("GATEHOUSE_RATE_LIMIT_EMAIL", &mut rate_limits.email),
        ] {
            if let Some(v) = get(var) {
                let parsed = v
                    .split_once('/')
                    .and_then(|(n, s)| Some((n.trim().parse::<u64>().ok()?, s.trim().parse::<u64>().ok()?)));
                match parsed {
                    Some((n, secs)) if n > 0 && secs > 0 => *slot = (n, Duration::from_secs(secs)),
                    _ => return Err(err(var, format!("`{v}` is not REQUESTS/SECONDS such as 5/60"))),
                }
            }
        }
        let request_timeout = match get("GATEHOUSE_REQUEST_TIMEOUT_SECS") {
            None => Duration::from_secs(30),
            Some(v) => {
                Duration::from_secs(v.parse::<u64>().ok().filter(|n| (1..=3600).contains(n)).ok_or_else(|| {
                    err("GATEHOUSE_REQUEST_TIMEOUT_SECS", format!("`{v}` is not a number of seconds from 1 to 3600"))
                })?)
            }
        };
        let require_email_verification =
            flag(get("GATEHOUSE_REQUIRE_EMAIL_VERIFICATION"), false, "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION")?;
        let graphql_introspection =
            flag(get("GATEHOUSE_GRAPHQL_INTROSPECTION"), true, "GATEHOUSE_GRAPHQL_INTROSPECTION")?;

        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let db_max_connections =
            match get("GATEHOUSE_DB_MAX_CONNECTIONS") {
                None => (cores * 4).clamp(8, 32) as u32,
                Some(v) => v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).ok_or_else(|| {
                    err("GATEHOUSE_DB_MAX_CONNECTIONS", format!("`{v}` is not a number from 1 to 1000"))
                })?,
            };
        let hash_concurrency = match get("GATEHOUSE_HASH_CONCURRENCY") {
            // One core is kept for everything else, so a sign-in flood cannot starve the API.
            None => cores.saturating_sub(1).max(1),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=256).contains(n))
                .ok_or_else(|| err("GATEHOUSE_HASH_CONCURRENCY", format!("`{v}` is not a number from 1 to 256")))?,
        };
        let log_format = match get("GATEHOUSE_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(o) => return Err(err("GATEHOUSE_LOG_FORMAT", format!("`{o}` is not text or json"))),
        };
        let cookie_secure =
            flag(get("GATEHOUSE_COOKIE_SECURE"), base_url.scheme() == "https", "GATEHOUSE_COOKIE_SECURE")?;
        let credential_cache = Duration::from_millis(match get("GATEHOUSE_CREDENTIAL_CACHE_MS") {
            None => 100,
            Some(v) => v.parse::<u64>().ok().filter(|n| *n <= 5_000).ok_or_else(|| {
                err("GATEHOUSE_CREDENTIAL_CACHE_MS", format!("`{v}` is not a number of milliseconds from 0 to 5000"))
            })?,
        });

        Ok(Config {
            addr,
            database_url,
            base_url,
            trusted_origins,
            trusted_proxies,
            mail,
            mail_from,
            rate_limit,
            rate_limit_store,
            rate_limits,
            request_timeout,
            require_email_verification,
            graphql_introspection,
            db_max_connections,
            log_format,
            cookie_secure,
            hash_concurrency,
            credential_cache,
        })
    }

    /// The base URL without a trailing slash, for building links.
    pub fn base(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    pub fn is_https(&self) -> bool {
        self.base_url.scheme() == "https"
    }
}

fn flag(value: Option<String>, default: bool, setting: &str) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(o) => Err(err(setting, format!("`{o}` is not on/off (or true/false)"))),
    }
}
