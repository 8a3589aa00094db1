//! `parkstream simulate` against the real server: a whole day, fast-forwarded, produces the
//! situations the dashboard is meant to show.

use std::time::Duration;

use parkstream_server::simulate::{self, SimulateOptions};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::helpers::spawn_app_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_day_fills_lots_breaches_an_allocation_and_silences_a_camera() {
    let app = spawn_app_with(|s| s.camera_timeout = Duration::from_millis(150)).await;
    let options = SimulateOptions {
        url: app.url(""),
        seed: 3,
        tick: Duration::from_millis(2),
        ticks: Some(720),
        token: None,
    };
    simulate::run(options, CancellationToken::new())
        .await
        .unwrap();

    let lots = app.get_json("/api/lots").await;
    let ids: Vec<&str> = lots
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["parkingLotId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["depot", "north", "south", "terminal"]);
    let alerts = app.get_json("/api/alerts?limit=1000").await;
    let has_alert = |kind: &str, lot: &str| {
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a: &Value| a["type"] == kind && a["parkingLotId"] == lot)
    };
    assert!(
        has_alert("capacity_warning", "north"),
        "the rush fills North past 90 %"
    );
    assert!(has_alert("capacity_breach", "north"), "and past full");
    assert!(
        has_alert("camera_offline", "south"),
        "the South camera falls silent"
    );
    assert!(
        has_alert("violation_detected", "depot"),
        "Acme parks above its allocation"
    );
    let violations = app.get_json("/api/violations?contractor=acme").await;
    assert!(violations
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["violationType"] == "capacity_breach"
            && v["details"]["excessVehicles"].as_u64() > Some(0)));
    app.stop().await;
}
