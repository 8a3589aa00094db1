"""Writes the markdown table of docs/performance.md from bench/run.sh's results.jsonl: one
row per scenario, one column per server, each cell from the latest run of that pair."""

import json
import sys

SERVERS = ["parkstream", "naive-axum", "nchan"]
ROWS = [
    ("s1", "S1: 1,000 clients, 100 ev/s, 20 s"),
    ("s2", "S2: 10,000 clients, 20 ev/s, 20 s"),
    ("s3", "S3: idle streams, memory per stream"),
    ("s4", "S4: max rate to 1,000 clients, p99 < 100 ms"),
    ("s5", "S5: ingest, 1,000 dashboards, batches of 200"),
    ("s5-pg", "S5 on PostgreSQL"),
    ("s8", "S8: overload, ingest to 10,000 dashboards"),
]


def cell(scenario, report):
    if report is None:
        return "failed (no report)"
    if scenario in ("s1", "s2"):
        l, s = report["latency_ms"], report.get("server") or {}
        text = (f"p50 {l['p50']:.1f} / p99 {l['p99']:.1f} ms, {report['lost']:,} lost; "
                f"{report['deliveries_per_second']:,.0f} deliveries/s")
        if s:
            text += (f"; server {s['cpu_percent']:.0f}% CPU, {s['rss_mib']:.0f} MiB; "
                     f"loadgen {report['loadgen']['cpu_percent']:.0f}% CPU")
        return text
    if scenario == "s3":
        return (f"{report['kib_per_stream']:.1f} KiB ({report['clients']:,} streams, "
                f"{report['server_rss_open_mib']:.0f} MiB)")
    if scenario == "s4":
        return f"{report['max_rate']:,} ev/s"
    if scenario in ("s5", "s5-pg"):
        return (f"{report['stored_per_second']:,.0f} stored ev/s, request p99 "
                f"{report['request_ms']['p99']:.0f} ms, {report['lost']:,} lost")
    if scenario == "s8":
        lag, dropped = report["lag_ms"], report.get("streams_dropped")
        return (f"{report['stored_per_second']:,.0f} stored ev/s, {report['refused']:,} refused, "
                f"request p99 {report['request_ms']['p99']:.0f} ms; lag p50 {lag['p50']:.0f} / "
                f"p99 {lag['p99']:.0f} ms; {report['lost']:,} lost, {report['duplicates']:,} "
                f"duplicated, {'?' if dropped is None else f'{dropped:,}'} streams dropped")
    return json.dumps(report)


def main():
    latest, steps = {}, {}
    with open(sys.argv[1]) as results:
        for line in results:
            run = json.loads(line)
            if run["scenario"] == "s4-step" and run["report"]:
                r = run["report"]
                steps.setdefault(run["server"], {})[r["rate"]] = r["latency_ms"]["p99"]
            latest[(run["scenario"], run["server"])] = run["report"]
    print("| Scenario | " + " | ".join(SERVERS) + " |")
    print("|---" * (len(SERVERS) + 1) + "|")
    for scenario, title in ROWS:
        cells = []
        for server in SERVERS:
            if (scenario, server) not in latest:
                cells.append("n/a")
                continue
            text = cell(scenario, latest[(scenario, server)])
            if scenario == "s4":
                rate = latest[(scenario, server)]["max_rate"]
                p99 = steps.get(server, {}).get(rate)
                if p99 is not None:
                    text += f" (p99 {p99:.0f} ms)"
            cells.append(text)
        print(f"| {title} | " + " | ".join(cells) + " |")


main()
