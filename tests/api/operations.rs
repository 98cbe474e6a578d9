//! OPERATIONS.md: the binary, configuration errors, default storage, migrations, shutdown.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Backend, TestApp};

fn gatehouse() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for (k, _) in std::env::vars() {
        if k.starts_with("GATEHOUSE_") || k == "DATABASE_URL" {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("GATEHOUSE_ADDR", "not-an-address"),
        ("DATABASE_URL", "mysql://x"),
        ("GATEHOUSE_RATE_LIMIT", "sometimes"),
        ("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/99"),
        ("GATEHOUSE_MAIL_URL", "carrier-pigeon://coop"),
    ] {
        let out = gatehouse().current_dir(dir.path()).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{var}: {err}");
        assert!(err.contains(var), "{var}: {err}");
    }
    // A configuration file with an unknown key is refused the same way.
    std::fs::write(dir.path().join("gatehouse.toml"), "adress = \"127.0.0.1:1\"\n").unwrap();
    let out = gatehouse().current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("adress"));
}

#[test]
fn serves_on_sqlite_by_default_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The file sets the address; everything else is the default (SQLite in data/).
    std::fs::write(dir.path().join("gatehouse.toml"), format!("addr = \"127.0.0.1:{port}\"\n")).unwrap();
    let mut child = gatehouse().current_dir(dir.path()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let url = format!("http://127.0.0.1:{port}/readyz");
    let mut ready = false;
    for _ in 0..100 {
        if http_ok(&url) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "the server answered /readyz");
    assert!(dir.path().join("data/gatehouse.db").exists());
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let exited = exited.expect("exited after SIGTERM");
    assert_eq!(exited.code(), Some(0));
}

#[test]
fn migrate_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    for args in
        [&["migrate", "up"][..], &["migrate", "status"], &["migrate", "down"], &["migrate"], &["migrate", "fresh"]]
    {
        let out = gatehouse().env("DATABASE_URL", &db).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = gatehouse().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("serve") && help.contains("migrate"), "{help}");
}

/// Two instances starting at once on one PostgreSQL both come up, and migrate once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_start_concurrently_on_one_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        return;
    };
    // A brand-new database for the race.
    let url = crate::helpers::fresh_postgres_database(&admin).await;
    let (a, b) = tokio::join!(
        TestApp::spawn_with(Backend::Postgres, Some(url.clone()), Default::default()),
        TestApp::spawn_with(Backend::Postgres, Some(url.clone()), Default::default()),
    );
    a.sign_up("one@example.com", crate::helpers::PASSWORD, "One").await;
    let (c, _) = b.user("two@example.com").await;
    c.get("/api/user/me").await.assert(200, "OK");
    assert_eq!(
        a.sql_count("SELECT COUNT(*) FROM seaql_migrations").await,
        b.sql_count("SELECT COUNT(*) FROM seaql_migrations").await
    );
    assert_eq!(a.sql_count("SELECT COUNT(*) FROM users").await, 2);
}

/// A GET with std only (this test runs outside any async runtime).
fn http_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap();
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes()).is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200")
}
