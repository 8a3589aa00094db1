//! TLS to PostgreSQL (`sslmode=require`, `verify-full`) and Redis (`rediss://`,
//! `--redis-ca-file`), against servers of the test's own with certificates it makes.
//!
//! These need PostgreSQL's server programs (`initdb`, `pg_ctl`) and `redis-server` built with
//! TLS (scripts/setup.sh). Outside CI a missing program skips a test with a message; in CI
//! (`CI=true`) it fails it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use serde_json::json;
use tempfile::TempDir;

use crate::helpers::{spawn_app_with, spawn_binary, TestApp, PATIENCE};

/// A certificate authority of the test's own.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    /// A server certificate for 127.0.0.1 and localhost: (certificate PEM, key PEM).
    fn server_cert(&self) -> (String, String) {
        let params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the CA certificate into `dir`; answers its path.
    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.cert.pem()).unwrap();
        path
    }
}

/// Whether `program` can run here; outside CI a missing one skips the test (answers false),
/// in CI it fails it.
fn available(program: &Path, why: &str) -> bool {
    let runs = std::process::Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why} needs {} in CI (scripts/setup.sh)",
        program.display()
    );
    eprintln!("skipping: {why} needs {}", program.display());
    false
}

fn spare_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throw-away PostgreSQL cluster on a spare port that accepts TCP only over TLS, with a
/// certificate from `ca`. The machine's shared server is left alone.
struct OwnPostgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// The newest installed PostgreSQL's programs.
    fn bin() -> PathBuf {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|dir| dir.flatten().map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        versions.sort_by_key(|p| {
            p.parent()
                .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
        });
        versions
            .pop()
            .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into())
    }

    async fn start(ca: &Ca) -> Option<Self> {
        let bin = Self::bin();
        if !available(&bin.join("initdb"), "a PostgreSQL server with TLS") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let own = Self {
            dir,
            bin,
            port: spare_port(),
        };
        // initdb refuses to run as root: the cluster belongs to the postgres user then.
        own.chown();
        own.run(
            "initdb",
            &["-D", path(&data), "-A", "trust", "-U", "postgres"],
        );
        let (cert, key) = ca.server_cert();
        std::fs::write(data.join("server.crt"), cert).unwrap();
        std::fs::write(data.join("server.key"), key).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostnossl all all 0.0.0.0/0 reject\n\
             hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let conf = format!(
            "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             fsync = off\n",
            own.port,
            own.dir.path().display()
        );
        let mut existing = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        existing.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), existing).unwrap();
        own.chown();
        {
            use std::os::unix::fs::PermissionsExt;
            let key = data.join("server.key");
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let log = own.dir.path().join("log");
        own.run(
            "pg_ctl",
            &["-D", path(&data), "-l", path(&log), "-w", "start"],
        );
        Some(own)
    }

    /// One of PostgreSQL's programs, run as the postgres user when the test runs as root.
    fn command(&self, program: &str) -> std::process::Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            std::process::Command::new(program)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let output = self.command(program).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{program} {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn chown(&self) {
        if is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(self.dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
    }

    /// The URL of database `postgres`, with `query` (such as `sslmode=require`).
    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let args = ["-D", path(&data), "-m", "immediate", "stop"];
        let _ = self.command("pg_ctl").args(args).output();
    }
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Runs the server with `configure` until it fails to start; answers its error.
async fn start_error(
    configure: impl FnOnce(&mut parkstream_server::config::ServeSettings),
) -> String {
    let mut settings = parkstream_server::config::ServeSettings::defaults();
    settings.auth = parkstream_server::config::AuthMode::None;
    configure(&mut settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = tokio::time::timeout(
        PATIENCE,
        parkstream_server::run(settings, listener, std::future::pending()),
    )
    .await
    .expect("the server gives up within its patience");
    format!("{:#}", result.expect_err("the server refuses to start"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_stores_and_reads_with_sslmode_require_and_verify_full() {
    let ca = Ca::new("parkstream test CA");
    let Some(pg) = OwnPostgres::start(&ca).await else {
        return;
    };
    // The cluster refuses TCP without TLS, so the server's success below is over TLS.
    let plain = start_error(|s| s.database_url = pg.url("sslmode=disable")).await;
    assert!(plain.contains("no encryption"), "{plain}");

    let app = spawn_app_with(|s| s.database_url = pg.url("sslmode=require")).await;
    app.put_lot("a", 50).await;
    app.set_count("a", 7).await;

    let dir = tempfile::tempdir().unwrap();
    let root = ca.write(dir.path(), "ca.pem");
    let verified = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let app = app
        .restart_with(|s| s.database_url = pg.url(&verified))
        .await;
    let lot = app.get_json("/api/lots/a").await;
    assert_eq!(lot["occupied"], 7, "{lot}");
    app.set_count("a", 8).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_another_ca_refuses_to_start_naming_the_certificate_problem() {
    let ca = Ca::new("parkstream test CA");
    let Some(pg) = OwnPostgres::start(&ca).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let other = Ca::new("another CA").write(dir.path(), "other.pem");
    let query = format!("sslmode=verify-full&sslrootcert={}", other.display());
    let error = start_error(|s| s.database_url = pg.url(&query)).await;
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    // The URL is logged without its password, and with the query that explains the failure.
    assert!(error.contains("sslmode=verify-full"), "{error}");
}

/// A `redis-server` of the test's own that speaks only TLS, with a certificate from `ca`.
struct TlsRedis {
    port: u16,
    _child: tokio::process::Child,
    _dir: TempDir,
}

impl TlsRedis {
    async fn start(ca: &Ca) -> Option<Self> {
        if !available(Path::new("redis-server"), "Redis with TLS") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ca.server_cert();
        let (cert_file, key_file) = (dir.path().join("redis.crt"), dir.path().join("redis.key"));
        std::fs::write(&cert_file, cert).unwrap();
        std::fs::write(&key_file, key).unwrap();
        let ca_file = ca.write(dir.path(), "ca.pem");
        let port = spare_port();
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", path(&cert_file)])
            .args(["--tls-key-file", path(&key_file)])
            .args(["--tls-ca-cert-file", path(&ca_file)])
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server runs");
        let redis = Self {
            port,
            _child: child,
            _dir: dir,
        };
        let client = parkstream_server::cluster::stream::client(&redis.url(), Some(&ca_file))
            .expect("a TLS client");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while client.get_multiplexed_async_connection().await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis-server answers over TLS (built with TLS?)"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Some(redis)
    }

    fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_flow_through_rediss_with_a_private_ca_to_another_instance() {
    let ca = Ca::new("parkstream test CA");
    let Some(pg) = OwnPostgres::start(&ca).await else {
        return;
    };
    let Some(redis) = TlsRedis::start(&ca).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "ca.pem");
    let stream = format!("parkstream:test:{}", uuid::Uuid::new_v4().simple());
    let instance = || {
        spawn_app_with(|s| {
            s.database_url = pg.url("sslmode=require");
            s.redis_url = Some(redis.url());
            s.redis_ca_file = Some(ca_file.clone());
            s.redis_stream = stream.clone();
        })
    };
    let (a, b) = (instance().await, instance().await);
    a.put_lot("a", 100).await;
    // The lot's creation reaches b through the stream (see cluster.rs's `knows_lot`).
    serves_lot(&b, "/api/lots/a").await;
    let mut on_b = b.subscribe("lots=a").await;
    on_b.connected().await;
    let response = a
        .post_capacity(&json!({"parkingLotId": "a", "occupied": 42}))
        .await;
    assert_eq!(response.status(), 200);
    loop {
        let (event, data) = on_b.next_data().await;
        if event == "capacity_update" && data["occupied"] == 42 {
            break;
        }
    }
    a.stop().await;
    b.stop().await;
}

async fn serves_lot(app: &TestApp, path: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while app.http.get(app.url(path)).send().await.unwrap().status() != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_without_the_ca_file_is_never_ready_and_logs_the_certificate_error() {
    let ca = Ca::new("parkstream test CA");
    let Some(pg) = OwnPostgres::start(&ca).await else {
        return;
    };
    let Some(redis) = TlsRedis::start(&ca).await else {
        return;
    };
    let database = pg.url("sslmode=require");
    let redis_url = redis.url();
    let server = spawn_binary(
        &[
            "--auth",
            "none",
            "--database-url",
            &database,
            "--redis-url",
            &redis_url,
        ],
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let log = server.log.lock().unwrap().clone();
        if log.contains("cannot reach Redis") {
            assert!(log.contains("invalid peer certificate"), "{log}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no Redis error: {log}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ready = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
}
