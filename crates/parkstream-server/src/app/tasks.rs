//! The loops that run beside the server until it stops: pings on every stream, the clock of
//! the time-based rules, and the demo's simulator.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::cluster::Leadership;
use crate::hub::Hub;
use crate::simulate;
use crate::writer::Writer;

/// Sends a `ping` on every stream every `every`.
pub(super) async fn ping_loop(hub: Hub, every: Duration, stop: CancellationToken) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await; // the first tick is immediate
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => hub.ping(),
        }
    }
}

/// Lets the time-based rules (silent cameras, overstays) run: every quarter of the camera
/// timeout, at least every second, at most every 50 ms. In a cluster only the leader's clock
/// ticks (its ticks also append events a failed append left behind).
pub(super) async fn clock_loop(
    writer: Writer,
    camera_timeout: Duration,
    mut leadership: Option<Leadership>,
    stop: CancellationToken,
) {
    let every = (camera_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {
                let leads = match leadership.as_mut() {
                    Some(leadership) => leadership.check().await,
                    None => true,
                };
                if leads {
                    writer.tick(camera_timeout).await;
                }
            }
        }
    }
}

/// `--demo`: the simulator drives this server at `url` until `stop`.
pub(super) async fn demo(url: String, token: Option<String>, stop: CancellationToken) {
    let options = simulate::SimulateOptions {
        url,
        seed: 1,
        tick: Duration::from_millis(500),
        ticks: None,
        token,
    };
    if let Err(err) = simulate::run(options, stop).await {
        tracing::error!(error = %err, "the demo simulator stopped");
    }
}
