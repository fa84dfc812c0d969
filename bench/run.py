"""The load benchmark behind scripts/bench.sh.

Each server runs pinned to CPU 0 and wrk drives it from CPU 1 with the same
load: `wrk -t1 -c32`, keep-alive, GET /query?param=acx333x. Rounds are
interleaved (ours, nginx, Flask, then again) so that drift on a shared
machine hits all three alike, and the report gives medians and the ratios
between servers, which drift far less than absolute numbers.

Writes docs/benchmarks/results.json, results.md and throughput.svg.
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "benchmarks"
TARGET = "/query?param=acx333x"
SERVER_CPU, LOAD_CPU = "0", "1"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location /query {{ default_type application/json; return 200 '{{"count":2}}'; }}
  }}
}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path=TARGET, timeout=1.0):
    """Status of one GET, or None if nothing answered."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
        return int(head.split()[1]) if head.startswith(b"HTTP/") else None
    except OSError:
        return None


def wait_ready(port, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if get(port) == 200:
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing answered 200 on port {port}")


def pinned(command):
    return ["taskset", "-c", SERVER_CPU] + command


class Server:
    """A server under test, started pinned to the server CPU."""

    def __init__(self, name, command, port, env=None, cwd=None):
        self.name, self.port = name, port
        self.process = subprocess.Popen(
            pinned(command),
            env={**os.environ, **(env or {})},
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_ready(port)

    def pids(self):
        """The server process and its children (gunicorn's workers)."""
        try:
            children = subprocess.run(
                ["pgrep", "-g", str(self.process.pid)], capture_output=True, text=True
            ).stdout.split()
        except OSError:
            children = []
        return {int(p) for p in children} | {self.process.pid}

    def rss_kib(self, field="VmRSS"):
        total = 0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            match = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
            total += int(match.group(1)) if match else 0
        return total

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def wrk(port, seconds):
    """Runs the load once; returns requests/s and p50/p99 latency in µs."""
    out = subprocess.run(
        ["taskset", "-c", LOAD_CPU, "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency",
         f"http://127.0.0.1:{port}{TARGET}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed responses:\n{out}")

    def latency(pct):
        value, unit = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]

    return {"rps": rps, "p50_us": latency(50), "p99_us": latency(99)}


def start(name, binary, tmp, venv):
    port = free_port()
    if name == "sre-kata":
        env = {"HOST": "127.0.0.1", "PORT": str(port), "LOG_FORMAT": "json"}
        return Server(name, [str(binary)], port, env=env)
    if name == "nginx":
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=tmp, port=port))
        return Server(name, ["nginx", "-c", str(conf)], port)
    gunicorn = Path(venv) / "bin" / "gunicorn"
    command = [str(gunicorn), "-w", "2", "--threads", "2", "-b", f"127.0.0.1:{port}",
               "flask_original:app"]
    return Server(name, command, port, cwd=REPO / "bench")


def cold_start_ms(binary, runs):
    """Median time from exec to the first 200 from /query."""
    times = []
    for _ in range(runs):
        port = free_port()
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "error"}
        # The child inherits this process's CPU at spawn: no taskset, whose
        # own exec would count as start-up time, and no preexec_fn, which
        # makes Python fork instead of spawn. Then poll from the other CPU.
        os.sched_setaffinity(0, {int(SERVER_CPU)})
        t0 = time.perf_counter()
        process = subprocess.Popen([str(binary)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.sched_setaffinity(0, {int(LOAD_CPU)})
        while get(port, timeout=0.2) != 200:
            time.sleep(0.0002)
        times.append((time.perf_counter() - t0) * 1000)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)
    os.sched_setaffinity(0, range(os.cpu_count()))
    return statistics.median(times)


def idle_rss_kib(binary):
    port = free_port()
    server = Server("sre-kata", [str(binary)], port,
                    env={"HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "error"})
    time.sleep(1)
    rss = server.rss_kib()
    server.stop()
    return rss


def count_throughput():
    """GB/s of count_repeated per input, from criterion's estimates."""
    subprocess.run(["cargo", "bench", "--locked", "--bench", "count", "--", "--noplot"],
                   cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    results = {}
    root = REPO / "target" / "criterion" / "count"
    for estimates in sorted(root.glob("*/*/new/estimates.json")):
        bench = estimates.parent.parent.relative_to(root).as_posix()
        mean_ns = json.loads(estimates.read_text())["mean"]["point_estimate"]
        size = json.loads((estimates.parent / "benchmark.json").read_text())["throughput"]["Bytes"]
        results[bench] = size / mean_ns  # bytes per ns = GB/s
    return results


def machine():
    cpu = "unknown CPU"
    try:
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Linux {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, help="the release musl binary")
    parser.add_argument("--venv", required=True, help="venv with bench/requirements.txt")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--image-bytes", type=int, default=None)
    args = parser.parse_args()
    binary = Path(args.binary).resolve()

    names = ["sre-kata", "nginx", "flask"]
    runs = {name: [] for name in names}
    peak_rss = {name: 0 for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for name in names:
                server = start(name, binary, tmp, args.venv)
                try:
                    wrk(server.port, 1)  # warm-up, not counted
                    result = wrk(server.port, args.seconds)
                    peak_rss[name] = max(peak_rss[name], server.rss_kib("VmHWM"))
                finally:
                    server.stop()
                runs[name].append(result)
                print(f"round {round_ + 1}: {name:9} {result['rps']:>10.0f} req/s", file=sys.stderr)

    median = {
        name: {key: statistics.median(r[key] for r in runs[name]) for key in runs[name][0]}
        for name in names
    }
    results = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "load": f"wrk -t1 -c32 -d{args.seconds}s, GET {TARGET}, server on CPU 0, wrk on CPU 1",
        "rounds": args.rounds,
        "runs": runs,
        "median": median,
        "peak_rss_kib": peak_rss,
        "ratio_to_nginx": median["sre-kata"]["rps"] / median["nginx"]["rps"],
        "ratio_to_flask": median["sre-kata"]["rps"] / median["flask"]["rps"],
        "cold_start_ms": cold_start_ms(binary, 20),
        "idle_rss_kib": idle_rss_kib(binary),
        "binary_bytes": binary.stat().st_size,
        "image_bytes": args.image_bytes,
        "count_gb_per_s": count_throughput(),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    from report import write_report  # noqa: E402  (same folder)
    write_report(results, OUT)
    print((OUT / "results.md").read_text())


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
