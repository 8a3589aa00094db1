//! `spawn_app()` and the clients the tests use.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use parkstream_protocol::sse::{SseEvent, SseItem, SseParser};
use parkstream_server::config::{AuthMode, ServeSettings};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen at once.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub settings: ServeSettings,
    dir: Arc<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Starts the server with default settings on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The PostgreSQL server the suite runs against instead of SQLite, when
/// `PARKSTREAM_TEST_POSTGRES` names one (`postgres://USER@HOST:PORT/DB`, any existing database).
pub fn test_postgres() -> Option<String> {
    std::env::var("PARKSTREAM_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A new, empty PostgreSQL database on the server `base` names; answers its URL.
pub async fn create_postgres_database(base: &str) -> String {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(base)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {base} must run for this test: {e}"));
    let name = format!("parkstream_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("CREATE DATABASE");
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}")
}

/// A fresh database for one test: a SQLite file in `dir`, or a new PostgreSQL database when
/// the suite runs against PostgreSQL (see [`test_postgres`]).
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    match test_postgres() {
        Some(base) => create_postgres_database(&base).await,
        None => format!("sqlite://{}", dir.join("parkstream.db").display()),
    }
}

/// Starts the server on a fresh database, with settings changed by `configure`.
pub async fn spawn_app_with(configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut settings = ServeSettings::defaults();
    settings.database_url = fresh_database_url(dir.path()).await;
    settings.shutdown_grace = Duration::from_secs(5);
    // Streams close at once (the drain has its own test in lifecycle.rs).
    settings.shutdown_drain = Duration::ZERO;
    // Access control has its own tests (auth.rs); the others exercise the rest.
    settings.auth = AuthMode::None;
    configure(&mut settings);
    start(settings, dir).await
}

async fn start(settings: ServeSettings, dir: Arc<TempDir>) -> TestApp {
    start_on("127.0.0.1:0".parse().expect("address"), settings, dir).await
}

async fn start_on(addr: SocketAddr, settings: ServeSettings, dir: Arc<TempDir>) -> TestApp {
    let listener = TcpListener::bind(addr).await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(parkstream_server::run(
        settings.clone(),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    TestApp {
        addr,
        http: reqwest::Client::new(),
        settings,
        dir,
        stop: Some(stop),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Shuts the server down gracefully and checks that it stopped cleanly.
    pub async fn stop(mut self) -> (ServeSettings, Arc<TempDir>) {
        self.stop.take().expect("running").send(()).ok();
        let result = tokio::time::timeout(PATIENCE, self.server.take().expect("running"))
            .await
            .expect("the server stops within its grace period")
            .expect("the server task does not panic");
        result.expect("the server stops without error");
        (self.settings.clone(), self.dir.clone())
    }

    /// Stops the server and starts it again on the same database (on a new port).
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// Stops the server and starts it again on the same database and port, as a restarted
    /// service comes back where its clients look for it.
    pub async fn restart_in_place(self) -> TestApp {
        let addr = self.addr;
        let (settings, dir) = self.stop().await;
        start_on(addr, settings, dir).await
    }

    /// Stops the server and starts it again on the same database, with settings changed by
    /// `configure`.
    pub async fn restart_with(self, configure: impl FnOnce(&mut ServeSettings)) -> TestApp {
        let (mut settings, dir) = self.stop().await;
        configure(&mut settings);
        start(settings, dir).await
    }

    /// GETs `path`, checks the answer is 200, and answers its JSON body.
    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.http.get(self.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    pub async fn put_lot(&self, id: &str, total_slots: u32) -> Value {
        let response = self
            .http
            .put(self.url(&format!("/api/lots/{id}")))
            .json(&json!({"name": format!("Lot {id}"), "totalSlots": total_slots}))
            .send()
            .await
            .expect("PUT lot");
        assert!(
            response.status().is_success(),
            "PUT lot: {}",
            response.status()
        );
        response.json().await.expect("lot json")
    }

    /// Creates a lot with a bearer token and checks it was created.
    pub async fn create_lot_as(&self, token: &str, id: &str, total_slots: u32) {
        let response = self
            .http
            .put(self.url(&format!("/api/lots/{id}")))
            .bearer_auth(token)
            .json(&json!({"name": id, "totalSlots": total_slots}))
            .send()
            .await
            .expect("PUT lot");
        assert_eq!(response.status(), 201, "PUT lot {id}");
    }

    pub async fn post_capacity(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url("/api/capacity/update"))
            .json(body)
            .send()
            .await
            .expect("POST capacity")
    }

    /// Sets a lot's count and checks it was accepted.
    pub async fn set_count(&self, lot: &str, occupied: u32) -> Value {
        let response = self
            .post_capacity(&json!({"parkingLotId": lot, "occupied": occupied}))
            .await;
        assert_eq!(response.status(), 200, "capacity update of {lot}");
        response.json().await.expect("capacity json")
    }

    /// Opens the stream with a query string (`""`, `"lots=a"`, ...).
    pub async fn subscribe(&self, query: &str) -> EventStream {
        self.subscribe_from(query, None).await
    }

    /// Opens the stream, resuming after `last_event_id` (sent as the header).
    pub async fn subscribe_from(&self, query: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = self
            .http
            .get(self.url(&format!("/api/sse/dashboard?{query}")));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.expect("GET stream");
        assert_eq!(response.status(), 200, "stream status");
        EventStream::new(response)
    }

    /// The value of one Prometheus series, such as `parkstream_sse_clients` or
    /// `parkstream_events_published_total{type="capacity_update"}`; 0 when absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |value| value.trim().parse().expect("metric value"))
    }

    /// Waits until `series` has `value`, failing after [`PATIENCE`].
    pub async fn wait_for_metric(&self, series: &str, value: f64) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let now = self.metric(series).await;
            if now == value {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{series} stayed at {now}, expected {value}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An open SSE response, parsed with the protocol crate's conformant parser.
pub struct EventStream {
    pub headers: reqwest::header::HeaderMap,
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    parser: SseParser,
    pending: VecDeque<SseItem>,
    /// Everything received, byte for byte.
    pub raw: Vec<u8>,
}

impl EventStream {
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            headers: response.headers().clone(),
            body: response.bytes_stream().boxed(),
            parser: SseParser::new(),
            pending: VecDeque::new(),
            raw: Vec::new(),
        }
    }

    /// The next item, or `None` when the stream ended. Fails after [`PATIENCE`].
    pub async fn next_item(&mut self) -> Option<SseItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("an SSE item within the patience period");
            match chunk {
                Some(Ok(bytes)) => {
                    self.raw.extend_from_slice(&bytes);
                    let mut out = Vec::new();
                    self.parser.feed(&bytes, &mut out);
                    self.pending.extend(out);
                }
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next event that is not a `ping`.
    pub async fn next_event(&mut self) -> SseEvent {
        loop {
            match self.next_item().await.expect("the stream is still open") {
                SseItem::Event(event) if event.event != "ping" => return event,
                _ => {}
            }
        }
    }

    /// The next event's type and parsed data.
    pub async fn next_data(&mut self) -> (String, Value) {
        let event = self.next_event().await;
        let data = serde_json::from_str(&event.data).expect("event data is JSON");
        (event.event, data)
    }

    /// The next `n` `capacity_update`s' `occupied` values (skipping other types).
    pub async fn next_counts(&mut self, n: usize) -> Vec<u64> {
        let mut counts = Vec::with_capacity(n);
        while counts.len() < n {
            let (kind, data) = self.next_data().await;
            if kind == "capacity_update" {
                counts.push(data["occupied"].as_u64().expect("occupied"));
            }
        }
        counts
    }

    /// Reads the `connected` event that opens every stream.
    pub async fn connected(&mut self) -> Value {
        let (kind, data) = self.next_data().await;
        assert_eq!(kind, "connected");
        data
    }

    /// Waits for the stream to end (server closed it); fails if an event other than a ping
    /// arrives first.
    pub async fn expect_end(&mut self) {
        while let Some(item) = self.next_item().await {
            if let SseItem::Event(event) = item {
                assert_eq!(event.event, "ping", "expected the end, got {event:?}");
            }
        }
    }

    /// Checks that nothing but pings arrives for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match tokio::time::timeout(left, self.next_item()).await {
                Err(_) => return,
                Ok(Some(SseItem::Event(event))) if event.event != "ping" => {
                    panic!("expected silence, got {event:?}")
                }
                Ok(None) => panic!("the stream ended"),
                Ok(_) => {}
            }
        }
    }
}

/// A body that is a batch of count reports for `lot`, with occupied values `counts`.
pub fn count_batch(lot: &str, counts: impl IntoIterator<Item = u32>) -> Value {
    Value::Array(
        counts
            .into_iter()
            .map(|occupied| json!({"parkingLotId": lot, "occupied": occupied}))
            .collect(),
    )
}

/// The real `parkstream` binary, started as a process (for crashes, standard output and
/// logs). Killed when dropped.
pub struct Binary {
    pub child: tokio::process::Child,
    pub base: String,
    /// Everything it wrote to standard error so far (its log).
    pub log: Arc<std::sync::Mutex<String>>,
    /// Everything it wrote to standard output so far.
    pub stdout: Arc<std::sync::Mutex<String>>,
}

/// Starts `parkstream serve --log-format json` with `args` (on `--bind 127.0.0.1:0` unless
/// they name an address) and `envs`, and waits until it listens.
pub async fn spawn_binary(args: &[&str], envs: &[(&str, &str)]) -> Binary {
    let command = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"));
    start_binary(command, args, envs).await
}

/// [`spawn_binary`] with the process's limit on open files lowered to `limit` (by the shell's
/// `ulimit`, which then executes the server in its place).
pub async fn spawn_binary_with_file_limit(
    limit: u32,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Binary {
    let mut command = tokio::process::Command::new("sh");
    command
        .arg("-c")
        .arg(format!(r#"ulimit -n {limit} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_parkstream"));
    start_binary(command, args, envs).await
}

async fn start_binary(
    mut command: tokio::process::Command,
    args: &[&str],
    envs: &[(&str, &str)],
) -> Binary {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let bind: &[&str] = if args.contains(&"--bind") {
        &[]
    } else {
        &["--bind", "127.0.0.1:0"]
    };
    let mut child = command
        .args(["serve", "--log-format", "json"])
        .args(bind)
        .args(args)
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start parkstream");
    let log = Arc::new(std::sync::Mutex::new(String::new()));
    let stdout = Arc::new(std::sync::Mutex::new(String::new()));
    let mut out_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let out_sink = stdout.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = out_lines.next_line().await {
            out_sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["message"] == "parkstream listening" {
                return entry["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!(
            "the server exited before listening: {}",
            log.lock().unwrap()
        );
    })
    .await
    .expect("the server listens");
    let sink = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    Binary {
        child,
        base: format!("http://{addr}"),
        log,
        stdout,
    }
}

/// Reads from a raw connection into `seen` until `needle` has arrived; fails if the
/// connection closes first or after [`PATIENCE`].
pub async fn read_until(socket: &mut tokio::net::TcpStream, seen: &mut Vec<u8>, needle: &[u8]) {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(PATIENCE, async {
        while !seen.windows(needle.len()).any(|w| w == needle) {
            let mut buf = [0u8; 4096];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            assert!(
                n > 0,
                "closed before {:?}: {}",
                String::from_utf8_lossy(needle),
                String::from_utf8_lossy(seen)
            );
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the bytes arrive");
}
