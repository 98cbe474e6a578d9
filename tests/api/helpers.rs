//! The test harness: a real Gatehouse on port 0 with a fresh database (SQLite file, or a new
//! PostgreSQL database when `TEST_DATABASE_URL` is set), a file outbox, and HTTP clients that
//! keep cookies like a browser or a `curl -c/-b` cookie jar.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse::app::App;
use gatehouse::config::Config;
use gatehouse::state::AppState;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates, for each `async fn name(app: TestApp)`, a test on SQLite and one on PostgreSQL
/// (the PostgreSQL one passes trivially, saying so, when `TEST_DATABASE_URL` is not set).
#[macro_export]
macro_rules! db_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::helpers::TestApp::try_spawn_postgres(Default::default()).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub outbox: PathBuf,
    pub backend: Backend,
    pub state: AppState,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn init_logging() {
    if std::env::var("TEST_LOG").is_ok() {
        gatehouse::telemetry::init(gatehouse::config::LogFormat::Text);
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        match backend {
            Backend::Sqlite => Self::spawn_with(backend, None, HashMap::new()).await,
            Backend::Postgres => Self::try_spawn_postgres(HashMap::new()).await.expect("TEST_DATABASE_URL is not set"),
        }
    }

    /// A server on a new PostgreSQL database, or `None` when `TEST_DATABASE_URL` is unset.
    pub async fn try_spawn_postgres(settings: HashMap<String, String>) -> Option<TestApp> {
        let admin = std::env::var("TEST_DATABASE_URL").ok()?;
        let url = fresh_postgres_database(&admin).await;
        Some(Self::spawn_with(Backend::Postgres, Some(url), settings).await)
    }

    /// A server with extra configuration values (variable name to value).
    pub async fn spawn_with(
        backend: Backend,
        database_url: Option<String>,
        settings: HashMap<String, String>,
    ) -> TestApp {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = dir.path().join("outbox");
        let database_url =
            database_url.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("gatehouse.db").display()));
        let mut values: HashMap<String, String> = HashMap::from([
            ("GATEHOUSE_ADDR".into(), "127.0.0.1:0".into()),
            ("DATABASE_URL".into(), database_url.clone()),
            ("GATEHOUSE_MAIL_URL".into(), format!("file://{}", outbox.display())),
            ("GATEHOUSE_RATE_LIMIT".into(), "off".into()),
            ("GATEHOUSE_DB_MAX_CONNECTIONS".into(), "8".into()),
        ]);
        values.extend(settings);
        let config = Config::from_values(&values).expect("test configuration");
        let app = App::build(config).await.expect("app builds");
        let base = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let shutdown = app.shutdown_token();
        tokio::spawn(app.run());
        TestApp { base, database_url, outbox, backend, state, shutdown, _dir: dir }
    }

    /// Another instance of the service on this one's database (scaling out: two replicas behind
    /// a load balancer). It must not outlive `self`, whose directory may hold the SQLite file.
    pub async fn another_instance(&self) -> TestApp {
        Self::spawn_with(self.backend, Some(self.database_url.clone()), HashMap::new()).await
    }

    /// A new caller with its own cookie jar.
    pub fn client(&self) -> Api {
        Api::new(&self.base, HeaderMap::new(), true)
    }

    /// A caller that sends `X-Api-Key: key` and keeps no cookies.
    pub fn with_key(&self, key: &str) -> Api {
        self.with_header("x-api-key", key)
    }

    /// A caller that sends one header and keeps no cookies.
    pub fn with_header(&self, name: &str, value: &str) -> Api {
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        Api::new(&self.base, h, false)
    }

    /// Signs up a new account (asserting 201) and returns the response data.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Value {
        let r = self
            .client()
            .post("/api/auth/sign-up/email", json!({ "email": email, "password": password, "name": name }))
            .await;
        r.assert(201, "OK");
        r.body["data"].clone()
    }

    /// Signs up and signs in a user; returns its cookie-keeping client and its default org id.
    pub async fn user(&self, email: &str) -> (Api, String) {
        let data = self.sign_up(email, PASSWORD, "Test User").await;
        let client = self.client();
        client.sign_in(email, PASSWORD).await.assert(200, "OK");
        (client, data["organization"]["id"].as_str().unwrap().to_string())
    }

    /// Brings `email` into `org` with `role` the way a person would: the owner (`inviter`)
    /// invites, the invitee signs up, reads the link in the `.eml`, signs in and accepts.
    /// Returns the invitee's client and membership id.
    pub async fn join(&self, inviter: &Api, org: &str, email: &str, role: &str) -> (Api, String) {
        let r = inviter
            .post(&format!("/api/user/organizations/{org}/invites"), json!({ "emails": [email], "role": role }))
            .await;
        r.assert(201, "OK");
        let mail = self.email_to(email, "/invites/").await;
        let token = token_from(&mail, "/invites/");
        let (client, _) = self.user(email).await;
        let r = client.post(&format!("/api/user/invites/{token}/accept"), json!({})).await;
        r.assert(200, "OK");
        (client, r.id())
    }

    /// Waits for an email to `to` in the outbox that contains `needle`, returns its text.
    pub async fn email_to(&self, to: &str, needle: &str) -> String {
        for _ in 0..100 {
            if let Some(text) =
                self.emails().into_iter().find(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
            {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no email to {to} containing {needle:?} in {}", self.outbox.display());
    }

    /// Every `.eml` file in the outbox.
    pub fn emails(&self) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<_> = dir
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
    }

    /// Runs one SQL query against the app's database and returns the first column of each row.
    pub async fn sql_strings(&self, sql: &str) -> Vec<Option<String>> {
        let conn = &self.state.db.conn;
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_string(conn.get_database_backend(), sql.to_string()))
            .await
            .expect("query");
        rows.iter().map(|r| r.try_get_by_index::<Option<String>>(0).ok().flatten()).collect()
    }

    pub async fn sql_count(&self, sql: &str) -> i64 {
        let conn = &self.state.db.conn;
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(conn.get_database_backend(), sql.to_string()))
            .await
            .expect("query")
            .expect("one row");
        row.try_get_by_index::<i64>(0).expect("count")
    }

    pub async fn sql_exec(&self, sql: &str) {
        let conn = &self.state.db.conn;
        conn.execute_unprepared(sql).await.expect("exec");
    }
}

pub const PASSWORD: &str = "a-long-secure-passphrase";

/// The token of the first link in an email that contains `marker` (such as `verify-email?token=`).
pub fn token_from(email: &str, marker: &str) -> String {
    let start = email.find(marker).unwrap_or_else(|| panic!("no {marker} in email:\n{email}")) + marker.len();
    email[start..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect()
}

/// Creates a uniquely named database on the PostgreSQL server of `admin_url` and returns its URL.
pub async fn fresh_postgres_database(admin_url: &str) -> String {
    let name = format!("gh_test_{}", ulid::Ulid::new().to_string().to_lowercase());
    let admin = Database::connect(admin_url).await.expect("connect to TEST_DATABASE_URL");
    admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(admin_url).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// An HTTP caller: a base URL, default headers, and (optionally) a cookie jar.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// `data.id` as a string.
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["data"]["id"].as_str().unwrap_or_else(|| panic!("no data.id in {}", self.text)).to_string()
    }

    /// Asserts status and code, and that the envelope is consistent; shows the body on failure.
    #[track_caller]
    pub fn assert(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "status; body: {}", self.text);
        assert_eq!(self.code(), code, "code; body: {}", self.text);
        assert_eq!(self.body["status"], json!(status), "envelope status; body: {}", self.text);
        assert_eq!(self.body["success"], json!(status < 400), "envelope success; body: {}", self.text);
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).map(str::to_string).collect()
    }

    /// The `extensions.code` of each GraphQL error.
    pub fn gql_codes(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    }

    /// Asserts a GraphQL answer has no errors and returns its `data`.
    #[track_caller]
    pub fn gql_data(&self) -> &Value {
        assert_eq!(self.status, 200, "{}", self.text);
        assert!(self.body.get("errors").is_none(), "unexpected errors: {}", self.text);
        &self.body["data"]
    }

    /// Asserts a GraphQL answer failed with one error of this code (and the REST status).
    #[track_caller]
    pub fn gql_error(&self, code: &str, status: u16) -> &Value {
        assert_eq!(self.gql_codes(), vec![code.to_string()], "{}", self.text);
        assert_eq!(self.body["errors"][0]["extensions"]["status"], json!(status), "{}", self.text);
        &self.body["errors"][0]
    }

    /// The names of the fields listed in a `VALIDATION_ERROR`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["meta"]["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_string()).collect())
            .unwrap_or_default()
    }
}

impl Api {
    fn new(base: &str, headers: HeaderMap, cookies: bool) -> Api {
        let http = reqwest::Client::builder()
            .cookie_store(cookies)
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Api { http, base: base.to_string() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, headers, body, text }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(self.http.put(self.url(path)).json(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.http.delete(self.url(path))).await
    }

    /// A request builder for anything unusual (raw bodies, extra headers).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// `POST /graphql` with a query and variables.
    pub async fn gql(&self, query: &str, variables: Value) -> Resp {
        self.post("/graphql", json!({ "query": query, "variables": variables })).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Resp {
        self.post("/api/auth/sign-in/email", json!({ "email": email, "password": password })).await
    }

    /// Creates a PAT with these scopes (and an optional pin); returns `(key, id)`.
    pub async fn create_key(&self, scopes: &[&str], pin: Option<&str>) -> (String, String) {
        let mut body = json!({ "name": "test key", "scopes": scopes });
        if let Some(org) = pin {
            body["metadata"] = json!({ "organizationId": org });
        }
        let r = self.post("/api/auth/api-key/create", body).await;
        r.assert(200, "OK");
        (r.data()["key"].as_str().unwrap().to_string(), r.data()["id"].as_str().unwrap().to_string())
    }
}
