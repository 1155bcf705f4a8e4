"""Throughput-vs-concurrency plots (PNG) from the benchmarks' JSON results.

Reads what `sync.py`, `stream_floor.py --levels` and `gateway.py` wrote under bench/results/
and draws one PNG each: bench/results/sync.png, stream.png and gateway.png (log y axis, one
line per client). A missing result file is skipped with a note. matplotlib comes with the
development extra; it is no dependency of the library.

    .venv/bin/python bench/plot.py
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def _plot(
    series: Mapping[str, Mapping[int, float]], path: Path, *, title: str, ylabel: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(9, 4.5), dpi=120)
    for name, points in series.items():
        levels = sorted(points)
        axes.plot(levels, [points[level] for level in levels], marker="o", label=name)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("concurrency (calls in flight)")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    print(f"wrote {path}")


def _load(name: str) -> dict[str, object] | None:
    path = RESULTS / name
    if not path.exists():
        print(f"no {path}: run its benchmark first")
        return None
    loaded: dict[str, object] = json.loads(path.read_text())
    return loaded


def _levels(by_level: object, key: str | None = None) -> dict[int, float]:
    assert isinstance(by_level, dict)
    return {int(level): float(v[key] if key else v) for level, v in by_level.items()}


def main() -> None:
    sync = _load("sync.json")
    if sync is not None:
        names = {"floor": "raw httpx floor"}
        series = {
            names.get(client, client): _levels(levels, "requests_per_second")
            for client, levels in sync.items()
            if levels
        }
        _plot(
            series,
            RESULTS / "sync.png",
            title="Non-streamed calls (OpenAI caller, Anthropic upstream)",
            ylabel="requests/s",
        )
    stream = _load("stream_levels.json")
    if stream is not None:
        series = {client: _levels(levels) for client, levels in stream.items() if levels}
        _plot(
            series,
            RESULTS / "stream.png",
            title="Translated streams, 100 events each (whole-stream writes)",
            ylabel="events/s",
        )
    gateway = _load("gateway.json")
    if gateway is not None:
        series = {}
        for mode, clients in gateway.items():
            assert isinstance(clients, dict)
            for client, levels in clients.items():
                if client != "direct":
                    series[f"{client}, {mode}"] = _levels(levels, "requests_per_second")
        _plot(
            series,
            RESULTS / "gateway.png",
            title="Gateway: llm-router serve vs LiteLLM proxy (same upstream)",
            ylabel="requests/s (streams/s when streamed)",
        )


if __name__ == "__main__":
    main()
