//! The delivery worker: claims due outbox rows, delivers them, records the outcome.
//! Several instances may run it against one database: a row is claimed by moving its
//! `next_attempt_at` forward with a conditional update, so only one instance sends it.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio_util::sync::CancellationToken;

use super::MailSignal;
use crate::config::{Config, MailTransport};
use crate::db::Db;
use crate::domain::now;
use crate::entities::outbox;

/// How long a claimed row is reserved for the instance that claimed it.
const LEASE: TimeDelta = TimeDelta::minutes(5);
const BATCH: u64 = 20;
const MAX_BACKOFF_SECS: i64 = 3600;
/// After this many failed attempts (about a day with the back-off) a message is given up: its
/// body, with any token in it, is erased.
const MAX_ATTEMPTS: i64 = 30;

enum Transport {
    File(PathBuf),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    fn new(config: &Config) -> Result<Transport, String> {
        Ok(match &config.mail {
            MailTransport::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                Transport::File(dir.clone())
            }
            MailTransport::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| format!("bad SMTP URL: {e}"))?.build(),
            ),
        })
    }

    async fn send(&self, id: &str, message: Message) -> Result<(), String> {
        match self {
            Transport::File(dir) => {
                let bytes = message.formatted();
                let tmp = dir.join(format!(".{id}.eml.tmp"));
                let path = dir.join(format!("{id}.eml"));
                // Written aside, then renamed: a reader never sees half a message.
                tokio::fs::write(&tmp, bytes).await.map_err(|e| e.to_string())?;
                tokio::fs::rename(&tmp, &path).await.map_err(|e| e.to_string())
            }
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

fn build_message(from: &Mailbox, row: &outbox::Model, body: String) -> Result<Message, String> {
    let to: Mailbox = row.recipient.parse().map_err(|e| format!("bad recipient: {e}"))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(row.subject.clone())
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(plain_body(body)))
        .map_err(|e| e.to_string())
}

/// The body as it is, 7bit (or 8bit with a non-ASCII name in it), so the links stay readable and
/// copyable: lettre's own choice turns lines over 76 characters into quoted-printable, which
/// folds the link and writes `=` as `=3D`. RFC 5322 allows lines up to 998 characters; a body
/// that breaks that falls back to lettre's choice.
fn plain_body(text: String) -> Body {
    let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = crlf.split("\r\n").all(|line| line.len() <= 998) && !crlf.contains('\0');
    if !fits {
        return Body::new(text);
    }
    let encoding = if crlf.is_ascii() { ContentTransferEncoding::SevenBit } else { ContentTransferEncoding::EightBit };
    Body::dangerous_pre_encoded(crlf.into_bytes(), encoding)
}

/// Starts the worker; it runs until `shutdown` is cancelled.
pub fn spawn(
    db: Db,
    config: &Config,
    signal: MailSignal,
    shutdown: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let transport = Transport::new(config)?;
    let from: Mailbox = config.mail_from.parse().map_err(|e| format!("GATEHOUSE_MAIL_FROM: {e}"))?;
    Ok(tokio::spawn(async move {
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            match deliver_due(&db, &transport, &from).await {
                Ok(n) if n as u64 == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail outbox poll failed"),
            }
            tokio::select! {
                _ = signal.wait() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.cancelled() => break,
            }
        }
    }))
}

/// Delivers what is due now; returns how many rows it looked at.
async fn deliver_due(db: &Db, transport: &Transport, from: &Mailbox) -> Result<usize, sea_orm::DbErr> {
    let t = now();
    let due = outbox::Entity::find()
        .filter(outbox::Column::DeliveredAt.is_null())
        .filter(outbox::Column::Body.is_not_null())
        .filter(outbox::Column::NextAttemptAt.lte(t))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(BATCH)
        .all(&db.conn)
        .await?;
    let n = due.len();
    for row in due {
        if !claim(db, &row, t).await? {
            continue;
        }
        let Some(body) = row.body.clone() else {
            continue;
        };
        let outcome = match build_message(from, &row, body) {
            Ok(message) => transport.send(&row.id, message).await,
            Err(e) => Err(e),
        };
        record(db, &row, outcome).await?;
    }
    Ok(n)
}

/// Reserves a row for this instance; false when another instance got there first.
async fn claim(db: &Db, row: &outbox::Model, t: DateTime<Utc>) -> Result<bool, sea_orm::DbErr> {
    let res = outbox::Entity::update_many()
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(t + LEASE))
        .filter(outbox::Column::Id.eq(row.id.clone()))
        .filter(outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
        .filter(outbox::Column::DeliveredAt.is_null())
        .exec(db.bookkeeping())
        .await?;
    Ok(res.rows_affected == 1)
}

async fn record(db: &Db, row: &outbox::Model, outcome: Result<(), String>) -> Result<(), sea_orm::DbErr> {
    let t = now();
    let update = outbox::Entity::update_many().filter(outbox::Column::Id.eq(row.id.clone()));
    match outcome {
        Ok(()) => {
            tracing::info!(mail_id = %row.id, "mail delivered");
            update
                .col_expr(outbox::Column::DeliveredAt, Expr::value(Some(t)))
                .col_expr(outbox::Column::Body, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
                .col_expr(outbox::Column::Attempts, Expr::value(row.attempts + 1))
                .exec(db.bookkeeping())
                .await?;
        }
        Err(e) => {
            let attempts = row.attempts + 1;
            if attempts >= MAX_ATTEMPTS {
                tracing::error!(mail_id = %row.id, attempts, error = %e, "mail delivery given up");
                update
                    .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                    .col_expr(outbox::Column::Body, Expr::value(Option::<String>::None))
                    .col_expr(
                        outbox::Column::LastError,
                        Expr::value(Some(format!("given up: {}", e.chars().take(900).collect::<String>()))),
                    )
                    .exec(db.bookkeeping())
                    .await?;
                return Ok(());
            }
            let backoff = (2i64.saturating_pow(attempts.min(20) as u32)).min(MAX_BACKOFF_SECS);
            tracing::warn!(mail_id = %row.id, attempts, error = %e, "mail delivery failed; will retry");
            update
                .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                .col_expr(outbox::Column::LastError, Expr::value(Some(e.chars().take(1000).collect::<String>())))
                .col_expr(outbox::Column::NextAttemptAt, Expr::value(t + TimeDelta::seconds(backoff)))
                .exec(db.bookkeeping())
                .await?;
        }
    }
    Ok(())
}
