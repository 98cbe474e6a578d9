//! The HTTP test suite: every test drives a real Gatehouse over HTTP, on SQLite and (when
//! `TEST_DATABASE_URL` is set) on PostgreSQL.

mod helpers;

mod hardening;

mod accounts;
mod audit;
mod conventions;
mod credential_cache;
mod graphql;
mod invitations;
mod keys;
mod lifecycle;
mod mail;
mod members;
mod openapi;
mod operations;
mod organizations;
mod pages;
mod projects;
mod quickstart;
mod ratelimit;
mod sessions;
mod storage;
mod tenancy;
