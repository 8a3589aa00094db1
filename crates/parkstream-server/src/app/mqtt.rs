//! Wiring the MQTT ingest (`--mqtt-url`): its settings from the flags, and its task.

use anyhow::Context;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::ServeSettings;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::mqtt::{self, MqttSettings, Topics};
use crate::writer::Writer;

/// Starts the subscription (in `background`, until `stop`) and answers its health; `None`
/// without `--mqtt-url`.
///
/// # Errors
/// When the broker's address or CA file is unusable.
pub(super) fn start(
    settings: &ServeSettings,
    writer: &Writer,
    metrics: &std::sync::Arc<Metrics>,
    stop: &CancellationToken,
    background: &mut JoinSet<()>,
) -> anyhow::Result<Option<Health>> {
    let flags = &settings.mqtt;
    let Some(url) = flags.mqtt_url.clone() else {
        return Ok(None);
    };
    let ingest = MqttSettings {
        url,
        ca_file: flags.mqtt_ca_file.clone(),
        credentials: flags.mqtt_username.clone().map(|user| {
            let password = flags.mqtt_password.as_ref().map_or("", |p| p.expose());
            (user, password.to_owned())
        }),
        client_id: flags.mqtt_client_id.clone(),
        topics: Topics {
            counts: flags.mqtt_count_topic.clone(),
            gates: flags.mqtt_gate_topic.clone(),
        },
        dead_letter: flags.mqtt_dead_letter_topic.clone(),
        // Instances of a cluster share one subscription: each message is taken by one.
        shared: settings.redis_url.is_some(),
    };
    let options = mqtt::options(&ingest).context("--mqtt-url")?;
    let health = Health::default();
    background.spawn(mqtt::run(
        ingest,
        options,
        writer.clone(),
        metrics.clone(),
        health.clone(),
        stop.clone(),
    ));
    Ok(Some(health))
}
