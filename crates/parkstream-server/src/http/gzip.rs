//! Opt-in gzip for streams (`--stream-gzip`): one encoder per stream, flushed after every
//! chunk, so each event still arrives at once, only smaller.
//!
//! An encoder keeps its compression state for as long as the stream lasts (about 140 KiB
//! with `flate2`'s default backend, measured in docs/performance.md), far more than an
//! uncompressed stream (2 KiB). So the number of compressed streams is capped
//! (`--max-gzip-streams`); above it, clients get the plain stream, which every SSE client
//! reads too.

use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_util::Stream;

/// How many compressed streams may be open; shared by every request.
#[derive(Debug)]
pub struct GzipSlots {
    open: AtomicUsize,
    max: usize,
}

/// Held by a compressed stream; frees its slot when dropped.
#[derive(Debug)]
pub struct GzipSlot(Arc<GzipSlots>);

impl Drop for GzipSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl GzipSlots {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            open: AtomicUsize::new(0),
            max,
        })
    }

    /// A slot, unless `max` compressed streams are open.
    pub fn take(self: &Arc<Self>) -> Option<GzipSlot> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < self.max).then_some(open + 1)
            })
            .ok()
            .map(|_| GzipSlot(self.clone()))
    }
}

/// Whether an `Accept-Encoding` value accepts gzip (`gzip` or `*`, with a non-zero weight).
pub fn accepts_gzip(accept_encoding: &str) -> bool {
    accept_encoding.split(',').any(|coding| {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim();
        let weight = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
        (name.eq_ignore_ascii_case("gzip") || name == "*") && weight > 0.0
    })
}

/// A stream's chunks, gzip-compressed, each flushed (`Z_SYNC_FLUSH`) so it can be decoded
/// as soon as it arrives; the gzip trailer follows the last chunk.
pub struct Gzipped<S> {
    inner: S,
    encoder: Option<GzEncoder<Vec<u8>>>,
    _slot: GzipSlot,
}

impl<S> std::fmt::Debug for Gzipped<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gzipped").finish_non_exhaustive()
    }
}

impl<S> Gzipped<S> {
    pub fn new(inner: S, slot: GzipSlot) -> Self {
        Self {
            inner,
            // Fast: events are small and latency matters more than the last few percent.
            encoder: Some(GzEncoder::new(Vec::new(), Compression::fast())),
            _slot: slot,
        }
    }
}

impl<S> Stream for Gzipped<S>
where
    S: Stream<Item = Result<Bytes, Infallible>> + Unpin,
{
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(encoder) = this.encoder.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                // Writing into a Vec cannot fail.
                encoder.write_all(&chunk).expect("in memory");
                encoder.flush().expect("in memory");
                Poll::Ready(Some(Ok(Bytes::from(std::mem::take(encoder.get_mut())))))
            }
            Poll::Ready(None) => {
                let trailer = this
                    .encoder
                    .take()
                    .map(|encoder| encoder.finish().expect("in memory"))
                    .unwrap_or_default();
                Poll::Ready(Some(Ok(Bytes::from(trailer))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_accept_encoding() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("br, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn slots_are_capped_and_freed() {
        let slots = GzipSlots::new(1);
        let first = slots.take().expect("one slot");
        assert!(slots.take().is_none());
        drop(first);
        assert!(slots.take().is_some());
    }

    #[test]
    fn every_chunk_decodes_as_soon_as_it_is_sent() {
        use futures_util::{FutureExt, StreamExt};
        let frames = ["event: a\ndata: 1\n\n", "event: b\ndata: 2\n\n"];
        let source =
            futures_util::stream::iter(frames.map(|f| Ok(Bytes::from_static(f.as_bytes()))));
        let mut gzipped = Gzipped::new(source, GzipSlots::new(1).take().unwrap());
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        for frame in frames {
            let Some(Some(Ok(chunk))) = gzipped.next().now_or_never() else {
                panic!("a chunk")
            };
            decoder.write_all(&chunk).unwrap();
            decoder.flush().unwrap();
            assert_eq!(std::mem::take(decoder.get_mut()), frame.as_bytes());
        }
        let Some(Some(Ok(trailer))) = gzipped.next().now_or_never() else {
            panic!("the trailer")
        };
        decoder.write_all(&trailer).unwrap();
        assert!(decoder.finish().unwrap().is_empty());
        assert!(gzipped.next().now_or_never() == Some(None));
    }
}
