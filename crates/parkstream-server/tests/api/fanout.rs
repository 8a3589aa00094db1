//! Many publishers, many subscribers: every subscriber sees every event once, in id order.

use std::collections::HashMap;

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::spawn_app;

const PUBLISHERS: u32 = 4;
const EVENTS_EACH: u32 = 50;
const SUBSCRIBERS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_sees_every_event_once_in_id_order() {
    let app = spawn_app().await;
    for p in 0..PUBLISHERS {
        app.put_lot(&format!("lot_{p}"), 1_000).await;
    }
    let mut streams = join_all((0..SUBSCRIBERS).map(|_| app.subscribe(""))).await;
    for stream in &mut streams {
        stream.connected().await;
    }

    let publishers = (0..PUBLISHERS).map(|p| {
        let http = app.http.clone();
        let url = app.url("/api/capacity/update");
        tokio::spawn(async move {
            for n in 1..=EVENTS_EACH {
                let response = http
                    .post(&url)
                    .json(&json!({"parkingLotId": format!("lot_{p}"), "occupied": n}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        })
    });
    let total = (PUBLISHERS * EVENTS_EACH) as usize;
    let readers = streams.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            let mut seen = Vec::with_capacity(total);
            for _ in 0..total {
                let event = stream.next_event().await;
                let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
                seen.push((
                    event.id.unwrap().parse::<u64>().unwrap(),
                    data["parkingLotId"].as_str().unwrap().to_owned(),
                    data["occupied"].as_u64().unwrap(),
                ));
            }
            seen
        })
    });
    let (published, received) = tokio::join!(join_all(publishers), join_all(readers));
    published.into_iter().for_each(|r| r.unwrap());

    let mut reference: Option<Vec<u64>> = None;
    for seen in received {
        let seen = seen.unwrap();
        let ids: Vec<u64> = seen.iter().map(|(id, _, _)| *id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase");
        // Each publisher's events arrive once each, in the order it sent them.
        let mut per_lot: HashMap<&str, Vec<u64>> = HashMap::new();
        for (_, lot, occupied) in &seen {
            per_lot.entry(lot).or_default().push(*occupied);
        }
        assert_eq!(per_lot.len(), PUBLISHERS as usize);
        for counts in per_lot.values() {
            assert_eq!(*counts, (1..=u64::from(EVENTS_EACH)).collect::<Vec<_>>());
        }
        // And every subscriber saw the same sequence.
        match &reference {
            None => reference = Some(ids),
            Some(reference) => assert_eq!(&ids, reference),
        }
    }
    app.stop().await;
}
