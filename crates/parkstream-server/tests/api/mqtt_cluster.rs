//! MQTT ingest in a cluster: the instances share one subscription, so the broker hands each
//! message to one of them and it is stored once, whichever takes it.

use std::time::Duration;

use rumqttc::QoS;
use serde_json::json;

use crate::cluster::Meeting;
use crate::mqtt::{client, mosquitto_installed, ready_mqtt, start_broker, wait_until};

const LOT: &str = "shared";
const MESSAGES: u64 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_subscription_and_store_each_message_once() {
    if !mosquitto_installed() {
        return;
    }
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path()).await;
    let mut instances = Vec::new();
    for name in ["a", "b", "c"] {
        let url = format!("mqtt://127.0.0.1:{port}");
        instances.push(
            meeting
                .instance_with(move |s| {
                    s.mqtt.mqtt_url = Some(url);
                    s.mqtt.mqtt_client_id = format!("parkstream-{name}");
                })
                .await,
        );
    }
    instances[0].put_lot(LOT, 100_000).await;
    for app in &instances {
        let base = format!("http://{}", app.addr);
        wait_until(|| async { ready_mqtt(&app.http, &base).await }).await;
        wait_until(|| async {
            app.http
                .get(app.url(&format!("/api/lots/{LOT}")))
                .send()
                .await
                .unwrap()
                .status()
                == 200
        })
        .await;
    }

    // Entries without an eventId: a message taken by two instances would count twice.
    let (publisher, _) = client(port, "publisher", None).await;
    for n in 0..MESSAGES {
        let body = json!({"event": "vehicle_entry", "plateNumber": format!("P{n}")});
        publisher
            .publish(
                format!("parking/{LOT}/gate"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await
            .unwrap();
    }

    for app in &instances {
        wait_until(|| async {
            app.get_json(&format!("/api/lots/{LOT}")).await["occupied"] == MESSAGES
        })
        .await;
    }
    // Nothing arrives late as a second copy.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut taken = Vec::new();
    for app in &instances {
        assert_eq!(
            app.get_json(&format!("/api/lots/{LOT}")).await["occupied"],
            MESSAGES
        );
        taken.push(
            app.metric("parkstream_mqtt_messages_total{result=\"stored\"}")
                .await as u64,
        );
    }
    assert_eq!(
        taken.iter().sum::<u64>(),
        MESSAGES,
        "stored per instance: {taken:?}"
    );
    assert!(
        taken.iter().filter(|&&n| n > 0).count() >= 2,
        "the broker spreads the shared subscription: {taken:?}"
    );
}
