//! nginx in front of the real binary, configured with the shipped
//! `deploy/nginx/parkstream.conf` (ports and paths substituted, nothing else), for
//! tests/api/proxy.rs.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{fresh_database_url, spawn_binary, Binary, PATIENCE};

const NGINX: &str = "/usr/sbin/nginx";
const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/nginx/parkstream.conf"
);

/// nginx, from the shipped file, in front of a `parkstream serve` it started.
pub struct Proxied {
    /// `https://localhost:PORT/parking/`
    pub base: reqwest::Url,
    /// Trusts the test's CA, reaches `localhost` on nginx's port, follows no redirect.
    pub http: reqwest::Client,
    pub server: Binary,
    pub dir: tempfile::TempDir,
    _nginx: tokio::process::Child,
}

/// Whether nginx is installed; CI must have it (scripts/setup.sh), elsewhere the test skips.
pub fn nginx_installed() -> bool {
    if std::path::Path::new(NGINX).exists() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{NGINX} is missing: scripts/setup.sh installs it"
    );
    eprintln!("skipping: {NGINX} is not installed (scripts/setup.sh installs it)");
    false
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `text` with `from` replaced by `to`, which must be there: the test fails when the shipped
/// file changes under it rather than testing something else.
fn substitute(text: &str, from: &str, to: &str) -> String {
    assert!(
        text.contains(from),
        "deploy/nginx/parkstream.conf has no {from:?}"
    );
    text.replace(from, to)
}

/// Starts the server with `args(nginx's port)` (besides a fresh database and trusting
/// loopback, where nginx connects from), then nginx in front of it.
pub async fn behind_nginx(args: impl FnOnce(u16) -> Vec<String>, envs: &[(&str, &str)]) -> Proxied {
    let dir = tempfile::tempdir().unwrap();
    // nginx's workers run as an unprivileged user when the test runs as root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (port, plain_port) = (free_port(), free_port());

    let db = fresh_database_url(dir.path()).await;
    let mut all = vec![
        "--database-url".to_owned(),
        db,
        "--trusted-proxies".to_owned(),
        "127.0.0.1/32".to_owned(),
    ];
    all.extend(args(port));
    let server = spawn_binary(&all.iter().map(String::as_str).collect::<Vec<_>>(), envs).await;
    let upstream = server.base.trim_start_matches("http://").to_owned();

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();

    let shipped = std::fs::read_to_string(SHIPPED).unwrap();
    let site = substitute(
        &shipped,
        "listen 443 ssl http2;",
        &format!("listen 127.0.0.1:{port} ssl http2;"),
    );
    let site = substitute(
        &site,
        "listen 80;",
        &format!("listen 127.0.0.1:{plain_port};"),
    );
    let site = substitute(
        &site,
        "server 127.0.0.1:8080;",
        &format!("server {upstream};"),
    );
    let site = substitute(
        &site,
        "/etc/ssl/certs/ops.example.com.pem",
        cert.to_str().unwrap(),
    );
    let site = substitute(
        &site,
        "/etc/ssl/private/ops.example.com.key",
        key.to_str().unwrap(),
    );
    let d = dir.path().display();
    // What a distribution's nginx.conf holds around a site, with every path in the tempdir;
    // the access log names each request's connection (one HTTP/2 connection, many streams).
    let main = format!(
        "master_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n\
         log_format conn '$connection $server_protocol $request_uri';\n\
         access_log {d}/access.log conn;\n\
         client_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         {site}\n}}\n"
    );
    let conf = dir.path().join("nginx.conf");
    std::fs::write(&conf, main).unwrap();
    let mut nginx = tokio::process::Command::new(NGINX)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .args(["-g", "daemon off;"])
        .kill_on_drop(true)
        .spawn()
        .expect("start nginx");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        let log = || std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
        assert!(
            nginx.try_wait().unwrap().is_none(),
            "nginx exited: {}",
            log()
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "nginx does not listen: {}",
            log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Proxied {
        base: format!("https://localhost:{port}/parking/")
            .parse()
            .unwrap(),
        http,
        server,
        dir,
        _nginx: nginx,
    }
}

/// The common case: no access control (auth has its own tests) and `args`.
pub async fn open_behind_nginx(args: &[&str]) -> Proxied {
    let args: Vec<String> = ["--auth", "none"]
        .iter()
        .chain(args)
        .map(|s| (*s).to_owned())
        .collect();
    behind_nginx(|_| args, &[]).await
}

impl Proxied {
    pub fn url(&self, path: &str) -> reqwest::Url {
        self.base.join(path).unwrap()
    }

    pub async fn put_lot(&self, id: &str) {
        let created = self
            .http
            .put(self.url(&format!("api/lots/{id}")))
            .json(&json!({"name": id, "totalSlots": 1000}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }

    pub async fn post_count(&self, lot: &str, occupied: u32) {
        let posted = self
            .http
            .post(self.url("api/capacity/update"))
            .json(&json!({"parkingLotId": lot, "occupied": occupied}))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status(), 200);
    }

    pub async fn stream(&self, forwarded_for: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url("api/sse/dashboard"));
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        request.send().await.unwrap()
    }
}
