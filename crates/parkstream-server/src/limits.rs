//! Per-client-address limits: open streams, and the rate of writes (429 with Retry-After);
//! [`RateBuckets`] also limits the open data feed's requests.
//! Both can change while running ([`PerIpLimits::set`], on reload); the counts stay.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::sync::lock;

/// Limits per client IP address. A limit of 0 is no limit.
#[derive(Debug)]
pub struct PerIpLimits {
    max_streams: AtomicUsize,
    streams: Mutex<HashMap<IpAddr, usize>>,
    /// Writes per second, and as many in a burst.
    write_rate: AtomicU32,
    writes: RateBuckets,
}

/// Token buckets per client address, all with one rate and burst.
#[derive(Debug, Default)]
pub struct RateBuckets {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

/// A token bucket: `tokens` left at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Held while a stream is open; gives its place back when dropped.
#[derive(Debug)]
pub struct StreamPermit {
    limits: Arc<PerIpLimits>,
    ip: IpAddr,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut streams = lock(&self.limits.streams);
        if let Some(open) = streams.get_mut(&self.ip) {
            *open -= 1;
            if *open == 0 {
                streams.remove(&self.ip);
            }
        }
    }
}

impl PerIpLimits {
    pub fn new(max_streams: usize, write_rate: u32) -> Arc<Self> {
        Arc::new(Self {
            max_streams: AtomicUsize::new(max_streams),
            streams: Mutex::new(HashMap::new()),
            write_rate: AtomicU32::new(write_rate),
            writes: RateBuckets::default(),
        })
    }

    /// New limits, from the next stream and write on. Streams open beyond a lowered limit
    /// stay open; an address gets a new one once it is below it.
    pub fn set(&self, max_streams: usize, write_rate: u32) {
        self.max_streams.store(max_streams, Ordering::Relaxed);
        self.write_rate.store(write_rate, Ordering::Relaxed);
    }

    /// A place for one more stream from `ip`; `None` when it has as many as allowed.
    pub fn open_stream(self: &Arc<Self>, ip: IpAddr) -> Option<StreamPermit> {
        let mut streams = lock(&self.streams);
        let open = streams.entry(ip).or_default();
        let max_streams = self.max_streams.load(Ordering::Relaxed);
        if max_streams != 0 && *open >= max_streams {
            return None;
        }
        *open += 1;
        Some(StreamPermit {
            limits: self.clone(),
            ip,
        })
    }

    /// Takes one write from `ip`'s budget; `Err(seconds to wait)` when it is spent.
    pub fn write(&self, ip: IpAddr) -> Result<(), u64> {
        let rate = f64::from(self.write_rate.load(Ordering::Relaxed));
        self.writes.take(ip, rate, rate)
    }
}

impl RateBuckets {
    /// Takes one request from `ip`'s bucket, which refills at `per_second` up to `burst`;
    /// `Err(seconds to wait)` when it is empty. A rate of 0 is no limit.
    pub fn take(&self, ip: IpAddr, per_second: f64, burst: f64) -> Result<(), u64> {
        if per_second <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = lock(&self.buckets);
        // Forget addresses whose budget is full again, so the map stays as small as the set
        // of recent clients.
        if buckets.len() > 10_000 {
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < burst
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refilled = bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = refilled.min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn streams_are_counted_per_address_and_given_back() {
        let limits = PerIpLimits::new(2, 0);
        let a = limits.open_stream(IP).unwrap();
        let _b = limits.open_stream(IP).unwrap();
        assert!(limits.open_stream(IP).is_none());
        assert!(limits.open_stream("10.0.0.1".parse().unwrap()).is_some());
        drop(a);
        assert!(limits.open_stream(IP).is_some());
    }

    #[test]
    fn writes_beyond_the_burst_wait() {
        let limits = PerIpLimits::new(0, 3);
        for _ in 0..3 {
            assert!(limits.write(IP).is_ok());
        }
        assert_eq!(limits.write(IP), Err(1));
        assert!(PerIpLimits::new(0, 0).write(IP).is_ok(), "0 is no limit");
    }

    #[test]
    fn new_limits_apply_to_the_next_stream_and_write() {
        let limits = PerIpLimits::new(1, 1);
        let _a = limits.open_stream(IP).unwrap();
        assert!(limits.open_stream(IP).is_none());
        assert!(limits.write(IP).is_ok());
        assert!(limits.write(IP).is_err());
        limits.set(2, 0);
        assert!(limits.open_stream(IP).is_some(), "the raised limit");
        assert!(limits.write(IP).is_ok(), "0 is no limit");
    }
}
