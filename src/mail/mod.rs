//! Email through a transactional outbox (OPERATIONS.md, "Email"). A change that causes an email
//! writes the message into `mail_outbox` in its own transaction ([`enqueue`]); the background
//! [`worker`] delivers it (file or SMTP) with retries and back-off, then erases the body so no
//! usable token stays in the database longer than delivery takes.

pub mod templates;
pub mod worker;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use tokio::sync::Notify;

use crate::auth::tokens::new_id;
use crate::entities::outbox;
use crate::error::AppResult;

/// Wakes the delivery worker when a transaction that queued mail commits.
#[derive(Clone, Default)]
pub struct MailSignal(Arc<Notify>);

impl MailSignal {
    pub fn wake(&self) {
        self.0.notify_one();
    }
    pub async fn wait(&self) {
        self.0.notified().await
    }
}

/// A message to send: recipient, subject and a plain-text body (links in plain text).
#[derive(Clone, Debug)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// Queues `mail` inside the caller's transaction; it is sent only if that transaction commits.
pub async fn enqueue(conn: &impl ConnectionTrait, mail: Mail, now: DateTime<Utc>) -> AppResult<()> {
    outbox::ActiveModel {
        id: Set(new_id()),
        recipient: Set(mail.to),
        subject: Set(mail.subject),
        body: Set(Some(mail.body)),
        attempts: Set(0),
        next_attempt_at: Set(now),
        delivered_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}
