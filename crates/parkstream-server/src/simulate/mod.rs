//! `parkstream simulate`: realistic traffic against a running server, through its public
//! API only. [`scenario`] decides what happens (deterministic for a seed); this module sends
//! it.

pub mod scenario;

use std::time::Duration;

use parkstream_protocol::api::ErrorBody;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use scenario::{Request, Scenario};

/// How the simulator runs.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// The server, `http://host:port`.
    pub url: String,
    pub seed: u64,
    /// Real time per tick (two simulated minutes).
    pub tick: Duration,
    /// Stop after this many ticks (`None`: until stopped).
    pub ticks: Option<u64>,
    /// An admin token (`None` for a server with `--auth none`).
    pub token: Option<String>,
}

/// Sends the scenario to the server until `stop` is cancelled or the ticks are done. Failed
/// requests are logged and the simulation goes on (the server may be restarting).
///
/// # Errors
/// When the URL is not an `http://` URL.
pub async fn run(options: SimulateOptions, stop: CancellationToken) -> anyhow::Result<()> {
    let base = options.url.trim_end_matches('/').to_owned();
    anyhow::ensure!(
        base.starts_with("http://") || base.starts_with("https://"),
        "--url must be an http:// or https:// URL, got {base:?}"
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let run = format!(
        "{}-{:x}",
        options.seed,
        parkstream_protocol::Timestamp::now().unix_millis()
    );
    let mut scenario = Scenario::new(options.seed, &run);
    let sender = Sender {
        http,
        base,
        token: options.token,
    };
    // Until the server answers, keep trying to set up (it may still be starting).
    loop {
        let mut ok = true;
        for request in scenario.setup() {
            ok &= sender.send(&request).await;
        }
        if ok {
            break;
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    tracing::info!(seed = options.seed, "simulation running");
    let mut interval = tokio::time::interval(options.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done = 0;
    while options.ticks.is_none_or(|limit| done < limit) {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        for request in scenario.next_tick() {
            sender.send(&request).await;
        }
        done += 1;
        if done % 30 == 0 {
            tracing::debug!(clock = %scenario.clock(), "simulated time");
        }
    }
    Ok(())
}

struct Sender {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Sender {
    /// Sends one request; false (and a log line) when it was not accepted.
    async fn send(&self, request: &Request) -> bool {
        match request {
            Request::PutLot { id, spec } => {
                self.call(reqwest::Method::PUT, &format!("/api/lots/{id}"), spec)
                    .await
            }
            Request::PutContractor { id, spec } => {
                self.call(
                    reqwest::Method::PUT,
                    &format!("/api/contractors/{id}"),
                    spec,
                )
                .await
            }
            Request::Gates(reports) => {
                self.call(reqwest::Method::POST, "/api/monitor/gate", reports)
                    .await
            }
            Request::Cameras(reports) => {
                self.call(reqwest::Method::POST, "/api/monitor/lot", reports)
                    .await
            }
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: &impl Serialize) -> bool {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url).json(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                let status = response.status();
                let error = response
                    .json::<ErrorBody>()
                    .await
                    .map(|e| e.error.message)
                    .unwrap_or_default();
                tracing::warn!(%status, path, error, "the server refused a simulated request");
                false
            }
            Err(err) => {
                tracing::warn!(path, error = %err, "a simulated request failed");
                false
            }
        }
    }
}
