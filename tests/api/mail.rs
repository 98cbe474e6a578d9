//! Email delivery over SMTP (lettre) with retries and back-off, against a small SMTP sink.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::helpers::{Backend, TestApp, PASSWORD};

/// Accepts SMTP sessions on `listener` and keeps each message's DATA.
fn smtp_sink(listener: TcpListener) -> Arc<Mutex<Vec<String>>> {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            let _ = write.write_all(b"354 go ahead\r\n").await;
                            let mut message = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                message.push_str(&l);
                                message.push('\n');
                            }
                            store.lock().unwrap().push(message);
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    received
}

async fn wait_for(received: &Arc<Mutex<Vec<String>>>, seconds: u64) -> Vec<String> {
    for _ in 0..seconds * 10 {
        let got = received.lock().unwrap().clone();
        if !got.is_empty() {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_delivery_and_retry_after_the_server_was_down() {
    // The mail server is down when the message is queued.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = HashMap::from([("GATEHOUSE_MAIL_URL".to_string(), format!("smtp://127.0.0.1:{port}"))]);
    let app = TestApp::spawn_with(Backend::Sqlite, None, settings).await;
    app.client()
        .post(
            "/api/auth/sign-up/email",
            serde_json::json!({ "email": "smtp@example.com", "password": PASSWORD, "name": "Smtp" }),
        )
        .await
        .assert(201, "OK");
    // The first attempt fails, is recorded, and the message waits with its body intact.
    let mut failed = false;
    for _ in 0..50 {
        if app.sql_count("SELECT COUNT(*) FROM mail_outbox WHERE attempts >= 1 AND last_error IS NOT NULL AND delivered_at IS NULL AND body IS NOT NULL").await == 1 {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "a failed attempt is recorded");
    // The server comes up; the retry (after a 2 s back-off) delivers.
    let received = smtp_sink(TcpListener::bind(("127.0.0.1", port)).await.unwrap());
    let got = wait_for(&received, 15).await;
    assert_eq!(got.len(), 1, "delivered once");
    assert!(got[0].contains("To: smtp@example.com") && got[0].contains("/api/auth/verify-email?token="), "{}", got[0]);
    for _ in 0..50 {
        if app.sql_count("SELECT COUNT(*) FROM mail_outbox WHERE delivered_at IS NOT NULL AND body IS NULL").await == 1
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivered message is not marked delivered with its body erased");
}
