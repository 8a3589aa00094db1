//! `parkstream loadtest --reconnect`: streams that resume by id when the server goes away, as
//! dashboards do, to measure a restart under load (scenario S7 of docs/performance.md).
//!
//! A stream that ends asks again with `Last-Event-ID` until it is answered 200: every answer
//! other than 200 is counted by status (and whether it carried `Retry-After`, which it
//! waits out), a connection that could not be made is counted as unreachable. The report gives
//! when the streams were cut (spread by the server's drain) and how long each was away.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parkstream_client::{Client, EventStream};
use serde::Serialize;

use super::Percentiles;

/// How long a stream waits before asking again when it was given no `Retry-After`.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// How long a stream keeps asking before it gives up (and counts as not back).
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// What every stream's reconnections add up to.
#[derive(Debug, Default)]
pub(super) struct Storm {
    inner: Mutex<Tally>,
}

#[derive(Debug, Default)]
struct Tally {
    /// When each cut happened and how long its stream was away.
    cuts: Vec<(Instant, Duration)>,
    answers: BTreeMap<u16, u64>,
    without_retry_after: u64,
    unreachable: u64,
    gave_up: u64,
}

/// The reconnections of a load test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StormReport {
    /// Streams cut (ended by the server or broken) and opened again.
    pub reconnects: u64,
    /// When the cuts happened, in milliseconds after the first.
    pub cut_spread_ms: Percentiles,
    /// How long a cut stream was away, until it was answered 200 again.
    pub away_ms: Percentiles,
    /// From the first cut to the last stream back.
    pub all_back_ms: f64,
    /// Answers other than 200 to a reconnection, by status.
    pub answers: BTreeMap<u16, u64>,
    /// Of those, answers without a `Retry-After`.
    pub without_retry_after: u64,
    /// Attempts that found nothing listening.
    pub unreachable: u64,
    /// Streams that were not back within a minute.
    pub gave_up: u64,
}

impl Storm {
    /// Opens `client`'s stream again after `last_id`, asking until it is answered 200;
    /// `None` after [`GIVE_UP_AFTER`].
    pub(super) async fn reopen(
        &self,
        http: &reqwest::Client,
        client: &Client,
        token: Option<&str>,
        last_id: Option<&str>,
    ) -> Option<EventStream> {
        let cut = Instant::now();
        while cut.elapsed() < GIVE_UP_AFTER {
            let mut request = http
                .get(client.url())
                .header(reqwest::header::ACCEPT, "text/event-stream");
            if let Some(id) = last_id {
                request = request.header("Last-Event-ID", id);
            }
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let mut tally = self.inner.lock().expect("storm tally");
                    tally.cuts.push((cut, cut.elapsed()));
                    return Some(EventStream::from_response(response));
                }
                Ok(response) => {
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                    let mut tally = self.inner.lock().expect("storm tally");
                    *tally.answers.entry(response.status().as_u16()).or_default() += 1;
                    tally.without_retry_after += u64::from(retry_after.is_none());
                    retry_after.map_or(RETRY_EVERY, Duration::from_secs)
                }
                Err(_) => {
                    self.inner.lock().expect("storm tally").unreachable += 1;
                    RETRY_EVERY
                }
            };
            tokio::time::sleep(wait).await;
        }
        self.inner.lock().expect("storm tally").gave_up += 1;
        None
    }

    /// What the reconnections add up to.
    pub(super) fn report(&self) -> StormReport {
        let tally = self.inner.lock().expect("storm tally");
        let first = tally.cuts.iter().map(|(at, _)| *at).min();
        let mut spread: Vec<f64> = tally
            .cuts
            .iter()
            .zip(std::iter::repeat(first))
            .filter_map(|((at, _), first)| Some(at.duration_since(first?).as_secs_f64()))
            .collect();
        spread.sort_unstable_by(f64::total_cmp);
        let mut away: Vec<f64> = tally.cuts.iter().map(|(_, d)| d.as_secs_f64()).collect();
        away.sort_unstable_by(f64::total_cmp);
        let all_back = tally
            .cuts
            .iter()
            .map(|(at, d)| *at + *d)
            .max()
            .zip(first)
            .map_or(0.0, |(last, first)| {
                last.duration_since(first).as_secs_f64()
            });
        StormReport {
            reconnects: tally.cuts.len() as u64,
            cut_spread_ms: Percentiles::of_sorted(&spread, 1000.0),
            away_ms: Percentiles::of_sorted(&away, 1000.0),
            all_back_ms: all_back * 1000.0,
            answers: tally.answers.clone(),
            without_retry_after: tally.without_retry_after,
            unreachable: tally.unreachable,
            gave_up: tally.gave_up,
        }
    }
}
