//! Gatehouse: accounts, sessions, scoped Personal Access Tokens, organizations and projects,
//! served over REST and GraphQL under one auth context. See ARCHITECTURE in the README.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod pages;
pub mod ratelimit;
pub mod state;
pub mod telemetry;
