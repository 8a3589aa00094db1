//! A webhook receiver for the tests: a plain HTTP/1.1 server on 127.0.0.1:0 that answers as
//! scripted (200, 500, never, or a closed connection) and records every request; and the
//! Node verifier that checks a request's signature with the Standard Webhooks library.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How long a test waits for deliveries that go through retries (backoff up to a few s).
pub const RETRY_PATIENCE: Duration = Duration::from_secs(60);

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Error500,
    /// Never answers (the server's timeout ends the attempt).
    Hang,
    /// Closes the connection without an answer.
    Close,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub answer: Answer,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver on 127.0.0.1:0: answers as scripted (then `fallback`), one request
/// per connection, and records every request.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    script: Arc<Mutex<VecDeque<Answer>>>,
    fallback: Arc<Mutex<Answer>>,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(script: &[Answer], fallback: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Self {
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
            fallback: Arc::new(Mutex::new(fallback)),
            seen: Arc::default(),
        };
        let handle = receiver.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let handle = handle.clone();
                tokio::spawn(async move { handle.serve(socket).await });
            }
        });
        receiver
    }

    async fn serve(&self, mut socket: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let (head_len, headers, length) = loop {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            let mut parsed = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut parsed);
            if let Ok(httparse::Status::Complete(len)) = request.parse(&buf) {
                let headers: Vec<(String, String)> = request
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let length = headers
                    .iter()
                    .find(|(name, _)| name == "content-length")
                    .map_or(0, |(_, v)| v.parse::<usize>().unwrap());
                break (len, headers, length);
            }
        };
        while buf.len() < head_len + length {
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let header = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let answer = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(*self.fallback.lock().unwrap());
        self.seen.lock().unwrap().push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&buf[head_len..head_len + length]).into_owned(),
            answer,
        });
        let status = match answer {
            Answer::Ok => "200 OK",
            Answer::Error500 => "500 Internal Server Error",
            Answer::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Answer::Close => return,
        };
        let answer =
            format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        let _ = socket.write_all(answer.as_bytes()).await;
        let _ = socket.shutdown().await;
    }

    pub fn set_fallback(&self, answer: Answer) {
        *self.fallback.lock().unwrap() = answer;
    }

    pub fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests answered 200, in order of arrival.
    pub fn delivered(&self) -> Vec<Received> {
        self.seen()
            .into_iter()
            .filter(|r| r.answer == Answer::Ok)
            .collect()
    }

    /// Waits until `n` requests were answered 200.
    pub async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + RETRY_PATIENCE;
        loop {
            let delivered = self.delivered();
            if delivered.len() >= n {
                return delivered;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {n} delivered; seen: {:?}",
                delivered.len(),
                self.seen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Event ids of 200-answered deliveries, once each, in order of first success.
pub fn delivered_ids(delivered: &[Received]) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for r in delivered {
        let id: u64 = r.id.parse().expect("a numeric webhook-id");
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// The Node verifier (clients/webhook-verify), its packages installed with `npm ci`; `None`
/// (skipped) only outside CI when Node is missing.
pub struct NodeVerifier {
    dir: std::path::PathBuf,
}

pub fn node_verifier() -> Option<NodeVerifier> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/webhook-verify");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !dir.join("node_modules/standardwebhooks").exists() {
        let installed = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status();
        match installed {
            Ok(status) if status.success() => {}
            other => {
                assert!(!ci, "npm ci in clients/webhook-verify failed: {other:?}");
                eprintln!("skipping the Node verification: npm ci failed ({other:?})");
                return None;
            }
        }
    }
    Some(NodeVerifier { dir })
}

impl NodeVerifier {
    pub fn verifies(&self, secret: &str, r: &Received) -> bool {
        use std::io::Write;
        let mut child = std::process::Command::new("node")
            .arg("verify.mjs")
            .args([secret, &r.id, &r.timestamp, &r.signature])
            .current_dir(&self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("node runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(r.body.as_bytes())
            .unwrap();
        child.wait().unwrap().success()
    }
}
