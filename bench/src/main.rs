//! Gatehouse benchmarks (bench/README.md): starts the release binary with rate limits off on
//! SQLite (and PostgreSQL with `--postgres URL`), seeds 1,000 users, 1,000 organizations, 20,000
//! projects and 5,000 keys, drives each scenario with N keep-alive connections for a fixed time,
//! and prints requests/s, p50/p99 latency, peak RSS and the ratio to `/healthz`, then checks the
//! performance budget. Exit code 0 whether or not a budget is missed (the report says).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use gatehouse::auth::password::Hasher;
use gatehouse::auth::tokens::{digest, new_id};
use gatehouse::entities::{api_key, membership, organization, password_credential, project};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, Set};
use serde_json::{json, Value};

/// The server's allocator, so the single-hash measurement below costs what a hash costs in the
/// server (glibc would map and fault in a fresh 19 MiB area for every hash).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// A PostgreSQL server URL whose user may create databases (the bench makes its own).
    #[arg(long)]
    postgres: Option<String>,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// The Gatehouse binary (a release build).
    #[arg(long, default_value = "target/release/gatehouse")]
    bin: PathBuf,
    /// Skip the SQLite run.
    #[arg(long)]
    no_sqlite: bool,
    /// Write the report (Markdown) here too.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run only the scenarios whose name contains this text (to profile one); no report.
    #[arg(long)]
    only: Option<String>,
}

const USERS: usize = 1_000;
const PROJECTS_PER_ORG: usize = 20;
const KEYS_PER_USER: usize = 5;
const PASSWORD: &str = "a-long-secure-passphrase";
const ALL_SCOPES: &str = r#"["user:read","user:write","projects:read","projects:write","subscription:read","subscription:write","api-keys:read","api-keys:write","api-keys:delete"]"#;

struct Server {
    child: Child,
    base: String,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir); // the outbox: runs must not fill the disk
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
    /// Resets the peak resident set size (Linux `clear_refs` 5).
    fn reset_peak_rss(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(bin: &PathBuf, database_url: &str) -> Server {
    let dir = std::env::temp_dir().join(format!("gatehouse-bench-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(bin)
        .arg("serve")
        .env("GATEHOUSE_ADDR", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_BASE_URL", &base)
        .env("DATABASE_URL", database_url)
        .env("GATEHOUSE_MAIL_URL", format!("file://{}", dir.join("outbox").display()))
        .env("GATEHOUSE_RATE_LIMIT", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the gatehouse binary (cargo build --release first)");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{base}/readyz")).send().await.map(|r| r.status().is_success()).unwrap_or(false) {
            return Server { child, base, dir };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gatehouse did not become ready on {base}");
}

/// What the load run needs to know about the seeded data.
struct Seeded {
    org_id: String,
    pat: String,
}

/// Seeds directly through the entities, in batches (HTTP sign-up would spend minutes on Argon2).
async fn seed(conn: &DatabaseConnection) -> Seeded {
    let started = Instant::now();
    let hash = Hasher::new(1).hash(PASSWORD).await.expect("hash");
    let t = gatehouse::domain::now();
    let mut users = Vec::new();
    let mut creds = Vec::new();
    let mut orgs = Vec::new();
    let mut members = Vec::new();
    let mut projects = Vec::new();
    let mut keys = Vec::new();
    let mut first_pat = String::new();
    let mut first_org = String::new();
    for i in 0..USERS {
        let oid = new_id();
        let u = gatehouse::domain::users::new_user(
            &format!("bench{i}@example.com"),
            &format!("Bench User {i}"),
            &format!("bench{i}"),
            true,
            t,
        );
        let uid = u.id.clone().unwrap();
        users.push(u);
        creds.push(password_credential::ActiveModel {
            user_id: Set(uid.clone()),
            password_hash: Set(hash.clone()),
            created_at: Set(t),
            updated_at: Set(t),
        });
        orgs.push(organization::ActiveModel {
            id: Set(oid.clone()),
            name: Set(format!("Bench Org {i}")),
            slug: Set(format!("bench-org-{i}")),
            logo_url: Set(None),
            created_at: Set(t),
            updated_at: Set(t),
        });
        members.push(membership::ActiveModel {
            id: Set(new_id()),
            organization_id: Set(oid.clone()),
            user_id: Set(uid.clone()),
            role: Set("owner".into()),
            created_at: Set(t),
            updated_at: Set(t),
        });
        for j in 0..PROJECTS_PER_ORG {
            projects.push(project::ActiveModel {
                id: Set(new_id()),
                organization_id: Set(oid.clone()),
                name: Set(format!("Project {j} of org {i}")),
                slug: Set(format!("project-{j}")),
                description: Set(Some("Seeded for the benchmark".into())),
                business_context: Set(None),
                monitoring_intent: Set(None),
                website: Set(Some("https://example.com".into())),
                status: Set(if j % 2 == 0 { "active".into() } else { "draft".into() }),
                frequency: Set("weekly".into()),
                timezone: Set("UTC".into()),
                created_by_user_id: Set(Some(uid.clone())),
                last_run_at: Set(None),
                next_run_at: Set(None),
                created_at: Set(t),
                updated_at: Set(t),
            });
        }
        for k in 0..KEYS_PER_USER {
            let raw = format!("ba_{}", gatehouse::auth::tokens::random_alphanumeric(48));
            if i == 0 && k == 0 {
                first_pat = raw.clone();
                first_org = oid.clone();
            }
            keys.push(api_key::ActiveModel {
                id: Set(format!("ak_{}", ulid::Ulid::new())),
                user_id: Set(uid.clone()),
                name: Set(format!("key {k}")),
                key_hash: Set(digest(&raw)),
                start: Set(raw[..8].to_string()),
                scopes: Set(ALL_SCOPES.into()),
                organization_id: Set(None),
                metadata: Set("{}".into()),
                enabled: Set(true),
                expires_at: Set(None),
                last_used_at: Set(None),
                created_at: Set(t),
                updated_at: Set(t),
            });
        }
    }
    async fn insert<A: sea_orm::ActiveModelTrait + Send>(conn: &DatabaseConnection, rows: Vec<A>) {
        let mut rows = rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(500));
            let batch = std::mem::replace(&mut rows, rest);
            A::Entity::insert_many(batch).exec(conn).await.expect("seed insert");
        }
    }
    insert(conn, users).await;
    insert(conn, creds).await;
    insert(conn, orgs).await;
    insert(conn, members).await;
    insert(conn, projects).await;
    insert(conn, keys).await;
    // Fresh planner statistics, as autovacuum would have them in a running system.
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("ANALYZE").await.expect("analyze");
    }
    eprintln!(
        "  seeded {USERS} users, {USERS} organizations, {} projects, {} keys in {:.1}s",
        USERS * PROJECTS_PER_ORG,
        USERS * KEYS_PER_USER,
        started.elapsed().as_secs_f64()
    );
    Seeded { org_id: first_org, pat: first_pat }
}

#[derive(Clone)]
struct Request {
    method: reqwest::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

#[derive(Default, Clone)]
struct Stats {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    peak_rss_mib: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx].as_secs_f64() * 1000.0
}

/// `connections` keep-alive connections each sending `req` back to back for `seconds`.
async fn load(req: &Request, connections: usize, seconds: u64) -> Stats {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let req = Arc::new(req.clone());
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let req = req.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().pool_max_idle_per_host(1).http1_only().build().unwrap();
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline {
                let mut rb = client.request(req.method.clone(), &req.url);
                for (k, v) in &req.headers {
                    rb = rb.header(*k, v);
                }
                if let Some(b) = &req.body {
                    rb = rb.json(b);
                }
                let started = Instant::now();
                match rb.send().await {
                    Ok(res) => {
                        let ok = res.status().is_success();
                        let body = res.bytes().await;
                        if !ok || body.is_err() {
                            errors += 1;
                        }
                    }
                    Err(_) => errors += 1,
                }
                latencies.push(started.elapsed());
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    all.sort();
    Stats {
        rps: all.len() as f64 / seconds as f64,
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        errors,
        peak_rss_mib: 0.0,
    }
}

async fn measure(server: &Server, name: &str, req: &Request, args: &Args, results: &mut Vec<(String, Stats)>) {
    if args.only.as_deref().is_some_and(|only| !name.contains(only)) {
        return;
    }
    // A short warm-up, then the measured run.
    load(req, args.connections, 1).await;
    server.reset_peak_rss();
    let mut s = load(req, args.connections, args.seconds).await;
    s.peak_rss_mib = server.peak_rss_mib();
    eprintln!("  {name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {}", s.rps, s.p50_ms, s.p99_ms, s.errors);
    results.push((name.to_string(), s));
}

const GRAPHQL: &str =
    "{ me { email } organizations { items { projects(limit: 5) { items { name createdBy { email } } } } } }";

/// Runs every scenario against one database; returns the results and the single-hash time.
async fn run_target(label: &str, database_url: &str, args: &Args) -> Vec<(String, Stats)> {
    eprintln!("== {label}");
    let server = start(&args.bin, database_url).await;
    let conn = Database::connect(database_url).await.expect("connect for seeding");
    let seeded = seed(&conn).await;
    conn.close().await.ok();
    let base = &server.base;
    let http = reqwest::Client::new();
    let sign_in = json!({ "email": "bench0@example.com", "password": PASSWORD });
    let res = http.post(format!("{base}/api/auth/sign-in/email")).json(&sign_in).send().await.unwrap();
    assert!(res.status().is_success(), "sign-in for the session scenario");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("gatehouse_session="))
        .map(|c| c.split(';').next().unwrap().to_string())
        .expect("session cookie");
    let get = |path: &str, headers: Vec<(&'static str, String)>| Request {
        method: reqwest::Method::GET,
        url: format!("{base}{path}"),
        headers,
        body: None,
    };
    let pat = vec![("x-api-key", seeded.pat.clone())];
    let mut results = Vec::new();
    measure(&server, "GET /healthz", &get("/healthz", vec![]), args, &mut results).await;
    measure(&server, "GET /api/user/me (PAT)", &get("/api/user/me", pat.clone()), args, &mut results).await;
    measure(
        &server,
        "GET /api/user/me (session)",
        &get("/api/user/me", vec![("cookie", cookie.clone())]),
        args,
        &mut results,
    )
    .await;
    measure(
        &server,
        "GET {org}/projects?limit=20 (PAT)",
        &get(&format!("/api/user/organizations/{}/projects?limit=20", seeded.org_id), pat.clone()),
        args,
        &mut results,
    )
    .await;
    let gql = Request {
        method: reqwest::Method::POST,
        url: format!("{base}/graphql"),
        headers: pat.clone(),
        body: Some(json!({ "query": GRAPHQL })),
    };
    measure(&server, "POST /graphql (PAT)", &gql, args, &mut results).await;
    let sign_in_req = Request {
        method: reqwest::Method::POST,
        url: format!("{base}/api/auth/sign-in/email"),
        headers: vec![],
        body: Some(sign_in),
    };
    measure(&server, "POST /api/auth/sign-in/email", &sign_in_req, args, &mut results).await;
    if args.only.as_deref().is_some_and(|only| !"GET /api/user/me during a sign-in flood".contains(only)) {
        return results;
    }
    // /api/user/me while a sign-in flood runs: half the connections each.
    let half = (args.connections / 2).max(1);
    server.reset_peak_rss();
    let flood = {
        let r = sign_in_req.clone();
        let secs = args.seconds;
        tokio::spawn(async move { load(&r, half, secs).await })
    };
    let mut me = load(&get("/api/user/me", pat), half, args.seconds).await;
    let flood = flood.await.unwrap();
    me.peak_rss_mib = server.peak_rss_mib();
    eprintln!(
        "  me during sign-in flood: {:.0} req/s, p99 {:.2} ms (flood {:.0} sign-ins/s)",
        me.rps, me.p99_ms, flood.rps
    );
    results.push(("GET /api/user/me during a sign-in flood".into(), me));
    results
}

/// Milliseconds per Argon2 hash with the service's parameters, on one core.
async fn single_hash_ms() -> f64 {
    let h = Hasher::new(1);
    h.hash(PASSWORD).await.unwrap();
    // The fastest of ten: the cost of a hash on an otherwise idle core.
    let mut best = f64::MAX;
    for _ in 0..10 {
        let started = Instant::now();
        h.hash(PASSWORD).await.unwrap();
        best = best.min(started.elapsed().as_secs_f64() * 1000.0);
    }
    best
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|kb| kb.parse::<f64>().ok()))
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}")
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let hash_ms = single_hash_ms().await;
    // The server's default: one core fewer than the machine has (at least one) hashes.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).saturating_sub(1).max(1);
    let capacity = cores as f64 * 1000.0 / hash_ms;
    eprintln!("one Argon2id hash (m=19 MiB, t=2, p=1): {hash_ms:.1} ms; {cores} hashing core(s) allow {capacity:.0} sign-ins/s");

    let mut sections: Vec<(String, Vec<(String, Stats)>)> = Vec::new();
    if !args.no_sqlite {
        let dir = std::env::temp_dir().join(format!("gatehouse-bench-db-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
        sections.push(("SQLite".into(), run_target("SQLite", &url, &args).await));
        let _ = std::fs::remove_dir_all(&dir);
    }
    if let Some(admin) = &args.postgres {
        let name = format!("gh_bench_{}", ulid::Ulid::new().to_string().to_lowercase());
        let conn = Database::connect(admin.as_str()).await.expect("connect to --postgres");
        conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create the bench database");
        conn.close().await.ok();
        let (prefix, _) = admin.rsplit_once('/').expect("a URL with a database name");
        let url = format!("{prefix}/{name}");
        sections.push(("PostgreSQL".into(), run_target("PostgreSQL", &url, &args).await));
    }

    if args.only.is_some() {
        return; // a partial run: the lines above are the result, the budget needs every scenario
    }
    let mut out = String::new();
    out.push_str(&format!(
        "Machine: {}. {} connections, {} s per scenario, release build, rate limits off. Seed: {USERS} users, {USERS} organizations, {} projects, {} keys. Argon2id hash: {hash_ms:.1} ms, so {capacity:.0} sign-ins/s on the {cores} core(s) given to hashing.\n\n",
        machine(),
        args.connections,
        args.seconds,
        USERS * PROJECTS_PER_ORG,
        USERS * KEYS_PER_USER
    ));
    let mut budget = Vec::new();
    for (db, results) in &sections {
        let by: HashMap<&str, &Stats> = results.iter().map(|(n, s)| (n.as_str(), s)).collect();
        let ceiling = by["GET /healthz"].rps.max(1.0);
        out.push_str(&format!(
            "| {db} | req/s | p50 ms | p99 ms | peak RSS MiB | vs /healthz | errors |\n|---|---|---|---|---|---|---|\n"
        ));
        for (name, s) in results {
            out.push_str(&format!(
                "| {name} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2} | {} |\n",
                s.rps,
                s.p50_ms,
                s.p99_ms,
                s.peak_rss_mib,
                s.rps / ceiling,
                s.errors
            ));
        }
        out.push('\n');
        let ratio = |n: &str| by[n].rps / ceiling;
        let mut check = |what: String, ok: bool, got: String| {
            budget.push(format!("| {db} | {what} | {got} | {} |", if ok { "met" } else { "MISSED" }))
        };
        // (scenario, what the budget calls it, least ratio to /healthz)
        let ratio_budgets: &[(&str, &str, f64)] = if db == "SQLite" {
            &[
                ("GET /api/user/me (PAT)", "PAT /api/user/me", 0.5),
                ("GET /api/user/me (session)", "session /api/user/me", 0.5),
                ("GET {org}/projects?limit=20 (PAT)", "projects list", 0.3),
                ("POST /graphql (PAT)", "GraphQL query", 0.15),
            ]
        } else {
            &[("GET /api/user/me (PAT)", "PAT /api/user/me", 0.3)]
        };
        for (scenario, what, least) in ratio_budgets {
            let r = ratio(scenario);
            check(format!("{what} >= {least} x /healthz"), r >= *least, format!("{r:.2}"));
        }
        if db == "SQLite" {
            let sign_ins = by["POST /api/auth/sign-in/email"].rps;
            check(
                format!("sign-in >= 0.8 x Argon2 capacity ({capacity:.0}/s)"),
                sign_ins >= 0.8 * capacity,
                format!("{:.2} ({sign_ins:.0}/s)", sign_ins / capacity),
            );
            let p99 = by["GET /api/user/me during a sign-in flood"].p99_ms;
            check("/api/user/me p99 during sign-in flood < 25 ms".into(), p99 < 25.0, format!("{p99:.2} ms"));
            let rss = results.iter().map(|(_, s)| s.peak_rss_mib).fold(0.0, f64::max);
            check("peak RSS < 150 MiB".into(), rss < 150.0, format!("{rss:.1} MiB"));
        }
    }
    out.push_str("| Database | Budget | Measured | Verdict |\n|---|---|---|---|\n");
    for line in &budget {
        out.push_str(line);
        out.push('\n');
    }
    println!("{out}");
    if let Some(path) = &args.report {
        std::fs::write(path, &out).expect("write the report");
    }
}
