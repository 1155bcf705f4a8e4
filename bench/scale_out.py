"""Scale-out: throughput and rate-limit accuracy for 1, 2 and 4 router processes, with and
without a shared Redis, and the Redis round trips each call costs.

Starts the fake provider (in its own process) and a redis-server on loopback, then runs
`python -m llm_router_testing.scale_worker` processes against them:

- throughput: no limit, each process sending with `--concurrency` calls in flight for
  `--duration` seconds; requests per second in total;
- accuracy: one limit of `--rpm` requests per `--period` seconds for all processes together;
  the most requests the fake saw in any window, divided by the limit (1.00 is exact; without
  Redis every process enforces the whole limit on its own, so N processes let N times through).

Usage: python bench/scale_out.py [--duration 4] [--concurrency 8] [--rpm 40] [--period 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from llm_router_testing.redis_server import RedisUnavailable, running_redis

RESULTS = Path(__file__).parent / "results" / "scale_out.json"


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_router_testing.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/_fake/journal", timeout=0.5)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the fake provider did not start")


def journal_times(fake: str) -> list[float]:
    entries = httpx.get(fake + "/_fake/journal", timeout=10).json()
    return sorted(e["wall_time"] for e in entries if str(e["path"]).endswith("/completions"))


def clear_journal(fake: str) -> None:
    httpx.delete(fake + "/_fake/journal", timeout=10)


def max_in_window(times: list[float], period: float) -> int:
    """The most arrivals in any window of `period` seconds (`times` sorted)."""
    best, end = 0, 0
    for start_index, start in enumerate(times):
        while end < len(times) and times[end] < start + period:
            end += 1
        best = max(best, end - start_index)
    return best


def run_workers(count: int, args: list[str]) -> list[dict[str, object]]:
    start_at = time.time() + 2.5 + 0.5 * count  # every interpreter is up before anyone sends
    command = [sys.executable, "-m", "llm_router_testing.scale_worker", *args]
    command += ["--start-at", str(start_at)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE) for _ in range(count)]
    reports = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        reports.append(json.loads(out.splitlines()[-1]))
    return reports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rpm", type=int, default=40)
    parser.add_argument("--period", type=float, default=1.0)
    options = parser.parse_args()
    try:
        redis_context = running_redis()
        redis = redis_context.__enter__()
    except RedisUnavailable as exc:
        print(f"SKIPPED: {exc}")
        return 0
    fake_process, fake = start_fake()
    rows = []
    try:
        for processes in (1, 2, 4):
            for shared in (False, True):
                common = ["--fake", fake, "--concurrency", str(options.concurrency)]
                if shared:
                    redis.flush()
                    common += ["--redis", redis.url, "--prefix", f"bench{processes}"]
                clear_journal(fake)
                reports = run_workers(processes, [*common, "--duration", str(options.duration)])
                ok = sum(int(r["outcomes"].get("ok", 0)) for r in reports)  # type: ignore[attr-defined]
                trips = sum(int(r["round_trips"]) for r in reports)  # type: ignore[call-overload]
                throughput = ok / options.duration
                clear_journal(fake)
                limited = run_workers(
                    processes,
                    [*common, "--rpm", str(options.rpm), "--period", str(options.period),
                     "--duration", str(max(options.duration, 3 * options.period))],
                )  # fmt: skip
                arrivals = journal_times(fake)
                peak = max_in_window(arrivals, options.period)
                # Arrival jitter (admission to arrival at the fake) lets requests admitted a
                # full period apart land a little closer: the tests allow 50 ms of it.
                peak_tolerant = max_in_window(arrivals, options.period - 0.05)
                rows.append(
                    {
                        "processes": processes,
                        "redis": shared,
                        "requests_per_second": round(throughput, 1),
                        "round_trips_per_request": round(trips / ok, 2) if shared and ok else 0,
                        "limit": options.rpm,
                        "peak_in_window": peak,
                        "accuracy": round(peak / options.rpm, 2),
                        "peak_in_window_less_50ms": peak_tolerant,
                        "fallbacks": sum(
                            int(r["fallbacks"])  # type: ignore[call-overload]
                            for r in [*reports, *limited]
                        ),
                    }
                )
                print(rows[-1], flush=True)
    finally:
        fake_process.kill()
        fake_process.wait()
        redis_context.__exit__(None, None, None)
    print()
    print(f"limit: {options.rpm} requests per {options.period:g} s window, all processes together")
    print(
        "processes  redis  req/s    trips/req  peak/window  accuracy  peak/0.95 window  fallbacks"
    )
    for row in rows:
        print(
            f"{row['processes']:>9}  {'yes' if row['redis'] else 'no':>5}  "
            f"{row['requests_per_second']:>7}  {row['round_trips_per_request']:>9}  "
            f"{row['peak_in_window']:>11}  {row['accuracy']:>8}  "
            f"{row['peak_in_window_less_50ms']:>16}  {row['fallbacks']:>9}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"options": vars(options), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
