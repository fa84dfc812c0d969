"""Turns docs/benchmarks/results.json into results.md and throughput.svg."""

import json
import sys
from html import escape
from pathlib import Path

LABELS = {"sre-kata": "sre-kata (musl, shipped)", "nginx": "nginx, fixed response",
          "flask": "Flask original (gunicorn)"}
COLOURS = {"sre-kata": "#2f6f9f", "nginx": "#7a7a7a", "flask": "#b5651d"}


def goals(r):
    """(goal, measured, met) for each target of issue 6."""
    m = r["median"]["sre-kata"]
    kib = 1024
    rows = [
        ("requests/s >= 0.55 x nginx", f"{r['ratio_to_nginx']:.2f} x", r["ratio_to_nginx"] >= 0.55),
        ("requests/s >= 30 x Flask", f"{r['ratio_to_flask']:.1f} x", r["ratio_to_flask"] >= 30),
        ("p99 <= 1 ms at 32 connections", f"{m['p99_us'] / 1000:.2f} ms", m["p99_us"] <= 1000),
        ("idle RSS <= 4 MiB", f"{r['idle_rss_kib'] / kib:.1f} MiB", r["idle_rss_kib"] <= 4 * kib),
        ("RSS under load <= 8 MiB", f"{r['peak_rss_kib']['sre-kata'] / kib:.1f} MiB",
         r["peak_rss_kib"]["sre-kata"] <= 8 * kib),
        ("cold start <= 5 ms", f"{r['cold_start_ms']:.2f} ms", r["cold_start_ms"] <= 5),
    ]
    if r.get("image_bytes"):
        rows.append(("image <= 1 MiB", f"{r['image_bytes'] / kib:.0f} KiB",
                     r["image_bytes"] <= kib * kib))
    ascii_8k = r["count_gb_per_s"].get("ascii/8192")
    if ascii_8k is not None:
        rows.append(("count >= 1 GB/s on ASCII", f"{ascii_8k:.2f} GB/s (8 KiB)", ascii_8k >= 1))
    return rows


def markdown(r):
    lines = [
        "# Benchmark results",
        "",
        f"Measured {r['date']} by `scripts/bench.sh` on {r['machine']}.",
        f"Load: {r['load']}; median of {r['rounds']} interleaved rounds.",
        "Ratios matter more than absolute numbers, which drift on shared machines.",
        "",
        "| Server | Requests/s (median) | p50 | p99 | Peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in r["median"].items():
        lines.append(
            f"| {LABELS[name]} | {m['rps']:,.0f} | {m['p50_us'] / 1000:.2f} ms "
            f"| {m['p99_us'] / 1000:.2f} ms | {r['peak_rss_kib'][name] / 1024:.1f} MiB |"
        )
    lines += [
        "",
        f"sre-kata is **{r['ratio_to_nginx']:.2f} x nginx** and **{r['ratio_to_flask']:.1f} x the Flask original**.",
        "",
        "![Requests per second](throughput.svg)",
        "",
        "## Goals",
        "",
        "| Goal | Measured | Met |",
        "|---|---:|:---:|",
    ]
    for goal, measured, met in goals(r):
        lines.append(f"| {goal} | {measured} | {'yes' if met else '**no**'} |")
    lines += [
        "",
        "## Other measurements",
        "",
        f"- Cold start, exec to the first 200 from `/query`, median of 20: {r['cold_start_ms']:.2f} ms",
        f"- Idle RSS: {r['idle_rss_kib']} KiB",
        f"- Binary: {r['binary_bytes']:,} bytes",
    ]
    if r.get("image_bytes"):
        lines.append(f"- Image: {r['image_bytes']:,} bytes")
    lines += ["", "`count_repeated` throughput (criterion, `benches/count.rs`):", "",
              "| Input | GB/s |", "|---|---:|"]
    for bench, gbps in sorted(r["count_gb_per_s"].items()):
        lines.append(f"| {bench} | {gbps:.2f} |")
    lines += ["", "Per-round numbers are in `results.json`. Levers tried, and what they "
              "did, are in [levers.md](levers.md).", ""]
    return "\n".join(lines)


def svg(r):
    names = list(r["median"])
    top = max(r["median"][n]["rps"] for n in names)
    width, bar_h, gap, left = 720, 34, 16, 220
    height = 60 + len(names) * (bar_h + gap)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="13">',
        f'<text x="10" y="22" font-size="15">Requests/s, one server core, '
        f'wrk -t1 -c32 (median of {r["rounds"]} rounds)</text>',
    ]
    for i, name in enumerate(names):
        rps = r["median"][name]["rps"]
        y = 40 + i * (bar_h + gap)
        w = max(2, (width - left - 120) * rps / top)
        parts += [
            f'<text x="10" y="{y + 22}">{escape(LABELS[name])}</text>',
            f'<rect x="{left}" y="{y}" width="{w:.0f}" height="{bar_h}" fill="{COLOURS[name]}"/>',
            f'<text x="{left + w + 8:.0f}" y="{y + 22}">{rps:,.0f}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def write_report(results, out):
    (out / "results.md").write_text(markdown(results))
    (out / "throughput.svg").write_text(svg(results))


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/benchmarks")
    write_report(json.loads((folder / "results.json").read_text()), folder)
