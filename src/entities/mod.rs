//! SeaORM entities: the one model of the stored data. These are storage types only; they are
//! never serialized to clients (the domain has its own views, without secrets).
pub mod api_key;
pub mod audit_event;
pub mod email_token;
pub mod invitation;
pub mod login_event;
pub mod membership;
pub mod organization;
pub mod outbox;
pub mod password_credential;
pub mod project;
pub mod session;
pub mod user;
