//! `PUT /api/lots/{id}`, `GET /api/lots`, `GET /api/lots/{id}`.

use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn put_creates_then_updates_a_lot_keeping_its_count() {
    let app = spawn_app().await;
    let response = app
        .http
        .put(app.url("/api/lots/north"))
        .json(&json!({"name": "North", "totalSlots": 100, "warningThreshold": 0.8}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["parkingLotId"], "north");
    assert_eq!(created["occupied"], 0);
    assert_eq!(created["empty"], 100);
    assert_eq!(created["warningThreshold"], 0.8);

    app.set_count("north", 30).await;
    let response = app
        .http
        .put(app.url("/api/lots/north"))
        .json(&json!({"name": "North deck", "totalSlots": 60, "maxStaySeconds": 7200}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["name"], "North deck");
    assert_eq!(updated["occupied"], 30);
    assert_eq!(updated["occupancyRate"], 0.5);
    assert_eq!(
        updated["warningThreshold"], 0.9,
        "an omitted threshold is the default"
    );
    assert_eq!(updated["maxStaySeconds"], 7200);
    app.stop().await;
}

#[tokio::test]
async fn creating_a_lot_is_broadcast() {
    let app = spawn_app().await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    app.put_lot("south", 40).await;
    let (kind, data) = stream.next_data().await;
    assert_eq!(kind, "capacity_update");
    assert_eq!(data["parkingLotId"], "south");
    assert_eq!(data["totalSlots"], 40);
    app.stop().await;
}

#[tokio::test]
async fn gets_answer_the_state_with_the_last_event_id() {
    let app = spawn_app().await;
    app.put_lot("b", 10).await;
    app.put_lot("a", 20).await;
    let response = app.http.get(app.url("/api/lots")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let list_id: u64 = response.headers()["last-event-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let lots: Vec<Value> = response.json().await.unwrap();
    let ids: Vec<_> = lots
        .iter()
        .map(|l| l["parkingLotId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["a", "b"]);

    app.set_count("a", 5).await;
    let response = app.http.get(app.url("/api/lots/a")).send().await.unwrap();
    let one_id: u64 = response.headers()["last-event-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        one_id,
        list_id + 1,
        "the header moves with every stored event"
    );
    let lot: Value = response.json().await.unwrap();
    assert_eq!(lot["occupied"], 5);
    assert_eq!(lot["name"], "Lot a");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_lot_is_404_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/lots/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn invalid_lot_settings_are_refused_with_422_and_nothing_is_created() {
    let app = spawn_app().await;
    let cases = [
        ("ok", json!({"name": "", "totalSlots": 10}), "name"),
        ("ok", json!({"name": "X", "totalSlots": -1}), "totalSlots"),
        (
            "ok",
            json!({"name": "X", "totalSlots": 10, "warningThreshold": 1.5}),
            "warningThreshold",
        ),
        (
            "ok",
            json!({"name": "X", "totalSlots": 10, "warningThreshold": 0}),
            "warningThreshold",
        ),
        (
            "ok",
            json!({"name": "X", "totalSlots": 10, "maxStaySeconds": 0}),
            "maxStaySeconds",
        ),
        ("ok", json!({"totalSlots": 10}), "name"),
        ("bad%20id", json!({"name": "X", "totalSlots": 10}), "id"),
    ];
    for (id, body, field) in cases {
        let response = app
            .http
            .put(app.url(&format!("/api/lots/{id}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}");
    }
    assert_eq!(app.get_json("/api/lots").await, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app.http.get(app.url("/api/nothing")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "not_found"
    );
    let response = app.http.delete(app.url("/api/lots")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "method_not_allowed"
    );
    app.stop().await;
}

#[tokio::test]
async fn occupancy_history_keeps_recent_counts_and_survives_a_restart() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    app.put_lot("b", 10).await;
    app.set_count("a", 3).await;
    app.set_count("a", 4).await;
    let history = app.get_json("/api/history/occupancy").await;
    let a = history["lots"]["a"].as_array().unwrap();
    assert_eq!(
        a.last().unwrap()["occupied"],
        4,
        "the newest count of the bucket"
    );
    assert_eq!(a.last().unwrap()["totalSlots"], 10);
    let only_b = app.get_json("/api/history/occupancy?lot=b&minutes=5").await;
    assert_eq!(only_b["lots"].as_object().unwrap().len(), 1);
    for bad in ["minutes=0", "minutes=61", "minutes=soon"] {
        let response = app
            .http
            .get(app.url(&format!("/api/history/occupancy?{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    let app = app.restart().await;
    let history = app.get_json("/api/history/occupancy?lot=a").await;
    assert_eq!(
        history["lots"]["a"].as_array().unwrap().last().unwrap()["occupied"],
        4
    );
    app.stop().await;
}
