//! A subscriber's side: its replay, its queue, and the byte stream an SSE response sends.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::{PublishedEvent, Registration, Replay};
use crate::metrics::Metrics;

/// Most queued frames merged into one write.
const MAX_FRAMES_PER_WRITE: usize = 256;

/// A registered stream, before it is turned into a response body.
#[derive(Debug)]
pub struct Subscription {
    replay: Replay,
    rx: mpsc::Receiver<Arc<PublishedEvent>>,
    registration: Registration,
    metrics: Arc<Metrics>,
}

impl Subscription {
    pub(super) fn new(
        replay: Replay,
        rx: mpsc::Receiver<Arc<PublishedEvent>>,
        registration: Registration,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            replay,
            rx,
            registration,
            metrics,
        }
    }

    /// What the stream replays before live events.
    pub fn replay(&self) -> &Replay {
        &self.replay
    }

    #[cfg(test)]
    pub(super) fn try_recv(&mut self) -> Result<Arc<PublishedEvent>, mpsc::error::TryRecvError> {
        self.rx.try_recv()
    }

    /// The response body: `head` (the frames before any event), the replay, then live events,
    /// until `end` is cancelled or the hub drops the subscriber.
    pub fn into_stream(self, mut head: BytesMut, end: CancellationToken) -> SseStream {
        let mut replayed = 0;
        if let Replay::Events(events) = &self.replay {
            for event in events {
                head.extend_from_slice(&event.frame);
            }
            replayed = events.len() as u64;
        }
        self.metrics.frames_delivered.inc_by(replayed);
        SseStream {
            head: Some(head.freeze()),
            rx: self.rx,
            batch: Vec::new(),
            end: Box::pin(end.cancelled_owned()),
            metrics: self.metrics,
            _registration: self.registration,
        }
    }
}

/// The body of an SSE response. Every frame queued since the last write goes out in one
/// chunk, so a busy stream costs one write per wake-up, not one per event.
#[derive(Debug)]
pub struct SseStream {
    head: Option<Bytes>,
    rx: mpsc::Receiver<Arc<PublishedEvent>>,
    batch: Vec<Arc<PublishedEvent>>,
    end: Pin<Box<WaitForCancellationFutureOwned>>,
    metrics: Arc<Metrics>,
    _registration: Registration,
}

impl Stream for SseStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.end.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        if let Some(head) = this.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        match this
            .rx
            .poll_recv_many(cx, &mut this.batch, MAX_FRAMES_PER_WRITE)
        {
            Poll::Ready(0) => Poll::Ready(None),
            Poll::Ready(n) => {
                let oldest = &this.batch[0];
                if oldest.id != 0 {
                    this.metrics
                        .delivery_latency
                        .observe(oldest.published_at.elapsed().as_secs_f64());
                }
                this.metrics.frames_delivered.inc_by(n as u64);
                let chunk = if n == 1 {
                    oldest.frame.clone()
                } else {
                    let len = this.batch.iter().map(|e| e.frame.len()).sum();
                    let mut buf = BytesMut::with_capacity(len);
                    for event in &this.batch {
                        buf.extend_from_slice(&event.frame);
                    }
                    buf.freeze()
                };
                this.batch.clear();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
