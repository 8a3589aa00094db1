//! `GET /api/lots/{id}/forecast` and `parkstream forecast backtest|generate`: the forecast
//! from stored rollups, its scoping, and its score on a generated week of history.

use std::time::Duration;

use parkstream_server::auth::{mint, Role};
use serde_json::{json, Value};

use crate::auth::{get, secured, token, SECRET};
use crate::helpers::{spawn_app, TestApp};

async fn forecast(app: &TestApp, lot: &str) -> Value {
    app.get_json(&format!("/api/lots/{lot}/forecast")).await
}

/// The horizons of a forecast, checked for shape: 15, 30 and 60 minutes, each band around its
/// expected count and within the lot.
fn checked_horizons(forecast: &Value) -> Vec<f64> {
    let total = forecast["totalSlots"].as_f64().unwrap();
    let horizons = forecast["horizons"].as_array().expect("horizons");
    let minutes: Vec<u64> = horizons
        .iter()
        .map(|h| h["minutes"].as_u64().unwrap())
        .collect();
    assert_eq!(minutes, [15, 30, 60]);
    horizons
        .iter()
        .map(|h| {
            let (low, expected, high) = (
                h["low"].as_f64().unwrap(),
                h["expected"].as_f64().unwrap(),
                h["high"].as_f64().unwrap(),
            );
            assert!(
                0.0 <= low && low <= expected && expected <= high && high <= total,
                "{h}"
            );
            assert!(h["at"].as_str().unwrap() > forecast["generatedAt"].as_str().unwrap());
            expected
        })
        .collect()
}

#[tokio::test]
async fn a_quiet_lot_is_expected_to_stay_and_never_fill_and_an_unknown_lot_is_404() {
    let app = spawn_app().await;
    // Its creation is its one count: 0, unchanged since.
    app.put_lot("quiet", 100).await;
    let answer = forecast(&app, "quiet").await;
    assert_eq!(answer["parkingLotId"], "quiet");
    assert_eq!(answer["occupied"], 0);
    assert_eq!(answer["totalSlots"], 100);
    assert_eq!(answer["method"], "trend", "no stored hours yet: no profile");
    assert!(answer["generatedAt"].is_string());
    assert!(
        answer.get("fullInSeconds").is_some_and(Value::is_null),
        "{answer}"
    );
    assert_eq!(checked_horizons(&answer), [0.0, 0.0, 0.0]);

    let missing = app
        .http
        .get(app.url("/api/lots/nope/forecast"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn a_lot_filling_fast_is_expected_full_within_the_hour() {
    let app = spawn_app().await;
    app.put_lot("filling", 100).await;
    for n in (10..=80).step_by(10) {
        app.set_count("filling", n).await;
    }
    let answer = forecast(&app, "filling").await;
    let full = answer["fullInSeconds"]
        .as_u64()
        .expect("a lot filling fast fills");
    assert!(full <= 3600, "{answer}");
    let expected = checked_horizons(&answer);
    assert!(expected[0] > 80.0, "{answer}");

    app.set_count("filling", 100).await;
    assert_eq!(forecast(&app, "filling").await["fullInSeconds"], 0);
}

fn contractor_token(contractor: &str) -> String {
    mint(
        SECRET.as_bytes(),
        contractor,
        Role::Contractor,
        Some(contractor),
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

#[tokio::test]
async fn a_contractor_gets_the_forecast_of_its_lots_only() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["depot", "north"] {
        app.create_lot_as(&admin, lot, 50).await;
    }
    let allocation =
        json!({"name": "Acme", "allocations": [{"parkingLotId": "depot", "allocatedCapacity": 5}]});
    let created = app
        .http
        .put(app.url("/api/contractors/acme"))
        .bearer_auth(&admin)
        .json(&allocation)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let acme = contractor_token("acme");
    let viewer = token(Role::Viewer);

    assert_eq!(
        get(&app, "/api/lots/depot/forecast", Some(&acme)).await.0,
        200
    );
    let (status, body) = get(&app, "/api/lots/north/forecast", Some(&acme)).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert_eq!(
        get(&app, "/api/lots/north/forecast", Some(&viewer)).await.0,
        200
    );
    assert_eq!(get(&app, "/api/lots/north/forecast", None).await.0, 401);
}

fn parkstream(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run parkstream")
}

/// (minutes, points, forecast MAE, persistence MAE) per line of a backtest's table.
fn scores(stdout: &str) -> Vec<(u32, u64, f64, f64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [minutes, "min", points, forecast, persistence] = words[..] else {
                return None;
            };
            let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().ok();
            Some((
                minutes.parse().ok()?,
                points.parse().ok()?,
                pct(forecast)?,
                pct(persistence)?,
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_generated_week_the_backtest_prints_both_errors_and_the_forecast_beats_persistence() {
    let app = spawn_app().await;
    let url = app.settings.database_url.clone();
    // Once the server answers, it has migrated the database the commands open.
    app.put_lot("a", 200).await;
    let refused = parkstream(&[
        "forecast",
        "generate",
        "--lot",
        "ghost",
        "--database-url",
        &url,
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("no stored count"), "{stderr}");
    let nothing = parkstream(&[
        "forecast",
        "backtest",
        "--lot",
        "ghost",
        "--database-url",
        &url,
    ]);
    assert!(!nothing.status.success());
    let stderr = String::from_utf8_lossy(&nothing.stderr);
    assert!(stderr.contains("no stored history"), "{stderr}");

    let generated = parkstream(&[
        "forecast",
        "generate",
        "--lot",
        "a",
        "--seed",
        "3",
        "--database-url",
        &url,
    ]);
    assert!(generated.status.success(), "{generated:?}");
    assert!(String::from_utf8_lossy(&generated.stdout).contains("10080 minute and 168 hour rows"));

    let backtest = parkstream(&["forecast", "backtest", "--lot", "a", "--database-url", &url]);
    let stdout = String::from_utf8_lossy(&backtest.stdout);
    assert!(backtest.status.success(), "{backtest:?}");
    let scores = scores(&stdout);
    let horizons: Vec<u32> = scores.iter().map(|s| s.0).collect();
    assert_eq!(horizons, [15, 30, 60], "{stdout}");
    for (minutes, points, forecast, persistence) in &scores {
        assert!(*points > 1000, "{stdout}");
        assert!(forecast.is_finite() && persistence.is_finite() && *persistence > 0.0);
        if *minutes >= 30 {
            assert!(forecast < persistence, "{stdout}");
        }
    }

    // The endpoint now has hours to build the profile from.
    let answer = forecast(&app, "a").await;
    assert_eq!(answer["method"], "trend+profile", "{answer}");
    checked_horizons(&answer);
}
