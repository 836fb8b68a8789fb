"""Metric definitions, medians, the Markdown table and the JSON line."""

import statistics

from systems import ORDER, PEERS

# key, label, unit, better ("high"/"low"), decimals
METRICS = [
    ("throughput_1s_gbps", "bulk throughput, 1 stream", "Gb/s", "high", 2),
    ("throughput_8s_gbps", "bulk throughput, 8 streams", "Gb/s", "high", 2),
    ("rtt_2k_p50_us", "1 KiB RTT @2,000/s p50", "µs", "low", 0),
    ("rtt_2k_p99_us", "1 KiB RTT @2,000/s p99", "µs", "low", 0),
    ("rtt_max_p50_us", "1 KiB RTT @max rate p50", "µs", "low", 0),
    ("rtt_max_p99_us", "1 KiB RTT @max rate p99", "µs", "low", 0),
    ("rr_max_per_s", "1 KiB request/response max rate", "req/s", "high", 0),
    ("connrate_1c_per_s", "new connections, 1 client", "conn/s", "high", 0),
    ("connrate_8c_per_s", "new connections, 8 clients", "conn/s", "high", 0),
    ("rss_idle_a_mib", "RSS idle, A", "MiB", "low", 1),
    ("rss_idle_b_mib", "RSS idle, B", "MiB", "low", 1),
    ("rss_1k_a_mib", "RSS with {hold} idle conns, A", "MiB", "low", 1),
    ("rss_1k_b_mib", "RSS with {hold} idle conns, B", "MiB", "low", 1),
    ("cpu_s_per_gb", "proxy CPU per GB moved (A+B)", "s/GB", "low", 2),
    ("failed_connections", "failed or dropped connections", "count", "low", 0),
]
METRIC_KEYS = [m[0] for m in METRICS]


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def best_peer(row, better):
    """(system, value) of the best peer for a metric row, or (None, None)."""
    cands = [(row[s], s) for s in PEERS if row.get(s) is not None]
    if not cands:
        return None, None
    value, name = (max if better == "high" else min)(cands)
    return name, value


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(value, decimals):
    if value is None:
        return "–"
    if decimals == 0:
        return f"{value:,.0f}"
    return f"{value:,.{decimals}f}"


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}×"


def table(medians, systems, hold=1000):
    """Markdown table: one row per metric, one column per system that ran, then the ratios."""
    shown = [s for s in ORDER if s in systems]
    peers = [s for s in PEERS if s in systems]
    with_ambit = "ambit" in systems
    head = ["metric"] + shown + (["best peer"] if peers else [])
    if with_ambit:
        head += [f"ambit/{p}" for p in peers]
        head += (["ambit/best peer"] if peers else []) + (["ambit/direct"] if "direct" in systems else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, unit, better, dec in METRICS:
        row = medians[key]
        arrow = "↑" if better == "high" else "↓"
        cells = [f"{label.format(hold=f'{hold:,}')} ({unit}, {arrow})"] + [fmt(row.get(s), dec) for s in shown]
        if peers:
            name, value = best_peer(row, better)
            cells.append(f"{fmt(value, dec)} ({name})" if name else "–")
        if with_ambit:
            cells += [fmt_ratio(ratio(row.get("ambit"), row.get(p))) for p in peers]
            if peers:
                cells.append(fmt_ratio(ratio(row.get("ambit"), best_peer(row, better)[1])))
            if "direct" in systems:
                cells.append(fmt_ratio(ratio(row.get("ambit"), row.get("direct"))))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rounded(value, decimals):
    if value is None:
        return None
    return round(value, max(decimals, 2) if decimals else 1)


def json_object(medians, samples, meta):
    """{metric: {system: median}} for every metric and all five systems (null when not run or unavailable),
    ratios, per-run samples and metadata."""
    out = {}
    for key, _, _, better, dec in METRICS:
        out[key] = {s: rounded(medians[key].get(s), dec) for s in ORDER}
    ratios = {}
    for key, _, _, better, _ in METRICS:
        row = medians[key]
        r = {f"ambit/{p}": ratio(row.get("ambit"), row.get(p)) for p in PEERS}
        r["ambit/best_peer"] = ratio(row.get("ambit"), best_peer(row, better)[1])
        r["ambit/direct"] = ratio(row.get("ambit"), row.get("direct"))
        ratios[key] = {k: (round(v, 3) if v is not None else None) for k, v in r.items()}
    out["ratios"] = ratios
    out["samples"] = {k: {s: [rounded(v, d) for v in samples[k].get(s, [])] for s in samples[k]}
                      for k, _, _, _, d in METRICS}
    out["meta"] = meta
    return out
