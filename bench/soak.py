"""The soak test behind scripts/soak.sh.

Runs the shipped binary for a number of minutes under constant load (wrk,
keep-alive, valid requests) while slow clients and garbage connections come
and go, and samples the server's RSS, threads and open descriptors every
second. It fails if any of them trends upward after the warm-up, or if any
valid request got anything but a 2xx.

Writes docs/soak/summary.md and docs/soak/soak.svg.
"""

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from run import free_port, wait_ready

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "soak"
IDLE_TIMEOUT_SECS = 5
SLOW_CLIENTS = 40


def proc(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"^VmRSS:\s+(\d+)", status, re.M).group(1))
    threads = int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, threads, fds


def slow_client(port, stop):
    """Sends a request head a byte every two seconds, then gives up."""
    head = b"GET /query?param=slowloris HTTP/1.1\r\nHost: s\r\nX-Slow: " + b"z" * 64
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for byte in head[: random.randint(5, len(head))]:
                if stop.is_set():
                    return
                s.sendall(bytes([byte]))
                time.sleep(2)
    except OSError:
        pass  # the server closed it: that is the point


def garbage_client(port):
    """Random bytes, sometimes a half request, then hangs up or waits."""
    junk = bytes(random.getrandbits(8) for _ in range(random.randint(1, 4096)))
    if random.random() < 0.3:
        junk = b"GET /query?param=" + junk
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(junk)
            if random.random() < 0.5:
                s.settimeout(IDLE_TIMEOUT_SECS + 5)
                s.recv(4096)
    except OSError:
        pass


def chaos(port, stop):
    """Keeps about SLOW_CLIENTS slow clients open, and a garbage connection
    every 100 ms, all the way through: a stationary disturbance."""
    slow = []
    while not stop.is_set():
        slow = [t for t in slow if t.is_alive()]
        while len(slow) < SLOW_CLIENTS:
            t = threading.Thread(target=slow_client, args=(port, stop), daemon=True)
            t.start()
            slow.append(t)
        threading.Thread(target=garbage_client, args=(port,), daemon=True).start()
        time.sleep(0.1)


def slope_per_minute(values):
    """Least-squares slope of a series sampled once a second, per minute."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(values)
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    sxy = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return 60 * sxy / sxx if sxx else 0.0


def verdict(samples, warmup):
    """For each metric: the slope after warm-up and whether it is flat. A
    metric trends upward if it grows by more than its tolerance over the
    run, judged both by the slope and by first-third against last-third."""
    after = samples[warmup:]
    minutes = len(after) / 60
    tolerance = {"rss_kib": 512, "threads": 4, "fds": 8}
    result = {}
    for key, allowed in tolerance.items():
        series = [s[key] for s in after]
        third = max(1, len(series) // 3)
        growth = statistics.fmean(series[-third:]) - statistics.fmean(series[:third])
        slope = slope_per_minute(series)
        flat = slope * minutes <= allowed and growth <= allowed
        result[key] = {"slope_per_minute": slope, "growth": growth, "allowed": allowed, "flat": flat,
                       "min": min(series), "max": max(series)}
    return result


def svg(samples, warmup):
    width, height, pad = 720, 150, 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{3 * height}" '
             'font-family="sans-serif" font-size="12">']
    for row, (key, label) in enumerate([("rss_kib", "RSS (KiB)"), ("threads", "threads"),
                                        ("fds", "open descriptors")]):
        series = [s[key] for s in samples]
        top, bottom = max(series), min(series)
        span = (top - bottom) or 1
        y0 = row * height
        points = " ".join(
            f"{pad + (width - 2 * pad) * i / max(1, len(series) - 1):.1f},"
            f"{y0 + height - 25 - (height - 45) * (v - bottom) / span:.1f}"
            for i, v in enumerate(series)
        )
        wx = pad + (width - 2 * pad) * warmup / max(1, len(series) - 1)
        parts += [
            f'<text x="{pad}" y="{y0 + 14}">{label}: {bottom} to {top}</text>',
            f'<line x1="{wx:.1f}" y1="{y0 + 20}" x2="{wx:.1f}" y2="{y0 + height - 25}" '
            'stroke="#bbb" stroke-dasharray="4"/>',
            f'<polyline fill="none" stroke="#2f6f9f" stroke-width="1.2" points="{points}"/>',
        ]
    parts.append(f'<text x="{pad}" y="{3 * height - 5}">one sample a second; '
                 'the dashed line ends the warm-up</text></svg>')
    return "\n".join(parts) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()
    seconds = int(args.minutes * 60)
    # Allocator heaps fill up over the first minutes under this load (one
    # thread per open connection, each with its own mimalloc heap): judge
    # trends on the last two thirds.
    warmup = max(60, seconds // 3)

    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "warn",
           "IDLE_TIMEOUT_SECS": str(IDLE_TIMEOUT_SECS)}
    server = subprocess.Popen(["taskset", "-c", "0", args.binary], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port)
    pid = server.pid  # taskset execs the binary in place

    stop = threading.Event()
    threading.Thread(target=chaos, args=(port, stop), daemon=True).start()
    load = subprocess.Popen(
        ["taskset", "-c", "1", "wrk", "-t1", "-c4", f"-d{seconds}s", "--timeout", "5s",
         f"http://127.0.0.1:{port}/query?param=soak-test-valid-request"],
        stdout=subprocess.PIPE, text=True)

    samples = []
    started = time.monotonic()
    while load.poll() is None:
        rss, threads, fds = proc(pid)
        samples.append({"t": round(time.monotonic() - started), "rss_kib": rss,
                        "threads": threads, "fds": fds})
        time.sleep(1)
    stop.set()
    wrk_out = load.stdout.read()
    alive = server.poll() is None
    server.terminate()
    server.wait(timeout=20)

    requests = int(re.search(r"(\d+) requests in", wrk_out).group(1))
    non_2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", wrk_out) or [0, 0])[1])
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk_out)
    errors = sum(map(int, socket_errors.groups())) if socket_errors else 0
    trends = verdict(samples, warmup)
    passed = alive and non_2xx == 0 and errors == 0 and all(t["flat"] for t in trends.values())

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "samples.json").write_text(json.dumps(samples) + "\n")
    (OUT / "soak.svg").write_text(svg(samples, warmup))
    lines = [
        "# Soak test",
        "",
        f"`scripts/soak.sh {args.minutes:g}`, run {time.strftime('%Y-%m-%d')}: the musl binary on CPU 0 "
        f"(`IDLE_TIMEOUT_SECS={IDLE_TIMEOUT_SECS}`), `wrk -t1 -c4` on CPU 1 for {seconds} s, while about "
        f"{SLOW_CLIENTS} slow clients (one header byte every 2 s) and a garbage connection every 100 ms "
        "came and went.",
        "",
        f"**{'PASSED' if passed else 'FAILED'}.** {requests:,} valid requests, {non_2xx} non-2xx, "
        f"{errors} socket errors; the server {'stayed up' if alive else 'DIED'}.",
        "",
        f"After a {warmup} s warm-up:",
        "",
        "| Metric | Range | Slope per minute | Last third − first third | Allowed growth | Flat |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for key, t in trends.items():
        lines.append(f"| {key} | {t['min']} to {t['max']} | {t['slope_per_minute']:+.2f} | "
                     f"{t['growth']:+.1f} | {t['allowed']} | {'yes' if t['flat'] else '**no**'} |")
    lines += ["", "![RSS, threads and descriptors over time](soak.svg)", "",
              "One sample a second is in `samples.json`.", ""]
    (OUT / "summary.md").write_text("\n".join(lines))
    print("\n".join(lines))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
