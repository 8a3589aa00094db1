//! Running behind a reverse proxy: who the client is when a trusted proxy forwards its
//! address (`--trusted-proxies`), and the address the public reaches the dashboard at
//! (`--public-url`).

mod client_address;
mod public_url;

pub use client_address::{client_address, Cidr};
pub use public_url::PublicUrl;
