//! One client of a load test: when each number was published, and what a stream received
//! of them (once, in order, how late), resuming by id when it is cut (`reconnect`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parkstream_client::EventStream;
use parkstream_protocol::sse::SseItem;

use super::{storm, Endpoints};

/// When each sequence number was published.
pub(super) struct SendTimes {
    origin: Instant,
    /// Nanoseconds after `origin`, plus one (zero: not sent yet), by sequence number.
    at: Vec<AtomicU64>,
}

impl SendTimes {
    pub(super) fn new(total: u64) -> Self {
        Self {
            origin: Instant::now(),
            at: (0..=total).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(super) fn record(&self, seq: u64) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        self.at[seq as usize].store(nanos + 1, Ordering::Release);
    }

    /// Whether the first number was published at least `span` ago.
    pub(super) fn published_for(&self, span: Duration) -> bool {
        self.at.len() > 1 && self.get(1).is_some_and(|at| at.elapsed() >= span)
    }

    pub(super) fn get(&self, seq: u64) -> Option<Instant> {
        match self.at[seq as usize].load(Ordering::Acquire) {
            0 => None,
            nanos => Some(self.origin + Duration::from_nanos(nanos - 1)),
        }
    }
}

/// The number right after `prefix` in `data`.
fn sequence_number(data: &str, prefix: &str) -> Option<u64> {
    let rest = &data[data.find(prefix)? + prefix.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// What one client saw.
pub(super) struct Seen {
    pub(super) delivered: u64,
    pub(super) duplicates: u64,
    pub(super) out_of_order: u64,
    /// The order the events came in, folded into one number: streams that got the same
    /// events in the same order have the same fingerprint.
    pub(super) order: u64,
    pub(super) latencies_us: Vec<u32>,
}

/// How cut streams are opened again (`reconnect`).
pub(super) struct Resume {
    pub(super) storm: storm::Storm,
    pub(super) http: reqwest::Client,
    pub(super) token: Option<String>,
}

/// Reads one stream until every event arrived or the stream stayed quiet for the drain time;
/// with `resume`, a stream that ends is opened again after the last id it received.
pub(super) async fn receive(
    mut events: EventStream,
    sent: Arc<SendTimes>,
    total: u64,
    ready: tokio::sync::mpsc::Sender<()>,
    endpoints: Arc<Endpoints>,
    resume: Option<Arc<Resume>>,
) -> Seen {
    // Quiet this long, a stream is done; through a restart the quiet lasts as long as the
    // server is away.
    let drain = if resume.is_some() {
        Duration::from_secs(30)
    } else {
        Duration::from_secs(5)
    };
    let mut seen = Seen {
        delivered: 0,
        duplicates: 0,
        out_of_order: 0,
        order: 0xcbf2_9ce4_8422_2325,
        latencies_us: Vec::new(),
    };
    let mut got = vec![false; total as usize + 1];
    let mut highest = 0;
    let mut announced = false;
    let mut last_id: Option<String> = None;
    if !endpoints.announces {
        let _ = ready.send(()).await;
        announced = true;
    }
    while seen.delivered < total {
        let next = match tokio::time::timeout(drain, events.next()).await {
            Ok(next) => next,
            // Streams opened first wait, quiet, while the others open (10,000 take seconds):
            // the drain counts from the first publication, not from the stream's opening.
            Err(_) if !sent.published_for(drain) => continue,
            Err(_) => break,
        };
        let Some(Ok(item)) = next else {
            match &resume {
                Some(resume) => {
                    let token = resume.token.as_deref();
                    let (http, client) = (&resume.http, &endpoints.stream);
                    match resume
                        .storm
                        .reopen(http, client, token, last_id.as_deref())
                        .await
                    {
                        Some(reopened) => {
                            events = reopened;
                            continue;
                        }
                        None => break,
                    }
                }
                None => break,
            }
        };
        let now = Instant::now();
        let SseItem::Event(event) = item else {
            continue;
        };
        if endpoints.announces && event.event == "connected" {
            if !std::mem::replace(&mut announced, true) {
                let _ = ready.send(()).await;
            }
            continue;
        }
        let Some(seq) = sequence_number(&event.data, &endpoints.seq_prefix)
            .filter(|seq| (1..=total).contains(seq))
        else {
            continue;
        };
        if resume.is_some() {
            // Through a restart a publication whose answer was lost is posted again and
            // stored twice, under two ids: that is the publisher's doing. What the server
            // must not do is send an id again, so duplicates are counted by id here.
            let id = event.id.as_deref().and_then(|id| id.parse::<u64>().ok());
            let last = last_id.as_deref().and_then(|id| id.parse::<u64>().ok());
            if id.is_some() && id <= last {
                seen.duplicates += 1;
                continue;
            }
            last_id.clone_from(&event.id);
            if got[seq as usize] {
                continue;
            }
        }
        if std::mem::replace(&mut got[seq as usize], true) {
            seen.duplicates += 1;
            continue;
        }
        if seq < highest {
            seen.out_of_order += 1;
        }
        highest = highest.max(seq);
        // FNV-1a over the sequence numbers: cheap, and a different order gives a different
        // fingerprint.
        seen.order = (seen.order ^ seq).wrapping_mul(0x0100_0000_01b3);
        seen.delivered += 1;
        if let Some(at) = sent.get(seq) {
            let micros = now.saturating_duration_since(at).as_micros();
            seen.latencies_us
                .push(u32::try_from(micros).unwrap_or(u32::MAX));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::sequence_number;

    #[test]
    fn the_sequence_number_is_the_digits_after_the_first_prefix() {
        let data = r#"{"parkingLotId":"loadtest","occupied":42,"totalSlots":7}"#;
        assert_eq!(sequence_number(data, r#""occupied":"#), Some(42));
        assert_eq!(sequence_number("seq=7 seq=8", "seq="), Some(7));
        assert_eq!(sequence_number(r#"{"seq":"x"}"#, r#""seq":"#), None);
        assert_eq!(sequence_number("nothing", "seq="), None);
    }
}
