"""Writes the markdown table of docs/performance.md from bench/run.sh's results.jsonl: one
row per scenario, one column per server, each cell from the latest run of that pair. Where
S1, S2 or S4 ran three times or more pinned (PIN=1), a second table gives the median of the
last three pinned runs (latency percentiles, CPU per delivery and its ratio to the floor
writer's, the highest rate; each the median on its own)."""

import statistics

import json
import sys

SERVERS = ["parkstream", "naive-axum", "nchan", "floor-writer"]
ROWS = [
    ("s1", "S1: 1,000 clients, 100 ev/s, 20 s"),
    ("s2", "S2: 10,000 clients, 20 ev/s, 20 s"),
    ("s3", "S3: idle streams, memory per stream"),
    ("s4", "S4: max rate to 1,000 clients, p99 < 100 ms"),
    ("s5", "S5: ingest, 1,000 dashboards, batches of 200"),
    ("s5-pg", "S5 on PostgreSQL"),
    ("s6-3", "S6: a cluster of three on PostgreSQL and Redis"),
    ("s6-1", "S6: one instance on PostgreSQL and Redis, the same load"),
    ("s7", "S7: restart under 10,000 streams, 20 ev/s"),
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
        text = (f"{report['stored_per_second']:,.0f} stored ev/s, request p99 "
                f"{report['request_ms']['p99']:.0f} ms, {report['lost']:,} lost")
        s = report.get("server")
        if s:
            text += (f"; server {s['cpu_percent']:.0f}% CPU, "
                     f"loadgen {report['loadgen']['cpu_percent']:.0f}% CPU")
        return text
    if scenario.startswith("s6"):
        l, s = report["latency_ms"], report.get("server") or {}
        services = ", ".join(f"{name} {u['cpu_percent']:.0f}%" for name, u in
                             report.get("services", {}).items())
        # Publishers wait for each answer: an overloaded cluster slows them, and the run
        # takes longer than its duration.
        seconds = report["delivered"] / report["deliveries_per_second"] if report["delivered"] else 0
        return (f"{report['clients']:,} streams, {report['rate']} ev/s asked, "
                f"{report['published'] / max(seconds, 1e-9):.1f} ev/s achieved: p50 {l['p50']:.1f} / "
                f"p99 {l['p99']:.1f} ms, {report['lost']:,} lost, {report['duplicates']:,} "
                f"duplicated, {report['out_of_order']:,} out of order; "
                f"{report['deliveries_per_second']:,.0f} deliveries/s; instances "
                f"{s.get('cpu_percent', 0):.0f}% CPU, {s.get('rss_mib', 0):.0f} MiB; {services}")
    if scenario == "s7":
        st = report["storm"]
        answers = ", ".join(f"{n:,} × {code}" for code, n in st["answers"].items()) or "none"
        return (f"{st['reconnects']:,} resumed, cuts spread over {st['cut_spread_ms']['max']:,.0f} ms, "
                f"all back {st['all_back_ms']:,.0f} ms after the first cut (away p50 "
                f"{st['away_ms']['p50']:,.0f} / max {st['away_ms']['max']:,.0f} ms); answers other "
                f"than 200: {answers} ({st['without_retry_after']} without Retry-After); "
                f"{report['lost']:,} lost, {report['duplicates']:,} duplicated")
    if scenario == "s8":
        lag, dropped = report["lag_ms"], report.get("streams_dropped")
        return (f"{report['stored_per_second']:,.0f} stored ev/s, {report['refused']:,} refused, "
                f"request p99 {report['request_ms']['p99']:.0f} ms; lag p50 {lag['p50']:.0f} / "
                f"p99 {lag['p99']:.0f} ms; {report['lost']:,} lost, {report['duplicates']:,} "
                f"duplicated, {'?' if dropped is None else f'{dropped:,}'} streams dropped")
    return json.dumps(report)


def cpu_us_per_delivery(report):
    server = report.get("server") or {}
    if not server or not report["deliveries_per_second"]:
        return None
    return server["cpu_percent"] / 100 / report["deliveries_per_second"] * 1e6


def medians(runs):
    """The medians-of-three table, from every pinned run of S1, S2 and S4 in order."""
    rows, any_median = [], False
    for scenario, title in [ROWS[0], ROWS[1], ROWS[3]]:
        last3 = {server: [r for r in runs.get((scenario, server), []) if r][-3:]
                 for server in SERVERS}
        cpu = {}
        for server, last in last3.items():
            values = [c for c in map(cpu_us_per_delivery, last) if c is not None]
            if len(last) == 3 and len(values) == 3:
                cpu[server] = statistics.median(values)
        cells = []
        for server in SERVERS:
            last = last3[server]
            if len(last) < 3:
                cells.append("n/a")
                continue
            any_median = True
            med = lambda f: statistics.median(f(r) for r in last)
            if scenario == "s4":
                tries = ", ".join(f"{r['max_rate']:,}" for r in last)
                cells.append(f"{med(lambda r: r['max_rate']):,.0f} ev/s (tries: {tries})")
                continue
            text = (f"p50 {med(lambda r: r['latency_ms']['p50']):.1f} / p99 "
                    f"{med(lambda r: r['latency_ms']['p99']):.1f} ms")
            if server in cpu:
                text += f"; server {cpu[server]:.2f} µs CPU per delivery"
                if "floor-writer" in cpu and server != "floor-writer":
                    text += f" ({cpu[server] / cpu['floor-writer']:.2f}x the floor)"
            cells.append(text)
        rows.append(f"| {title} | " + " | ".join(cells) + " |")
    if not any_median:
        return
    print()
    print("Pinned (server on core 0, load generator on core 1), medians of the last three runs:")
    print()
    print("| Scenario | " + " | ".join(SERVERS) + " |")
    print("|---" * (len(SERVERS) + 1) + "|")
    for row in rows:
        print(row)


def main():
    latest, steps, runs = {}, {}, {}
    with open(sys.argv[1]) as results:
        for line in results:
            run = json.loads(line)
            if run["scenario"] == "s4-step" and run["report"]:
                r = run["report"]
                steps.setdefault(run["server"], {})[r["rate"]] = r["latency_ms"]["p99"]
            latest[(run["scenario"], run["server"])] = run["report"]
            if run.get("pin"):
                runs.setdefault((run["scenario"], run["server"]), []).append(run["report"])
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
    medians(runs)


main()
