//! The settings requests read at the moment they are handled, which a reload (SIGHUP) may
//! replace without a restart: the authenticator, CORS, and the body and filter limits.
//!
//! Handlers take one snapshot ([`Live::get`]) and use it to the end, so a request never mixes
//! old and new settings. The per-address limits and `--max-clients` live beside their counts
//! ([`crate::limits::PerIpLimits::set`], [`crate::hub::Hub::set_max_clients`]).

use std::sync::{Arc, RwLock};

use tower_http::cors::CorsLayer;

use crate::auth::Authenticator;
use crate::sync::{read, write};

/// One version of the live settings.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// How requests are authenticated.
    pub auth: Authenticator,
    /// CORS for `--cors-origin`; `None` without origins (no CORS headers at all).
    pub cors: Option<CorsLayer>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Most lots one stream may filter on (`lots=`).
    pub max_filter_lots: usize,
}

/// A shared, replaceable [`LiveSettings`]; clones share it.
#[derive(Debug, Clone)]
pub struct Live(Arc<RwLock<Arc<LiveSettings>>>);

impl Live {
    pub fn new(settings: LiveSettings) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(settings))))
    }

    /// The settings now.
    pub fn get(&self) -> Arc<LiveSettings> {
        read(&self.0).clone()
    }

    /// Requests that start from now on get `settings`.
    pub fn replace(&self, settings: LiveSettings) {
        *write(&self.0) = Arc::new(settings);
    }
}
