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
mod contractor_vehicles;
mod crash;
mod day;
mod db_tls;
mod fanout;
mod flags;
mod forecast;
mod health;
mod idempotency;
mod ingest;
mod jwks;
mod lifecycle;
mod limits;
mod loadtest;
mod lot_fields;
mod lots;
mod mqtt;
mod mqtt_cluster;
mod nginx;
mod observability;
mod occupancy_history;
mod open_data;
mod open_data_expected;
mod openapi;
mod overload;
mod proxy;
mod reload;
mod rules;
mod scoping;
mod session;
mod sign_in;
mod simulate;
mod simulated_accounts;
mod statements;
mod storage;
mod stream;
mod stream_path;
mod tls;
mod vehicles;
mod violations;
mod webhook_receiver;
mod webhooks;
