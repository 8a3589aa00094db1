//! Behind a reverse proxy: nginx with the shipped site file (tests/api/nginx.rs) in front of
//! the real binary, with TLS and HTTP/2 at nginx and the dashboard under `/parking/`; and,
//! without nginx, which forwarded addresses count.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{spawn_app_with, EventStream, PATIENCE};
use crate::nginx::{behind_nginx, nginx_installed, open_behind_nginx};

#[tokio::test]
async fn an_event_posted_through_nginx_reaches_a_stream_through_nginx_at_once() {
    if !nginx_installed() {
        return;
    }
    let proxied = open_behind_nginx(&[]).await;
    proxied.put_lot("a").await;
    let response = proxied.stream(None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = EventStream::new(response);
    stream.connected().await;
    // Several rounds, judged by their median: one slow round on a busy machine is noise, a
    // buffering proxy would hold every event (until its buffer filled or the ping came).
    let mut took = Vec::new();
    for occupied in 1..=5 {
        let sent = tokio::time::Instant::now();
        proxied.post_count("a", occupied).await;
        assert_eq!(stream.next_counts(1).await, [u64::from(occupied)]);
        took.push(sent.elapsed());
    }
    took.sort();
    eprintln!("POST to event through nginx, five rounds: {took:?}");
    assert!(
        took[2] < Duration::from_millis(100),
        "POST to event through nginx: {took:?}"
    );
}

#[tokio::test]
async fn one_client_holds_eight_streams_on_one_http2_connection_to_nginx() {
    if !nginx_installed() {
        return;
    }
    let proxied = open_behind_nginx(&[]).await;
    proxied.put_lot("a").await;
    let opened = futures_util::future::join_all((0..8).map(|_| proxied.stream(None))).await;
    let mut streams = Vec::new();
    for response in opened {
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        let mut stream = EventStream::new(response);
        stream.connected().await;
        streams.push(stream);
    }
    proxied.post_count("a", 7).await;
    for stream in &mut streams {
        assert_eq!(stream.next_counts(1).await, [7]);
    }
    drop(streams);
    // nginx logs a request when it ends: each stream's line names its connection.
    let log = proxied.dir.path().join("access.log");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|line| line.ends_with("/parking/api/sse/dashboard"))
            .map(str::to_owned)
            .collect();
        if lines.len() == 8 {
            break lines;
        }
        assert!(tokio::time::Instant::now() < deadline, "access log: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let connections: HashSet<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(connections.len(), 1, "one connection: {lines:?}");
    assert!(lines.iter().all(|l| l.contains(" HTTP/2.0 ")), "{lines:?}");
}

#[tokio::test]
async fn behind_nginx_each_forwarded_client_has_its_own_stream_limit() {
    if !nginx_installed() {
        return;
    }
    let proxied = behind_nginx(
        |_| {
            ["--auth", "none", "--max-streams-per-ip", "1"]
                .map(str::to_owned)
                .to_vec()
        },
        &[("RUST_LOG", "debug")],
    )
    .await;
    // nginx appends the address it saw (127.0.0.1, trusted) to what the client sent: the
    // client's own entry is then the nearest untrusted one.
    let first = proxied.stream(Some("203.0.113.7")).await;
    assert_eq!(first.status(), 200);
    let again = proxied.stream(Some("203.0.113.7")).await;
    assert_eq!(again.status(), 429, "the same client, one stream");
    assert!(again.headers().contains_key("retry-after"));
    let other = proxied.stream(Some("198.51.100.9")).await;
    assert_eq!(other.status(), 200, "another client behind the same proxy");
    let unforwarded = proxied.stream(None).await;
    assert_eq!(
        unforwarded.status(),
        200,
        "a client that forwards nothing is its own address"
    );

    // The request log names the client, not the proxy.
    let created = proxied
        .http
        .put(proxied.url("api/lots/a"))
        .header("x-forwarded-for", "192.0.2.44")
        .json(&json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !proxied
        .server
        .log
        .lock()
        .unwrap()
        .contains(r#""client":"192.0.2.44""#)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the log names no client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `src="..."` and `href="..."` values of `html`.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            found.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    found
}

/// The relative module specifiers `js` imports from (`from './x.js'`).
fn imports(js: &str) -> Vec<String> {
    js.match_indices("from '")
        .map(|(at, _)| {
            let rest = &js[at + "from '".len()..];
            rest[..rest.find('\'').unwrap()].to_owned()
        })
        .filter(|specifier| specifier.starts_with('.'))
        .collect()
}

#[tokio::test]
async fn the_dashboard_and_sign_in_work_under_the_proxys_path() {
    if !nginx_installed() {
        return;
    }
    // Access checks on, and no secret given: the server prints a sign-in link.
    let proxied = behind_nginx(
        |port| {
            vec![
                "--public-url".into(),
                format!("https://localhost:{port}/parking/"),
            ]
        },
        &[],
    )
    .await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let link = loop {
        let printed = proxied.server.stdout.lock().unwrap().clone();
        if let Some(line) = printed.lines().find(|l| l.contains("?token=")) {
            break line.split_whitespace().last().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sign-in link: {printed:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        link.starts_with(&format!("{}?token=", proxied.base)),
        "{link}"
    );

    let get = |url: reqwest::Url| proxied.http.get(url).send();
    let index = get(proxied.base.clone()).await.unwrap();
    assert_eq!(index.status(), 200);
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = index.text().await.unwrap();
    let mut modules = vec![proxied.url("client/sse-client.js")];
    for reference in references(&html) {
        if reference.starts_with("data:") || reference.starts_with('#') {
            continue;
        }
        assert!(
            !reference.starts_with('/') && !reference.contains("://"),
            "{reference} is not relative"
        );
        let url = proxied.url(&reference);
        if reference.ends_with(".js") {
            modules.push(url);
        } else {
            assert_eq!(get(url).await.unwrap().status(), 200, "{reference}");
        }
    }
    // Every module the page loads, through their imports.
    let mut seen = HashSet::new();
    while let Some(url) = modules.pop() {
        if !seen.insert(url.clone()) {
            continue;
        }
        let response = get(url.clone()).await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let js = response.text().await.unwrap();
        if !url.path().starts_with("/parking/client/") {
            for absolute in ["'/api", "`/api", "\"/api", "'/client", "'/app"] {
                assert!(
                    !js.contains(absolute),
                    "{url} uses an absolute URL ({absolute})"
                );
            }
        }
        modules.extend(
            imports(&js)
                .iter()
                .map(|specifier| url.join(specifier).unwrap()),
        );
    }
    assert!(seen.len() > 10, "the module graph was walked: {seen:?}");

    // Signing in: the cookie is scoped to the proxy's path, and the token leaves the URL.
    let signed_in = get(link.parse().unwrap()).await.unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "./");
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["Path=/parking/", "SameSite=Strict", "Secure"] {
        assert!(
            cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {cookie}"
        );
    }
    let pair = cookie.split(';').next().unwrap();
    assert!(pair.starts_with("parkstream_token="));
    let lots = proxied.url("api/lots");
    let with_cookie = proxied
        .http
        .get(lots.clone())
        .header("cookie", pair)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(get(lots).await.unwrap().status(), 401);
}

#[tokio::test]
async fn without_a_public_url_sign_in_scopes_the_cookie_to_the_root() {
    let app = spawn_app_with(|_| {}).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = http
        .get(app.url("/?token=aaa.bbb.ccc"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "./");
    assert_eq!(
        signed_in.headers()["set-cookie"],
        "parkstream_token=aaa.bbb.ccc; Path=/; SameSite=Strict"
    );
    // Not a token: no cookie, and the page then asks to sign in.
    let odd = http.get(app.url("/?token=a%3Bb")).send().await.unwrap();
    assert_eq!(odd.status(), 303);
    assert!(!odd.headers().contains_key("set-cookie"));
    app.stop().await;
}

/// A stream on a connection of its own: the server's lean stream path.
async fn own_connection_stream(url: &str, header: Option<(&str, &str)>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_untrusted_peers_forwarded_address_is_ignored() {
    let app = spawn_app_with(|s| {
        s.max_streams_per_ip = 1;
        s.write_rate_per_ip = 1;
    })
    .await;
    let url = app.url("/api/sse/dashboard");
    let first = own_connection_stream(&url, Some(("x-forwarded-for", "203.0.113.7"))).await;
    assert_eq!(first.status(), 200);
    for claim in [
        ("x-forwarded-for", "198.51.100.9"),
        ("forwarded", "for=198.51.100.9"),
    ] {
        let second = own_connection_stream(&url, Some(claim)).await;
        assert_eq!(second.status(), 429, "{claim:?} from an untrusted peer");
    }
    // Writes (through hyper): the budget is the peer's, whatever it claims.
    let put = |address: &'static str| {
        app.http
            .put(app.url("/api/lots/a"))
            .header("x-forwarded-for", address)
            .json(&json!({"name": "A", "totalSlots": 10}))
            .send()
    };
    assert_eq!(put("192.0.2.1").await.unwrap().status(), 201);
    assert_eq!(put("192.0.2.2").await.unwrap().status(), 429);
    app.stop().await;
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_addresses_count_on_both_connection_paths() {
    let app = spawn_app_with(|s| {
        s.max_streams_per_ip = 1;
        s.write_rate_per_ip = 1;
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let url = app.url("/api/sse/dashboard");
    let xff = |address| Some(("x-forwarded-for", address));
    let a = own_connection_stream(&url, xff("203.0.113.7")).await;
    assert_eq!(a.status(), 200);
    let a_again = own_connection_stream(&url, xff("10.0.0.1, 203.0.113.7")).await;
    assert_eq!(
        a_again.status(),
        429,
        "the nearest untrusted entry is the client"
    );
    let b = own_connection_stream(&url, Some(("forwarded", "for=\"[2001:db8::7]:4711\""))).await;
    assert_eq!(b.status(), 200, "Forwarded, without X-Forwarded-For");
    let malformed = own_connection_stream(&url, xff("not an address")).await;
    assert_eq!(
        malformed.status(),
        200,
        "falls back to the peer, which has no stream yet"
    );
    let peer = own_connection_stream(&url, None).await;
    assert_eq!(
        peer.status(),
        429,
        "the peer's own place is taken by the malformed one"
    );

    // Writes, through hyper (keep-alive connections of one client).
    let put = |address: &'static str| {
        app.http
            .put(app.url("/api/lots/a"))
            .header("x-forwarded-for", address)
            .json(&json!({"name": "A", "totalSlots": 10}))
            .send()
    };
    assert_eq!(put("192.0.2.1").await.unwrap().status(), 201);
    assert_eq!(put("192.0.2.1").await.unwrap().status(), 429);
    assert_eq!(put("192.0.2.2").await.unwrap().status(), 200);
    drop((a, b, malformed));
    app.stop().await;
}
