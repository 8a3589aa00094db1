//! Integration tests: the real server on a real port (127.0.0.1:0) with a fresh SQLite file
//! per test, driven over HTTP with reqwest.
//!
//! Run with `cargo test -p parkstream-server --test api`.

mod helpers;

mod audit;
mod auth;
mod backup;
mod bursts;
mod client;
mod cluster;
mod cluster_failover;
mod config_file;
mod connections;
mod crash;
mod day;
mod db_tls;
mod fanout;
mod flags;
mod health;
mod idempotency;
mod ingest;
mod jwks;
mod lifecycle;
mod limits;
mod loadtest;
mod lots;
mod mqtt;
mod nginx;
mod observability;
mod occupancy_history;
mod openapi;
mod proxy;
mod reload;
mod rules;
mod scoping;
mod session;
mod sign_in;
mod simulate;
mod statements;
mod storage;
mod stream;
mod stream_path;
mod tls;
mod vehicles;
mod violations;
