//! The client against the real server on a real port: every event type, filters, callbacks,
//! restart and resume, the backoff schedule, giving up, reset, refusal; and one raw
//! connection (`Client::connect`).
//!
//! Run with `cargo test -p parkstream-client`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use parkstream_client::{
    Backoff, Client, ClientError, EventStream, Received, Subscription, Update,
};
use parkstream_protocol::events::Event;
use parkstream_protocol::sse::{SseEvent, SseItem};
use parkstream_protocol::EventType;
use parkstream_server::config::{AuthMode, ServeSettings};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const PATIENCE: Duration = Duration::from_secs(10);

/// The real server, in this process, restartable on the same port and database.
struct Server {
    addr: SocketAddr,
    settings: ServeSettings,
    _dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
    http: reqwest::Client,
}

impl Server {
    async fn start() -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let mut settings = ServeSettings::defaults();
        settings.database_url = format!("sqlite://{}", dir.path().join("p.db").display());
        settings.shutdown_grace = Duration::from_secs(2);
        settings.auth = AuthMode::None;
        Self::launch(settings, dir, "127.0.0.1:0".parse().unwrap()).await
    }

    async fn launch(
        settings: ServeSettings,
        dir: Arc<tempfile::TempDir>,
        addr: SocketAddr,
    ) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let run = parkstream_server::run(settings.clone(), listener, async move {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move { run.await.map_err(|e| e.to_string()) });
        Self {
            addr,
            settings,
            _dir: dir,
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    async fn shut_down(&mut self) {
        self.stop.take().unwrap().send(()).ok();
        let result = tokio::time::timeout(PATIENCE, self.task.take().unwrap()).await;
        result.unwrap().unwrap().unwrap();
    }

    /// Stops the server, then starts it again on the same address and database.
    async fn restart(mut self) -> Self {
        self.shut_down().await;
        Self::launch(self.settings.clone(), self._dir.clone(), self.addr).await
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.base()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn lot(&self, id: &str, total: u32) {
        self.send(
            reqwest::Method::PUT,
            &format!("/api/lots/{id}"),
            json!({"name": id, "totalSlots": total}),
        )
        .await;
    }

    async fn count(&self, lot: &str, occupied: u32) {
        self.send(
            reqwest::Method::POST,
            "/api/capacity/update",
            json!({"parkingLotId": lot, "occupied": occupied}),
        )
        .await;
    }
}

fn quick() -> Backoff {
    Backoff::default()
        .base(Duration::from_millis(50))
        .jitter(0.0)
        .max_attempts(40)
}

async fn next(sub: &mut Subscription) -> Update {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("an update in time")
        .expect("the subscription is open")
        .expect("no error")
}

/// The next event that is not a ping (reconnection notices skipped too).
async fn next_event(sub: &mut Subscription) -> Received {
    loop {
        if let Update::Event(received) = next(sub).await {
            if !matches!(received.event, Event::Ping(_)) {
                return received;
            }
        }
    }
}

async fn next_counts(sub: &mut Subscription, n: usize) -> Vec<u32> {
    let mut counts = Vec::new();
    while counts.len() < n {
        if let Event::CapacityUpdate(update) = next_event(sub).await.event {
            counts.push(update.occupied);
        }
    }
    counts
}

#[tokio::test]
async fn receives_every_event_type_typed() {
    let server = Server::start().await;
    server.lot("a", 10).await;
    let client = Client::builder(server.base())
        .backoff(quick())
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    let Event::Connected(connected) = next_event(&mut sub).await.event else {
        panic!("connected first")
    };
    assert!(!connected.resumed);

    server.count("a", 9).await; // capacity_update, then a capacity_warning alert
    let update = next_event(&mut sub).await;
    assert!(update.id.is_some());
    assert!(matches!(update.event, Event::CapacityUpdate(ref u) if u.occupied == 9));
    assert!(
        matches!(next_event(&mut sub).await.event, Event::Alert(ref a) if a.parking_lot_id == "a")
    );

    server
        .send(
            reqwest::Method::PUT,
            "/api/contractors/acme",
            json!({"name": "Acme",
            "allocations": [{"parkingLotId": "a", "allocatedCapacity": 1}], "plates": []}),
        )
        .await;
    server
        .send(
            reqwest::Method::POST,
            "/api/monitor/gate",
            json!({"parkingLotId": "a",
            "event": "vehicle_entry", "plateNumber": "STRANGER"}),
        )
        .await;
    let mut saw_violation = false;
    for _ in 0..4 {
        if let Event::Violation(v) = next_event(&mut sub).await.event {
            assert_eq!(v.plate_number.as_deref(), Some("STRANGER"));
            saw_violation = true;
            break;
        }
    }
    assert!(saw_violation);
    assert!(sub.last_event_id().is_some());
}

#[tokio::test]
async fn filters_pass_only_what_was_asked_for() {
    let server = Server::start().await;
    server.lot("a", 100).await;
    server.lot("b", 100).await;
    let client = Client::builder(server.base())
        .lots(["b"])
        .types([EventType::CapacityUpdate])
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    next_event(&mut sub).await; // connected
    server.count("a", 1).await;
    server.count("b", 2).await;
    assert_eq!(next_counts(&mut sub, 1).await, vec![2]);
}

#[tokio::test]
async fn callbacks_run_until_they_are_removed() {
    let server = Server::start().await;
    server.lot("a", 100).await;
    let client = Client::builder(server.base()).build().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let listener = client.on(EventType::CapacityUpdate, move |received| {
        if let Event::CapacityUpdate(u) = &received.event {
            sink.lock().unwrap().push(u.occupied);
        }
    });
    let mut sub = client.subscribe();
    next_event(&mut sub).await; // connected
    server.count("a", 1).await;
    next_counts(&mut sub, 1).await;
    assert!(client.off(listener));
    assert!(!client.off(listener));
    server.count("a", 2).await;
    next_counts(&mut sub, 1).await;
    assert_eq!(*seen.lock().unwrap(), vec![1]);
}

#[tokio::test]
async fn a_server_restart_loses_and_duplicates_nothing() {
    let server = Server::start().await;
    server.lot("a", 1000).await;
    let client = Client::builder(server.base())
        .backoff(quick())
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    next_event(&mut sub).await; // connected
    for n in 1..=5 {
        server.count("a", n).await;
    }
    assert_eq!(next_counts(&mut sub, 5).await, vec![1, 2, 3, 4, 5]);

    let server = server.restart().await;
    // Published while the client is still reconnecting: it must get them by resuming.
    for n in 6..=10 {
        server.count("a", n).await;
    }
    let mut counts = Vec::new();
    let mut resumed = false;
    while counts.len() < 5 {
        match next(&mut sub).await {
            Update::Event(Received {
                event: Event::Connected(c),
                ..
            }) => resumed = c.resumed,
            Update::Event(Received {
                event: Event::Reset(_),
                ..
            }) => panic!("reset after a restart"),
            Update::Event(Received {
                event: Event::CapacityUpdate(u),
                ..
            }) => counts.push(u.occupied),
            _ => {}
        }
    }
    assert!(resumed, "the reconnection resumed from the last id");
    assert_eq!(counts, vec![6, 7, 8, 9, 10]);
    server.count("a", 11).await;
    assert_eq!(next_counts(&mut sub, 1).await, vec![11]);
}

#[tokio::test]
async fn reconnects_on_the_backoff_schedule_then_gives_up() {
    // A port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let backoff = Backoff::default()
        .base(Duration::from_millis(10))
        .jitter(0.0)
        .max_attempts(4);
    let client = Client::builder(format!("http://{addr}"))
        .backoff(backoff)
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    let mut delays = Vec::new();
    let error = loop {
        match tokio::time::timeout(PATIENCE, sub.next()).await.unwrap() {
            Some(Ok(Update::Reconnecting { attempt, delay, .. })) => {
                assert_eq!(attempt as usize, delays.len() + 1);
                delays.push(delay.as_millis());
            }
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            Some(Err(error)) => break error,
            None => panic!("ended without an error"),
        }
    };
    assert_eq!(delays, vec![10, 20, 40, 80]);
    assert!(
        matches!(error, ClientError::GaveUp { attempts: 4, .. }),
        "{error}"
    );
    assert!(
        sub.next().await.is_none(),
        "the subscription ends after giving up"
    );
}

#[tokio::test]
async fn an_unplaceable_id_surfaces_reset() {
    let server = Server::start().await;
    let client = Client::builder(server.base())
        .last_event_id("bogus")
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    assert!(matches!(
        next_event(&mut sub).await.event,
        Event::Connected(_)
    ));
    assert!(
        matches!(next_event(&mut sub).await.event, Event::Reset(ref r) if r.reason == "history_unavailable")
    );
}

#[tokio::test]
async fn a_refused_stream_is_a_terminal_error_not_a_retry() {
    let server = Server::start().await;
    // The server refuses a malformed lot id in the filter: retrying cannot help.
    let client = Client::builder(server.base())
        .lots(["not a lot id"])
        .build()
        .unwrap();
    let mut sub = client.subscribe();
    match tokio::time::timeout(PATIENCE, sub.next()).await.unwrap() {
        Some(Err(ClientError::Rejected { status: 400, body })) => assert!(body.contains("lots")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(sub.next().await.is_none());
}

/// The next SSE event of a raw connection that is not a ping (`retry:` fields skipped).
async fn next_raw(events: &mut EventStream) -> SseEvent {
    loop {
        let item = tokio::time::timeout(PATIENCE, events.next())
            .await
            .expect("an item in time")
            .expect("the stream is open")
            .expect("no error");
        match item {
            SseItem::Event(event) if event.event != "ping" => return event,
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_raw_connection_yields_the_frames_and_resumes_after_the_given_id() {
    let server = Server::start().await;
    server.lot("a", 10).await;
    let builder = || {
        Client::builder(server.base())
            .lots(["a"])
            .types([EventType::CapacityUpdate])
    };
    let mut events = builder().build().unwrap().connect().await.unwrap();
    assert_eq!(next_raw(&mut events).await.event, "connected");
    server.count("a", 1).await;
    server.count("a", 2).await;
    let first = next_raw(&mut events).await;
    let second = next_raw(&mut events).await;
    assert_eq!(first.event, "capacity_update");
    assert!(first.data.contains(r#""occupied":1"#), "{}", first.data);
    assert!(second.data.contains(r#""occupied":2"#), "{}", second.data);
    drop(events);

    // `Last-Event-ID`: the server replays what came after it.
    let resumed = builder()
        .last_event_id(first.id.clone().expect("an id"))
        .build()
        .unwrap();
    let mut events = resumed.connect().await.unwrap();
    assert_eq!(next_raw(&mut events).await.event, "connected");
    let replayed = next_raw(&mut events).await;
    assert_eq!((replayed.id, replayed.data), (second.id, second.data));
}

#[tokio::test]
async fn a_raw_connection_is_refused_or_lost_once_without_retrying() {
    let server = Server::start().await;
    let refused = Client::builder(server.base())
        .lots(["not a lot id"])
        .build()
        .unwrap();
    match refused.connect().await {
        Err(ClientError::Rejected { status: 400, body }) => assert!(body.contains("lots")),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Nothing listens on a port just released.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let nowhere = Client::builder(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    assert!(matches!(
        nowhere.connect().await,
        Err(ClientError::Disconnected(_))
    ));
}
