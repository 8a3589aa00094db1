//! The open occupancy feed (`--open-data`): the state of public lots, for anyone, in the
//! DATEX II (`datex`) and APDS (`apds`) standards.
//!
//! Only what a lot's `public` flag releases is ever read: its settings and count, never a
//! plate, a contractor, a camera or an alert. Pollers share one [`snapshot::Snapshot`],
//! rebuilt when lots changed at most once per `--open-data-interval`; each document of it is
//! rendered (and compressed) once, on first request.

mod apds;
mod datex;
mod expected;
mod snapshot;
mod trend;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parkstream_protocol::api::OpeningStatus;
use parkstream_protocol::Timestamp;

use crate::config::{OpenDataFlags, Publisher};
use crate::limits::RateBuckets;
use crate::read_model::ReadModel;
use crate::store::Store;
use crate::sync::lock;

pub use expected::ExpectedDemand;
pub use snapshot::Snapshot;
pub use trend::Trend;

/// The feed's settings, its per-address budget and its current snapshot.
#[derive(Debug)]
pub struct OpenData {
    interval: Duration,
    /// Requests per minute per client address, as many in a burst (0: no limit).
    rate_per_minute: usize,
    publisher: Publisher,
    buckets: RateBuckets,
    /// Held across a rebuild, so concurrent pollers wait for one rebuild instead of each
    /// computing the forecasts.
    current: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
}

/// What the feed publishes of one public lot.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicLot {
    pub id: String,
    pub name: String,
    pub total_slots: u32,
    pub occupied: u32,
    pub vacant: u32,
    pub occupancy_rate: f64,
    pub warning_threshold: f64,
    pub position: Option<(f64, f64)>,
    pub time_zone: Option<String>,
    pub opening_status: Option<OpeningStatus>,
    pub trend: Trend,
    /// The forecast at the snapshot's time, one row per horizon; empty when it could not be
    /// computed.
    pub expected: Vec<ExpectedDemand>,
    /// When the count or the settings last changed.
    pub updated_at: Timestamp,
}

impl PublicLot {
    /// Occupied share of the spaces in percent, to one decimal.
    pub fn occupancy_percent(&self) -> f64 {
        (self.occupancy_rate * 1000.0).round() / 10.0
    }
}

/// One document of the feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Document {
    DatexParkingTable,
    DatexParkingStatus,
    /// Every place; with `occupancy`, each with its demand table.
    ApdsPlaces {
        occupancy: bool,
    },
    ApdsPlace {
        id: String,
        occupancy: bool,
    },
}

/// A rendered document, plain and gzip-compressed, with its entity tag.
#[derive(Debug)]
pub struct Rendered {
    pub content_type: &'static str,
    pub body: Bytes,
    pub gzip: Bytes,
    /// A strong validator: a hash of the body, quoted.
    pub etag: String,
}

impl OpenData {
    pub fn new(flags: &OpenDataFlags) -> Arc<Self> {
        Arc::new(Self {
            interval: flags.open_data_interval,
            rate_per_minute: flags.open_data_rate,
            publisher: flags.open_data_publisher.clone(),
            buckets: RateBuckets::default(),
            current: tokio::sync::Mutex::new(None),
        })
    }

    /// How long a poller may reuse a document: the rebuild interval.
    pub fn max_age(&self) -> Duration {
        self.interval
    }

    /// Takes one request from `ip`'s budget; `Err(seconds to wait)` when it is spent.
    ///
    /// # Errors
    /// When the address sent more than `--open-data-rate` requests in the last minute.
    pub fn admit(&self, ip: std::net::IpAddr) -> Result<(), u64> {
        let burst = self.rate_per_minute as f64;
        self.buckets.take(ip, burst / 60.0, burst)
    }

    /// The snapshot to answer from: the current one, or a new one when lots changed since
    /// it was built and it is at least `--open-data-interval` old. A rebuild computes each
    /// public lot's forecast from `store`.
    pub async fn snapshot(&self, read_model: &ReadModel, store: &Store) -> Arc<Snapshot> {
        let mut current = self.current.lock().await;
        let fresh = match current.as_ref() {
            Some(snapshot) if !snapshot.stale(read_model, self.interval) => {
                return snapshot.clone()
            }
            previous => Snapshot::build(read_model, store, previous.map(AsRef::as_ref)).await,
        };
        let fresh = Arc::new(fresh);
        *current = Some(fresh.clone());
        fresh
    }

    /// `document` of `snapshot`, rendered once; `None` for a place that is not published.
    pub fn render(&self, snapshot: &Snapshot, document: &Document) -> Option<Arc<Rendered>> {
        let mut rendered = lock(&snapshot.rendered);
        if let Some(done) = rendered.get(document) {
            return Some(done.clone());
        }
        let (content_type, body) = match document {
            Document::DatexParkingTable => (
                datex::CONTENT_TYPE,
                datex::parking_table(snapshot, &self.publisher),
            ),
            Document::DatexParkingStatus => (
                datex::CONTENT_TYPE,
                datex::parking_status(snapshot, &self.publisher),
            ),
            Document::ApdsPlaces { occupancy } => {
                (apds::CONTENT_TYPE, apds::places(snapshot, *occupancy))
            }
            Document::ApdsPlace { id, occupancy } => {
                (apds::CONTENT_TYPE, apds::place(snapshot, id, *occupancy)?)
            }
        };
        let done = Arc::new(Rendered {
            content_type,
            etag: format!("\"{:016x}\"", fnv1a(&body)),
            gzip: gzip(&body),
            body: Bytes::from(body),
        });
        rendered.insert(document.clone(), done.clone());
        Some(done)
    }
}

/// The rendered documents of one snapshot.
pub(crate) type RenderedDocuments = std::sync::Mutex<HashMap<Document, Arc<Rendered>>>;

/// 64-bit FNV-1a: a stable hash, so every instance of a cluster gives a document the same tag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    encoder.write_all(body).expect("in memory");
    Bytes::from(encoder.finish().expect("in memory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_stable_and_tell_bodies_apart() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a(b"<a>1</a>"), fnv1a(b"<a>2</a>"));
    }
}
