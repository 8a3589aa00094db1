//! `--config FILE`: settings from TOML under the flags' names, with flag > environment > file >
//! default; `parkstream config check` prints the effective settings, secrets redacted.

use std::process::Stdio;

use crate::helpers::spawn_binary;

/// The status of a stream request filtering on `lots` lots, which `--max-filter-lots` bounds.
async fn stream_status(base: &str, lots: usize) -> u16 {
    let filter: Vec<String> = (0..lots).map(|i| format!("l{i}")).collect();
    let url = format!("{base}/api/sse/dashboard?lots={}", filter.join(","));
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn a_config_files_settings_apply_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(&file, "auth = \"none\"\nmax-filter-lots = 2\n").unwrap();
    let file = file.to_str().unwrap();

    let from_file = spawn_binary(&["--config", file], &[]).await;
    assert_eq!(stream_status(&from_file.base, 2).await, 200);
    assert_eq!(
        stream_status(&from_file.base, 3).await,
        400,
        "the file's limit"
    );

    let env = [("PARKSTREAM_MAX_FILTER_LOTS", "4")];
    let from_env = spawn_binary(&["--config", file], &env).await;
    assert_eq!(
        stream_status(&from_env.base, 4).await,
        200,
        "the environment wins"
    );
    assert_eq!(stream_status(&from_env.base, 5).await, 400);

    let from_flag = spawn_binary(&["--config", file, "--max-filter-lots", "1"], &env).await;
    assert_eq!(stream_status(&from_flag.base, 1).await, 200);
    assert_eq!(
        stream_status(&from_flag.base, 2).await,
        400,
        "the flag wins"
    );

    // The file named by the environment instead of the flag.
    let named_by_env = spawn_binary(&[], &[("PARKSTREAM_CONFIG", file)]).await;
    assert_eq!(stream_status(&named_by_env.base, 3).await, 400);
}

fn parkstream(args: &[&str], file: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(args)
        .arg("--config")
        .arg(file)
        .env_remove("DATABASE_URL")
        .env_remove("PARKSTREAM_JWT_SECRET")
        .env_remove("PARKSTREAM_MAX_CLIENTS")
        .env("PARKSTREAM_BIND", "127.0.0.1:7001")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn config_check_prints_each_setting_with_its_source_and_redacts_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(
        &file,
        "bind = \"127.0.0.1:9000\"\njwt-secret = \"0123456789abcdef-secret\"\n\
         database-url = \"postgres://app:hunter2hunter2@db:5432/parking\"\n\
         cors-origin = [\"https://a.example\", \"https://b.example\"]\nstream-gzip = true\n",
    )
    .unwrap();
    let output = parkstream(&["config", "check", "--max-clients", "77"], &file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "bind = \"127.0.0.1:7001\"  # environment",
        "max-clients = \"77\"  # flag",
        "jwt-secret = \"***\"  # file",
        "database-url = \"postgres://app:***@db:5432/parking\"  # file",
        "cors-origin = [\"https://a.example\", \"https://b.example\"]  # file",
        "stream-gzip = true  # file",
        "history-size = \"10000\"  # default",
        "# redis-url  (not set)",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "missing {line:?} in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("0123456789abcdef"),
        "{stdout}"
    );

    // Its output is TOML, a config file once the redacted secrets are filled in.
    let table: toml::Table = stdout.parse().expect("TOML");
    assert_eq!(table["max-clients"].as_str(), Some("77"));
}

#[test]
fn a_bad_config_file_stops_serve_and_config_check_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    for (text, says) in [
        ("max-klients = 5\n", "unknown setting \"max-klients\""),
        ("max-clients = 0\n", "--max-clients"),
        ("bind = [\n", "--config"),
        ("demo = \"yes\"\n", "demo must be true or false"),
    ] {
        std::fs::write(&file, text).unwrap();
        for args in [&["serve"][..], &["config", "check"]] {
            let output = parkstream(args, &file);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?} {text:?}: {stderr}");
            assert!(
                stderr.starts_with("error:") && stderr.contains(says),
                "{text:?}: {stderr}"
            );
        }
    }
}
