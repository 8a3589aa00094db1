//! `parkstream loadtest` on the command line: the flags turned into options, the report
//! printed (a summary, then one JSON line), and a non-zero exit on any loss or duplicate.

use super::{idle, ingest, run, GenericTarget, LoadtestOptions, Watch};
use crate::config::LoadtestSettings;

/// Runs the load test the flags ask for and prints its report.
///
/// # Errors
/// When the test cannot run, or events were lost or duplicated.
pub async fn command(settings: LoadtestSettings) -> anyhow::Result<()> {
    if settings.ingest {
        return ingest_command(settings).await;
    }
    let generic = settings.sub_url.map(|sub_url| GenericTarget {
        sub_url,
        pub_url: settings.pub_url.unwrap_or_default(),
        body: settings.body,
        seq_prefix: settings.seq_regex,
    });
    let server = server_watch(settings.server_pid, settings.server_tree);
    let services = settings
        .service_pid
        .into_iter()
        .map(|(name, pid)| {
            let watch = Watch {
                pids: vec![pid],
                tree: true,
            };
            (name, watch)
        })
        .collect();
    let options = LoadtestOptions {
        urls: settings.url,
        clients: settings.clients,
        rate: settings.rate,
        duration: settings.duration,
        token: settings.token.map(|t| t.expose().to_owned()),
        generic,
        pub_conns: settings.pub_conns,
        server: server.clone(),
        services,
        reconnect: settings.reconnect,
    };
    if let (true, Some(watch)) = (settings.idle, server) {
        let report = idle(options, watch).await?;
        println!(
            "{} idle streams: server {:.1} MiB before, {:.1} MiB with them open, {:.1} KiB per stream",
            report.clients,
            report.server_rss_before_mib,
            report.server_rss_open_mib,
            report.kib_per_stream
        );
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let report = run(options).await?;
    let l = &report.latency_ms;
    println!(
        "{} clients, {} events: {} of {} delivered, {} lost, {} duplicates, {} out of order, {} order(s) among the streams",
        report.clients,
        report.published,
        report.delivered,
        report.expected,
        report.lost,
        report.duplicates,
        report.out_of_order,
        report.orders
    );
    println!(
        "latency p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.0} deliveries/s",
        l.p50, l.p90, l.p99, l.max, report.deliveries_per_second
    );
    if let Some(server) = &report.server {
        println!(
            "server {:.0}% of a core, {:.1} MiB resident; load generator {:.0}% of a core",
            server.cpu_percent, server.rss_mib, report.loadgen.cpu_percent
        );
    }
    for (name, usage) in &report.services {
        println!(
            "{name} {:.0}% of a core, {:.1} MiB resident",
            usage.cpu_percent, usage.rss_mib
        );
    }
    if let Some(storm) = &report.storm {
        println!(
            "{} reconnections over {:.0} ms, all back {:.0} ms after the first cut (away p50 {:.0} / max {:.0} ms); answers other than 200: {:?} ({} without Retry-After); {} attempts unreachable, {} gave up",
            storm.reconnects,
            storm.cut_spread_ms.max,
            storm.all_back_ms,
            storm.away_ms.p50,
            storm.away_ms.max,
            storm.answers,
            storm.without_retry_after,
            storm.unreachable,
            storm.gave_up
        );
    }
    println!("{}", serde_json::to_string(&report)?);
    anyhow::ensure!(
        report.lost == 0 && report.duplicates == 0,
        "events were lost or duplicated"
    );
    Ok(())
}

/// The server processes to measure, if `--server-pid` named any.
fn server_watch(pids: Vec<u32>, tree: bool) -> Option<Watch> {
    (!pids.is_empty()).then_some(Watch { pids, tree })
}

async fn ingest_command(settings: LoadtestSettings) -> anyhow::Result<()> {
    // Present: --ingest conflicts with --sub-url, without which --url is required.
    let [url] = <[String; 1]>::try_from(settings.url)
        .map_err(|_| anyhow::anyhow!("--ingest takes one --url"))?;
    let options = ingest::IngestOptions {
        url,
        clients: settings.clients,
        lots: settings.lots,
        batch: settings.batch,
        publishers: settings.publishers,
        duration: settings.duration,
        token: settings.token.map(|t| t.expose().to_owned()),
        server: server_watch(settings.server_pid, settings.server_tree),
    };
    let report = ingest::run(options).await?;
    let r = &report.request_ms;
    println!(
        "{} gate events stored in batches of {} ({:.0}/s), {} requests refused; request p50 {:.1} ms, p99 {:.1} ms",
        report.stored, report.batch, report.stored_per_second, report.refused, r.p50, r.p99
    );
    println!(
        "{} dashboards over {} lots: {} of {} deliveries, {} lost, {} duplicates",
        report.clients,
        report.lots,
        report.delivered,
        report.expected,
        report.lost,
        report.duplicates
    );
    let lag = &report.lag_ms;
    println!(
        "dashboards' lag p50 {:.0} ms, p99 {:.0} ms; {} streams dropped by the server, {} ended early",
        lag.p50,
        lag.p99,
        report
            .streams_dropped
            .map_or_else(|| "?".to_owned(), |n| n.to_string()),
        report.streams_ended
    );
    if let Some(server) = &report.server {
        println!(
            "server {:.0}% of a core, {:.1} MiB resident; load generator {:.0}% of a core",
            server.cpu_percent, server.rss_mib, report.loadgen.cpu_percent
        );
    }
    println!("{}", serde_json::to_string(&report)?);
    anyhow::ensure!(
        report.lost == 0 && report.duplicates == 0,
        "events were lost or duplicated"
    );
    Ok(())
}
