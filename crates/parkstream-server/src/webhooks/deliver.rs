//! The delivery task: every few hundred milliseconds, finds the endpoints whose oldest queued
//! event is due, and for each (one task per endpoint, so one request in flight per endpoint)
//! sends its queue in order until it is empty or an attempt fails.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parkstream_protocol::Timestamp;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::{sign, target, WebhookOptions, MAX_ANSWER_BYTES};
use crate::metrics::{Metrics, ResultLabel};
use crate::store::{AttemptOutcome, AttemptRow, OutboxRow, Store, WebhookRow};

/// How often due endpoints are looked for.
const POLL: Duration = Duration::from_millis(250);
/// Polls between two counts of the outbox (for its gauge): once a second.
const GAUGE_EVERY: u64 = 4;
/// The first retry's longest delay; each further one doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// How long a lease outlives the attempt it covers, should its instance die mid-attempt.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// What delivering needs.
#[derive(Debug)]
pub struct Delivery {
    store: Store,
    client: reqwest::Client,
    options: WebhookOptions,
    metrics: Arc<Metrics>,
    /// This instance's name on the leases it takes.
    owner: String,
}

impl Delivery {
    /// # Errors
    /// When the HTTP client cannot be built (no TLS roots).
    pub fn new(
        store: Store,
        options: WebhookOptions,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // A redirect could lead anywhere, private addresses included: not followed.
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(target::PublicResolver {
                allow_private: options.allow_private,
            }))
            .user_agent(concat!("parkstream/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            store,
            client,
            options,
            metrics,
            owner: uuid::Uuid::new_v4().to_string(),
        })
    }
}

/// Delivers until `stop`; attempts in flight then are abandoned (and sent again later: the
/// outbox keeps them until an answer is recorded).
pub async fn run(delivery: Arc<Delivery>, stop: CancellationToken) {
    let busy = Arc::new(Mutex::new(HashSet::<String>::new()));
    let mut workers = JoinSet::new();
    let mut ticks = 0u64;
    let mut interval = tokio::time::interval(POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        while workers.try_join_next().is_some() {}
        ticks += 1;
        if ticks % GAUGE_EVERY == 0 {
            match delivery.store.webhook_outbox_pending().await {
                Ok(pending) => {
                    delivery.metrics.webhook_outbox_pending.set(pending);
                }
                Err(err) => tracing::warn!(error = %err, "cannot count the webhook outbox"),
            }
        }
        let due = match delivery.store.due_webhooks(now_ms(), &delivery.owner).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the webhook outbox");
                continue;
            }
        };
        for id in due {
            if !busy.lock().expect("not poisoned").insert(id.clone()) {
                continue;
            }
            let (delivery, busy) = (delivery.clone(), busy.clone());
            workers.spawn(async move {
                drain(&delivery, &id).await;
                let _ = delivery.store.release_webhook(&id, &delivery.owner).await;
                busy.lock().expect("not poisoned").remove(&id);
            });
        }
    }
    workers.shutdown().await;
    let held: Vec<String> = busy.lock().expect("not poisoned").drain().collect();
    for id in held {
        let _ = delivery.store.release_webhook(&id, &delivery.owner).await;
    }
}

/// Sends endpoint `id`'s due events in order while they succeed and this instance holds the
/// endpoint's lease.
async fn drain(delivery: &Delivery, id: &str) {
    let lease = (delivery.options.timeout + LEASE_MARGIN).as_millis() as i64;
    let attempt_ms = delivery.options.timeout.as_millis() as i64;
    // Until when this instance holds the lease; renewed only when an attempt might outlast
    // it, which spares a durable write per event.
    let mut held_until = 0;
    loop {
        let now = now_ms();
        let step = async {
            if held_until - now < attempt_ms + 1_000 {
                let until = now + lease;
                if !delivery
                    .store
                    .lease_webhook(id, &delivery.owner, now, until)
                    .await?
                {
                    return Ok(false);
                }
                held_until = until;
            }
            let (Some(head), Some(endpoint)) = (
                delivery.store.webhook_head(id).await?,
                delivery.store.webhook(id).await?,
            ) else {
                return Ok(false);
            };
            if head.next_attempt_at > now || endpoint.disabled_at.is_some() {
                return Ok(false);
            }
            attempt(delivery, &endpoint, &head).await
        };
        match step.await {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::warn!(webhook = id, error = %err, "webhook delivery bookkeeping failed");
                return;
            }
        }
    }
}

/// One attempt at `head`; answers whether it was delivered.
async fn attempt(
    delivery: &Delivery,
    endpoint: &WebhookRow,
    head: &OutboxRow,
) -> Result<bool, crate::store::StoreError> {
    let started = Instant::now();
    let result = send(delivery, endpoint, head).await;
    let elapsed = started.elapsed();
    delivery
        .metrics
        .webhook_delivery_duration
        .observe(elapsed.as_secs_f64());
    let now = now_ms();
    let number = head.attempts + 1;
    let (status, error) = match &result {
        Ok(status) => (Some(i64::from(*status)), None),
        Err(Failure { status, error }) => (status.map(i64::from), Some(error.clone())),
    };
    let outcome = if result.is_ok() {
        AttemptOutcome::Delivered
    } else {
        let first_failed_at = head.first_failed_at.unwrap_or(now);
        let horizon = delivery.options.retry_horizon.as_millis() as i64;
        if now - first_failed_at >= horizon {
            AttemptOutcome::GiveUp
        } else {
            AttemptOutcome::Retry {
                next_attempt_at: now + backoff(number).as_millis() as i64,
                first_failed_at,
            }
        }
    };
    let record = AttemptRow {
        event_id: head.event_id,
        attempt: number,
        at: Timestamp::now().to_string(),
        status,
        error,
        latency_ms: elapsed.as_millis() as i64,
    };
    delivery
        .store
        .record_webhook_attempt(&endpoint.id, &record, outcome)
        .await?;
    let result = match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry { .. } => "failed",
        AttemptOutcome::GiveUp => {
            tracing::error!(
                webhook = endpoint.id,
                url = endpoint.settings.url,
                "webhook deliveries failed past --webhook-retry-horizon: endpoint disabled, its queue dropped; PUT it again to enable it"
            );
            "abandoned"
        }
    };
    delivery
        .metrics
        .webhook_deliveries
        .get_or_create(&ResultLabel { result })
        .inc();
    Ok(outcome == AttemptOutcome::Delivered)
}

/// Why an attempt failed: the status of a non-2xx answer, or no answer.
struct Failure {
    status: Option<u16>,
    error: String,
}

/// POSTs the event; answers the (2xx) status.
async fn send(
    delivery: &Delivery,
    endpoint: &WebhookRow,
    head: &OutboxRow,
) -> Result<u16, Failure> {
    let failure = |error: String| Failure {
        status: None,
        error,
    };
    let url = target::parse_url(&endpoint.settings.url).map_err(failure)?;
    // Addresses in the URL itself never reach the resolver.
    if let Some(ip) = url.host_str().and_then(|h| {
        h.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .ok()
    }) {
        if !delivery.options.allow_private && target::is_private(ip) {
            return Err(failure(format!(
                "{ip} is a private or local address (see --webhook-allow-private)"
            )));
        }
    }
    let body = body(head);
    let id = head.event_id.to_string();
    let timestamp = Timestamp::now().unix_millis() / 1000;
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until) {
        if until > now_ms() {
            secrets.push(previous);
        }
    }
    let request = delivery
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header(
            "webhook-signature",
            sign::signatures(&secrets, &id, timestamp, &body),
        )
        .body(body);
    let mut response = request.send().await.map_err(|e| failure(describe(&e)))?;
    let status = response.status().as_u16();
    // Read a little of the answer (so the connection can be reused), never all of it.
    let mut read = 0;
    while read < MAX_ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            Ok(None) => break,
            Err(err) => {
                return Err(Failure {
                    status: Some(status),
                    error: describe(&err),
                })
            }
        }
    }
    if response.status().is_success() {
        Ok(status)
    } else {
        Err(Failure {
            status: Some(status),
            error: format!("answered {status}"),
        })
    }
}

/// The delivery's body: the event's type, time and data (as on the stream).
pub fn body(head: &OutboxRow) -> String {
    format!(
        r#"{{"type":{},"timestamp":{},"data":{}}}"#,
        serde_json::Value::from(head.event_type.as_str()),
        serde_json::Value::from(head.created_at.as_str()),
        head.data
    )
}

/// An HTTP error with its causes, shortest useful form.
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        return "timed out".into();
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The delay before attempt `failed + 1`: uniformly random up to `FIRST_BACKOFF × 2^(failed -
/// 1)`, at most [`MAX_BACKOFF`] (exponential backoff with full jitter), and never below 100 ms.
fn backoff(failed: i64) -> Duration {
    let exponent = u32::try_from(failed.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    let ceiling = FIRST_BACKOFF.saturating_mul(1 << exponent).min(MAX_BACKOFF);
    let jittered = ceiling.mul_f64(rand::random::<f64>());
    jittered.max(Duration::from_millis(100))
}

fn now_ms() -> i64 {
    Timestamp::now().unix_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_full_jitter_up_to_an_hour() {
        for _ in 0..100 {
            assert!(backoff(1) <= Duration::from_secs(1));
            assert!(backoff(3) <= Duration::from_secs(4));
            assert!(backoff(40) <= MAX_BACKOFF);
            assert!(backoff(1) >= Duration::from_millis(100));
        }
        let spread: HashSet<u128> = (0..20).map(|_| backoff(10).as_millis()).collect();
        assert!(spread.len() > 1, "jittered");
    }

    #[test]
    fn the_body_carries_the_event_as_on_the_stream() {
        let head = OutboxRow {
            event_id: 7,
            event_type: "alert".into(),
            data: r#"{"id":"a1"}"#.into(),
            created_at: "2026-01-01T00:00:00.000Z".into(),
            attempts: 0,
            next_attempt_at: 0,
            first_failed_at: None,
        };
        let body: serde_json::Value = serde_json::from_str(&body(&head)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"type": "alert", "timestamp": "2026-01-01T00:00:00.000Z", "data": {"id": "a1"}})
        );
    }
}
