//! Every flag's bad value is refused before anything starts: exit status 2 and an error line
//! naming the flag (clap's usage error), never a panic, a wrapped number or a dead task.

use std::process::Stdio;

use clap::CommandFactory;
use parkstream_server::config::Cli;

/// Subcommand (`forecast backtest` for a nested one), the arguments a run needs besides the flag under test, flag, bad value.
const CASES: &[(&str, &[&str], &str, &str)] = &[
    ("serve", &[], "--bind", "localhost"),
    ("serve", &[], "--bind", "127.0.0.1:99999"),
    ("serve", &[], "--database-url", "mysql://db"),
    ("serve", &[], "--database-url", "parkstream.db"),
    ("serve", &[], "--redis-url", "localhost:6379"),
    ("serve", &[], "--redis-url", "rediss://"),
    (
        "serve",
        &["--redis-url", "rediss://127.0.0.1:6380"],
        "--redis-ca-file",
        "/nonexistent.pem",
    ),
    (
        "serve",
        &["--redis-url", "rediss://127.0.0.1:6380"],
        "--redis-ca-file",
        "Cargo.toml",
    ),
    ("serve", &[], "--redis-stream", ""),
    ("serve", &[], "--redis-stream-length", "10"),
    ("serve", &[], "--stream-gzip", "yes"),
    ("serve", &[], "--max-gzip-streams", "-1"),
    ("serve", &[], "--stream-workers", "100000"),
    ("serve", &[], "--history-size", "0"),
    ("serve", &[], "--history-size", "18446744073709551616"),
    ("serve", &[], "--ping-interval", "0"),
    ("serve", &[], "--ping-interval", "18446744073709551615h"),
    ("serve", &[], "--max-clients", "0"),
    ("serve", &[], "--client-buffer", "0"),
    ("serve", &[], "--camera-timeout", "0s"),
    ("serve", &[], "--max-connections", "0"),
    ("serve", &[], "--header-timeout", "50ms"),
    ("serve", &[], "--idle-timeout", "2h"),
    ("serve", &[], "--camera-timeout", "1 minute"),
    ("serve", &[], "--max-streams-per-ip", "-5"),
    ("serve", &[], "--write-rate-per-ip", "4294967296"),
    ("serve", &[], "--cors-origin", "https://ops.example/path"),
    ("serve", &[], "--cors-origin", "ops.example"),
    ("serve", &[], "--cors-origin", "*,https://ops.example"),
    ("serve", &[], "--trusted-proxies", "10.0.0.0/33"),
    ("serve", &[], "--trusted-proxies", "127.0.0.1/32,localhost"),
    ("serve", &[], "--public-url", "ops.example.com/parking/"),
    (
        "serve",
        &[],
        "--public-url",
        "https://ops.example.com/parking/?x=1",
    ),
    ("serve", &[], "--body-timeout", "0"),
    ("serve", &[], "--max-filter-lots", "0"),
    ("serve", &[], "--max-body-bytes", "0"),
    ("serve", &[], "--idempotency-window", "0"),
    ("serve", &[], "--history-minutes-retention", "500ms"),
    ("serve", &[], "--history-hours-retention", "a year"),
    ("serve", &[], "--idempotency-max", "0"),
    ("serve", &[], "--metrics-bind", "nowhere"),
    ("serve", &[], "--shutdown-grace", "99999999999h"),
    ("serve", &[], "--shutdown-drain", "-1s"),
    ("serve", &[], "--log-format", "xml"),
    ("serve", &[], "--webhook-allow-private", "yes"),
    ("serve", &[], "--webhook-timeout", "50ms"),
    ("serve", &[], "--webhook-timeout", "2m"),
    ("serve", &[], "--webhook-retry-horizon", "0s"),
    ("serve", &[], "--webhook-retry-horizon", "31d"),
    ("serve", &[], "--currency", "eur"),
    ("serve", &[], "--currency", "EURO"),
    ("serve", &[], "--demo", "1"),
    (
        "serve",
        &["--tls-key", "Cargo.toml"],
        "--tls-cert",
        "/nonexistent.pem",
    ),
    (
        "serve",
        &["--tls-cert", "Cargo.toml"],
        "--tls-key",
        "/nonexistent.pem",
    ),
    ("serve", &[], "--auth", "maybe"),
    ("serve", &[], "--jwt-secret", "short"),
    ("serve", &[], "--jwt-public-key", "/nonexistent.pem"),
    ("serve", &[], "--jwt-algorithm", "HS256"),
    ("serve", &[], "--jwt-jwks-url", "ftp://idp.example/certs"),
    ("serve", &[], "--jwt-jwks-url", "idp.example/certs"),
    ("serve", &[], "--jwt-issuer", ""),
    ("serve", &[], "--jwt-audience", " parkstream"),
    ("serve", &[], "--jwt-role-claim", "realm_access..roles"),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--ttl",
        "18446744073709551615",
    ),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--ttl",
        "0",
    ),
    ("token", &["--jwt-secret", SECRET], "--role", "root"),
    (
        "token",
        &["--role", "contractor", "--jwt-secret", SECRET],
        "--contractor",
        "",
    ),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--lots",
        " a",
    ),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--subject",
        "",
    ),
    ("token", &["--role", "admin"], "--jwt-secret", "short"),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--jwt-issuer",
        "",
    ),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--jwt-audience",
        "",
    ),
    (
        "token",
        &["--role", "admin", "--jwt-secret", SECRET],
        "--jwt-role-claim",
        ".role",
    ),
    (
        "token",
        &["--role", "admin"],
        "--database-url",
        "mysql://db",
    ),
    ("simulate", &[], "--url", "localhost:8080"),
    ("simulate", &["--url", URL], "--seed", "-1"),
    ("simulate", &["--url", URL], "--tick", "0"),
    ("simulate", &["--url", URL], "--ticks", "0"),
    ("simulate", &["--url", URL], "--token", "short"),
    ("loadtest", &[], "--url", "ftp://x"),
    ("loadtest", &["--url", URL], "--clients", "0"),
    ("loadtest", &["--url", URL], "--rate", "0"),
    ("loadtest", &["--url", URL], "--duration", "0"),
    ("loadtest", &["--url", URL], "--token", "short"),
    ("loadtest", &["--url", URL], "--ingest", "no"),
    ("loadtest", &["--url", URL, "--ingest"], "--lots", "0"),
    ("loadtest", &["--url", URL, "--ingest"], "--batch", "0"),
    ("loadtest", &["--url", URL, "--ingest"], "--publishers", "0"),
    ("loadtest", &[], "--sub-url", "localhost:80/events"),
    ("loadtest", &["--url", URL, "--ingest"], "--sub-url", URL),
    ("loadtest", &["--sub-url", URL], "--pub-url", "ftp://x"),
    (
        "loadtest",
        &["--sub-url", URL, "--pub-url", URL],
        "--body",
        "no number",
    ),
    (
        "loadtest",
        &["--sub-url", URL, "--pub-url", URL],
        "--seq-regex",
        "seq=\\d+",
    ),
    (
        "loadtest",
        &["--sub-url", URL, "--pub-url", URL],
        "--seq-regex",
        "(\\d+)",
    ),
    ("loadtest", &["--url", URL], "--pub-conns", "0"),
    ("loadtest", &["--url", URL], "--server-pid", "0"),
    ("loadtest", &["--url", URL], "--server-pid", "12,x"),
    ("loadtest", &[], "--url", "http://127.0.0.1:1,localhost:2"),
    ("loadtest", &["--url", URL], "--service-pid", "redis"),
    ("loadtest", &["--url", URL], "--service-pid", "redis=0"),
    ("loadtest", &["--url", URL], "--server-tree", "yes"),
    ("loadtest", &["--url", URL], "--idle", "no"),
    ("loadtest", &["--url", URL], "--reconnect", "yes"),
    (
        "backup",
        &["--to", "copy.db"],
        "--database-url",
        "mysql://x",
    ),
    ("backup", &[], "--to", "/no/such/dir/copy.db"),
    ("serve", &[], "--config", "/no/such/parkstream.toml"),
    ("serve", &[], "--open-data", "yes"),
    ("serve", &[], "--open-data-interval", "500ms"),
    ("serve", &[], "--open-data-interval", "2h"),
    ("serve", &[], "--open-data-rate", "-1"),
    ("serve", &[], "--open-data-rate", "1000001"),
    ("serve", &[], "--open-data-publisher", "parkstream"),
    ("serve", &[], "--open-data-publisher", "nld:parkstream"),
    ("serve", &[], "--mqtt-url", "tcp://broker:1883"),
    (
        "serve",
        &["--mqtt-url", "mqtt://127.0.0.1:9"],
        "--mqtt-ca-file",
        "/no/such/ca.pem",
    ),
    (
        "serve",
        &["--mqtt-url", "mqtt://127.0.0.1:9"],
        "--mqtt-username",
        "",
    ),
    (
        "serve",
        &["--mqtt-url", "mqtt://127.0.0.1:9", "--mqtt-username", "u"],
        "--mqtt-password",
        "",
    ),
    ("serve", &[], "--mqtt-client-id", "no spaces"),
    ("serve", &[], "--mqtt-count-topic", "parking/+/count"),
    ("serve", &[], "--mqtt-gate-topic", "parking/gate"),
    ("serve", &[], "--mqtt-dead-letter-topic", "parking/#"),
    ("serve", &[], "--log-level", "loud"),
    ("serve", &[], "--log-level", "info,x=noisy"),
    ("forecast backtest", &[], "--lot", "no spaces"),
    ("forecast backtest", &["--lot", "a"], "--days", "0"),
    ("forecast backtest", &["--lot", "a"], "--days", "401"),
    (
        "forecast backtest",
        &["--lot", "a"],
        "--database-url",
        "mysql://db",
    ),
    ("forecast generate", &[], "--lot", ""),
    ("forecast generate", &["--lot", "a"], "--days", "8"),
    ("forecast generate", &["--lot", "a"], "--seed", "-1"),
    (
        "forecast generate",
        &["--lot", "a"],
        "--database-url",
        "db.sqlite",
    ),
];

const SECRET: &str = "test-secret-0123456789abcdef";
const URL: &str = "http://127.0.0.1:9";

#[test]
fn every_flags_bad_value_exits_with_status_2_and_names_the_flag() {
    let mut failures = Vec::new();
    for (subcommand, needed, flag, value) in CASES {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"));
        command
            .args(subcommand.split(' '))
            .args(*needed)
            .arg(format!("{flag}={value}"))
            // A database of its own, should a case ever get as far as opening one.
            .env("DATABASE_URL", "sqlite::memory:")
            .env("PARKSTREAM_BIND", "127.0.0.1:0")
            .env_remove("PARKSTREAM_JWT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = run_with_deadline(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("");
        if output.status.code() != Some(2) || !first.contains(flag) || !first.starts_with("error:")
        {
            failures.push(format!(
                "{subcommand} {flag}={value:?}: status {:?}, first line {first:?}",
                output.status.code()
            ));
        }
        assert!(
            !stderr.contains("panicked"),
            "{subcommand} {flag}: {stderr}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_flag_of_every_subcommand() {
    let cli = Cli::command();
    // Nested subcommands by their full name; `config check` takes serve's flags, covered there.
    let mut commands: Vec<(String, &clap::Command)> = Vec::new();
    for subcommand in cli.get_subcommands() {
        commands.push((subcommand.get_name().to_owned(), subcommand));
        if subcommand.get_name() != "config" {
            for nested in subcommand.get_subcommands() {
                let name = format!("{} {}", subcommand.get_name(), nested.get_name());
                commands.push((name, nested));
            }
        }
    }
    for (name, command) in commands {
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["help", "version"].contains(&long) {
                continue;
            }
            let flag = format!("--{long}");
            assert!(
                CASES
                    .iter()
                    .any(|(sub, _, f, _)| *sub == name && *f == flag),
                "{name} {flag} has no bad value in the table"
            );
        }
    }
}

/// Runs `command`, killing it if it is still running after ten seconds (a bad value it
/// accepted would start a server).
fn run_with_deadline(mut command: std::process::Command) -> std::process::Output {
    let child = command.spawn().expect("start parkstream");
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .is_err()
    {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    waiter.join().unwrap().expect("parkstream ran")
}

#[test]
fn version_names_the_crate_version_and_the_commit_it_was_built_from() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = String::from_utf8(output.stdout).unwrap();
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8(o.stdout).unwrap().trim().to_owned());
    // Built from a checkout (as in CI), the commit is the checkout's; else it says unknown.
    let commit = head.as_deref().unwrap_or("unknown");
    assert_eq!(
        printed.trim(),
        format!("parkstream {} ({commit})", env!("CARGO_PKG_VERSION"))
    );
}
