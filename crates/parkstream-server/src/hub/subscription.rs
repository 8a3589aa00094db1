//! A subscriber's side: the byte stream an SSE response sends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::{Hub, Slot, Start};
use crate::metrics::ReasonLabel;
use crate::sync::read;

/// Most bytes gathered into one chunk; the rest follows at the next poll.
const MAX_CHUNK_BYTES: usize = 256 * 1024;

/// A registered stream, before it is turned into a response body. Dropping it unregisters.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    id: u64,
    slot: Arc<Slot>,
    start: Start,
}

impl Subscription {
    pub(super) fn new(hub: Hub, id: u64, slot: Arc<Slot>, start: Start) -> Self {
        Self {
            hub,
            id,
            slot,
            start,
        }
    }

    /// How the stream starts (fresh, resumed, or reset).
    pub fn start(&self) -> Start {
        self.start
    }

    /// The response body: `head` (the frames before any event), then the events after the
    /// stream's cursor (the replay, if any, then live ones), until the hub closes its streams
    /// ([`Hub::close_streams`]) or drops this one, or the `deadline` passes.
    pub fn into_stream(self, head: BytesMut, deadline: Option<tokio::time::Instant>) -> SseStream {
        let pings_seen = self.hub.inner.ping_generation.load(Ordering::Acquire);
        SseStream {
            head: (!head.is_empty()).then(|| head.freeze()),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            drain: Duration::ZERO,
            closing: None,
            pings_seen,
            subscription: self,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unsubscribe(self.id);
    }
}

/// The body of an SSE response. Every frame pending since the last write goes out in one
/// chunk, so a busy stream costs one write per wake-up, not one per event.
#[derive(Debug)]
pub struct SseStream {
    head: Option<Bytes>,
    /// When the stream's token expires.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// On shutdown the stream ends at a random moment within this window.
    drain: Duration,
    /// Set once shutdown began: when this stream ends.
    closing: Option<Pin<Box<tokio::time::Sleep>>>,
    pings_seen: u64,
    subscription: Subscription,
}

/// Frames gathered for one write: the first is shared as is, more are copied together.
#[derive(Default)]
struct Chunk {
    first: Option<Bytes>,
    more: Option<BytesMut>,
    frames: u64,
}

impl Chunk {
    fn push(&mut self, frame: &Bytes) {
        self.frames += 1;
        match (&self.first, &mut self.more) {
            (None, _) => self.first = Some(frame.clone()),
            (Some(first), None) => {
                let mut buf = BytesMut::with_capacity((first.len() + frame.len()) * 4);
                buf.extend_from_slice(first);
                buf.extend_from_slice(frame);
                self.more = Some(buf);
            }
            (Some(_), Some(buf)) => buf.extend_from_slice(frame),
        }
    }

    fn len(&self) -> usize {
        match (&self.first, &self.more) {
            (_, Some(buf)) => buf.len(),
            (Some(first), None) => first.len(),
            (None, None) => 0,
        }
    }

    fn into_bytes(self) -> Option<Bytes> {
        match (self.first, self.more) {
            (_, Some(buf)) => Some(buf.freeze()),
            (first, None) => first,
        }
    }
}

impl SseStream {
    /// On shutdown, end at a random moment within `drain` instead of at once.
    #[must_use]
    pub fn closing_over(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }
}

impl Stream for SseStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let hub = &this.subscription.hub.inner;
        let slot = &this.subscription.slot;
        // Register before looking, so an event published (or a close) after the look wakes us.
        slot.waker.register(cx.waker());
        if this.closing.is_none() && hub.closing.load(Ordering::Acquire) {
            if this.drain.is_zero() {
                return Poll::Ready(None);
            }
            let after = this.drain.mul_f64(rand::random::<f64>());
            this.closing = Some(Box::pin(tokio::time::sleep(after)));
        }
        if let Some(closing) = &mut this.closing {
            if closing.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        if let Some(deadline) = &mut this.deadline {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        }
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        if slot.dropped.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }

        let mut chunk = Chunk::default();
        let pings = hub.ping_generation.load(Ordering::Acquire);
        if pings != this.pings_seen {
            this.pings_seen = pings;
            chunk.push(&read(&hub.ping_frame));
        } else if slot.cursor.load(Ordering::Relaxed) >= hub.newest_seq.load(Ordering::Acquire) {
            // Nothing new; the waker registered above hears of the next event.
            return Poll::Pending;
        }
        let mut oldest_event = None;
        {
            let window = read(&hub.window);
            let mut cursor = slot.cursor.load(Ordering::Relaxed);
            // Events it has not examined left the window. They matter only if one was its
            // own: the oldest it was offered and has not examined (`from`) is gone. (Every
            // publication is offered before the next one evicts anything, and the window's
            // lock orders those offers before this look.) A stream watching a quiet lot just
            // moves on.
            let from = slot.backlog.from.load(Ordering::Relaxed);
            if !window.holds_after(cursor) && (from <= cursor || from >= window.first_seq()) {
                cursor = window.first_seq() - 1;
            }
            if !window.holds_after(cursor) {
                // Events it wanted were evicted: end, so the client reconnects and is told
                // to reset.
                drop(window);
                slot.dropped.store(true, Ordering::Release);
                hub.metrics
                    .subscribers_dropped
                    .get_or_create(&ReasonLabel { reason: "evicted" })
                    .inc();
                return Poll::Ready(None);
            }
            for (seq, event) in window.after(cursor) {
                if chunk.len() >= MAX_CHUNK_BYTES {
                    // Leave the rest for the next poll, which comes as soon as this is written.
                    cx.waker().wake_by_ref();
                    break;
                }
                cursor = seq;
                if let Some(frame) = slot.filter.select(event) {
                    oldest_event.get_or_insert(event.published_at);
                    chunk.push(frame);
                }
            }
            slot.cursor.store(cursor, Ordering::Release);
        }

        if let Some(published_at) = oldest_event {
            hub.metrics
                .delivery_latency
                .observe(published_at.elapsed().as_secs_f64());
        }
        if chunk.frames > 0 {
            hub.metrics.frames_delivered.inc_by(chunk.frames);
        }
        match chunk.into_bytes() {
            Some(bytes) => Poll::Ready(Some(Ok(bytes))),
            None => Poll::Pending,
        }
    }
}
