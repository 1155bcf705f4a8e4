"""Translation cost over the captured corpus, as a multiple of `orjson.loads` + `orjson.dumps`.

Parsing a body and writing another one cannot cost less than decoding and re-encoding it, so
each translation is timed against that floor on the same body: a ratio of 3 means three times
the cost of ``orjson.dumps(orjson.loads(body))``. For every directed pair of formats it reports
the median ratio (and median time) per request and per response translation, and for streams
the events translated per second on one core and the median per-event ratio. The same-format
pairs are byte passthrough and are left out.

    .venv/bin/python bench/translate.py [--repeat 5] [--max-bodies N] [--only openai,anthropic]

Each translation and its floor are timed in alternation, each in a loop of about a
millisecond, several times, keeping the fastest loop of each (the least disturbed by other
processes); the garbage collector is off while timing. Mistral has no captured traffic of its own: its bodies are the Chat Completions
captures translated to Mistral. Writes bench/results/translate.md. Not run by the test suite.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import orjson
from _util import markdown_table, text_table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from formats._captured import captured  # noqa: E402  (the test corpus loader)
from llm_router.translate import StreamTranslator, translate_request, translate_response  # noqa: E402

RESULTS = Path(__file__).parent / "results"
FORMATS = ("openai", "responses", "anthropic", "google", "converse", "mistral")
#: Captured directories and the format their bodies are in.
SOURCES = {
    "chat-completions": "openai",
    "responses": "responses",
    "anthropic": "anthropic",
    "bedrock-anthropic": "anthropic",
    "vertex-anthropic": "anthropic",
    "google": "google",
    "vertex-google": "google",
    "bedrock": "converse",
}
TARGET_REQUEST_RATIO = 4.0
TARGET_RESPONSE_RATIO = 3.0
TARGET_EVENTS_PER_SECOND = 100_000
#: Size classes for the summary, by body length in bytes.
SIZES = ((2_000, "< 2 KB"), (20_000, "2-20 KB"), (None, ">= 20 KB"))


@dataclass
class Corpus:
    requests: dict[str, list[bytes]] = field(default_factory=dict)
    responses: dict[str, list[bytes]] = field(default_factory=dict)
    streams: dict[str, list[list[bytes]]] = field(default_factory=dict)


def load_corpus() -> Corpus:
    corpus = Corpus()
    for fmt in FORMATS:
        corpus.requests[fmt] = []
        corpus.responses[fmt] = []
        corpus.streams[fmt] = []
    for directory, fmt in SOURCES.items():
        corpus.requests[fmt] += [orjson.dumps(b) for _, b in captured(directory, "request")]
        corpus.responses[fmt] += [orjson.dumps(b) for _, b in captured(directory, "response")]
        corpus.streams[fmt] += [
            [orjson.dumps(e) for e in events]
            for _, events in captured(directory, "response-streaming")
        ]
    for body in corpus.requests["openai"]:
        corpus.requests["mistral"].append(translate_request(body, "openai", "mistral"))
    for body in corpus.responses["openai"]:
        corpus.responses["mistral"].append(translate_response(body, "openai", "mistral"))
    for events in corpus.streams["openai"]:
        translator = StreamTranslator("openai", "mistral")
        out = [e for event in events for e in translator.feed(event)] + translator.finish()
        corpus.streams["mistral"].append([e.data for e in out if e.data != b"[DONE]"])
    return corpus


def paired_times(
    fn: Callable[[], object], floor: Callable[[], object], repeat: int
) -> tuple[float, float]:
    """Seconds per call of `fn` and of `floor`, timed in alternation.

    Each is looped for about a millisecond, `repeat` times, keeping the fastest loop (the least
    disturbed by other processes); alternating the two keeps their ratio honest when the
    machine's speed drifts.
    """
    loops = [_loops(fn), _loops(floor)]
    best = [float("inf"), float("inf")]
    gc.disable()
    try:
        for _ in range(repeat):
            for i, f in enumerate((fn, floor)):
                start = time.perf_counter()
                for _ in range(loops[i]):
                    f()
                best[i] = min(best[i], (time.perf_counter() - start) / loops[i])
    finally:
        gc.enable()
    return best[0], best[1]


def _loops(fn: Callable[[], object]) -> int:
    start = time.perf_counter()
    fn()
    return max(1, int(1e-3 / max(time.perf_counter() - start, 1e-7)))


def loads_dumps(body: bytes) -> Callable[[], object]:
    return lambda: orjson.dumps(orjson.loads(body))


def loads_dumps_each(events: list[bytes]) -> Callable[[], object]:
    def run() -> None:
        for event in events:
            orjson.dumps(orjson.loads(event))

    return run


def feed_all(events: list[bytes], source: str, target: str) -> Callable[[], object]:
    def run() -> None:
        translator = StreamTranslator(source, target)
        for event in events:
            translator.feed(event)
        translator.finish()

    return run


@dataclass
class PairResult:
    request_ratios: list[float] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    response_ratios: list[float] = field(default_factory=list)
    response_times: list[float] = field(default_factory=list)
    stream_ratios: list[float] = field(default_factory=list)
    stream_events: int = 0
    stream_seconds: float = 0.0


@dataclass
class Sized:
    """(body length, ratio) of every request and response translation, for the size summary."""

    requests: list[tuple[int, float]] = field(default_factory=list)
    responses: list[tuple[int, float]] = field(default_factory=list)


def pairs(only: set[str] | None) -> Iterator[tuple[str, str]]:
    for source in FORMATS:
        for target in FORMATS:
            if source != target and (only is None or {source, target} <= only):
                yield source, target


def measure(
    corpus: Corpus, args: argparse.Namespace
) -> tuple[dict[tuple[str, str], PairResult], Sized]:
    only = set(args.only.split(",")) if args.only else None
    cap = args.max_bodies
    results: dict[tuple[str, str], PairResult] = {}
    sized = Sized()
    for source, target in pairs(only):
        result = results[source, target] = PairResult()
        for body in corpus.requests[source][:cap]:
            try:
                translate_request(body, source, target)
            except Exception:
                continue  # e.g. URL images, which Converse cannot take
            seconds, floor = paired_times(
                partial(translate_request, body, source, target), loads_dumps(body), args.repeat
            )
            result.request_ratios.append(seconds / floor)
            result.request_times.append(seconds)
            sized.requests.append((len(body), seconds / floor))
        for body in corpus.responses[source][:cap]:
            seconds, floor = paired_times(
                partial(translate_response, body, source, target), loads_dumps(body), args.repeat
            )
            result.response_ratios.append(seconds / floor)
            result.response_times.append(seconds)
            sized.responses.append((len(body), seconds / floor))
        for events in corpus.streams[source][:cap]:
            if not events:
                continue
            seconds, floor = paired_times(
                feed_all(events, source, target), loads_dumps_each(events), args.repeat
            )
            result.stream_ratios.append(seconds / floor)
            result.stream_events += len(events)
            result.stream_seconds += seconds
        print(f"  {source} -> {target}", file=sys.stderr, flush=True)
    return results, sized


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pair_rows(results: dict[tuple[str, str], PairResult]) -> list[list[str]]:
    rows = []
    every = PairResult()
    for (source, target), r in results.items():
        rows.append(_row(f"{source} -> {target}", r))
        every.request_ratios += r.request_ratios
        every.request_times += r.request_times
        every.response_ratios += r.response_ratios
        every.response_times += r.response_times
        every.stream_ratios += r.stream_ratios
        every.stream_events += r.stream_events
        every.stream_seconds += r.stream_seconds
    rows.append(_row("all pairs", every))
    return rows


def _row(name: str, r: PairResult) -> list[str]:
    rate = r.stream_events / r.stream_seconds if r.stream_seconds else float("nan")
    return [
        name,
        f"{_median(r.request_times) * 1e6:.1f}",
        f"{_median(r.request_ratios):.2f}",
        f"{_median(r.response_times) * 1e6:.1f}",
        f"{_median(r.response_ratios):.2f}",
        f"{_median(r.stream_ratios):.2f}",
        f"{rate:,.0f}",
    ]


PAIR_HEADERS = [
    "pair",
    "request µs",
    "request ratio",
    "response µs",
    "response ratio",
    "stream ratio/event",
    "stream events/s",
]


def size_rows(sized: Sized) -> list[list[str]]:
    rows = []
    low = 0
    for high, label in SIZES:
        row = [label]
        for samples in (sized.requests, sized.responses):
            ratios = [r for n, r in samples if n >= low and (high is None or n < high)]
            row += [str(len(ratios)), f"{_median(ratios):.2f}"]
        rows.append(row)
        low = high or low
    return rows


SIZE_HEADERS = ["body size", "requests", "request ratio", "responses", "response ratio"]


def verdict(results: dict[tuple[str, str], PairResult]) -> list[str]:
    requests = [x for r in results.values() for x in r.request_ratios]
    responses = [x for r in results.values() for x in r.response_ratios]
    events = sum(r.stream_events for r in results.values())
    seconds = sum(r.stream_seconds for r in results.values())
    rate = events / seconds if seconds else 0.0

    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    return [
        f"requests: median ratio {_median(requests):.2f} (target <= {TARGET_REQUEST_RATIO:g}): "
        f"{met(_median(requests) <= TARGET_REQUEST_RATIO)}",
        f"responses: median ratio {_median(responses):.2f} "
        f"(target <= {TARGET_RESPONSE_RATIO:g}): {met(_median(responses) <= TARGET_RESPONSE_RATIO)}",
        f"streams: {rate:,.0f} events/s (target >= {TARGET_EVENTS_PER_SECOND:,}): "
        f"{met(rate >= TARGET_EVENTS_PER_SECOND)}",
    ]


def profile(corpus: Corpus, repeat: int = 5, only: set[str] | None = None) -> str:
    """cProfile of every request and response translation of every pair (of the formats in
    `only`, when given), `repeat` times."""
    import cProfile
    import io
    import pstats

    work: list[tuple[Callable[..., bytes], bytes, str, str]] = []
    for source, target in pairs(only):
        for fn, bodies in (
            (translate_request, corpus.requests[source]),
            (translate_response, corpus.responses[source]),
        ):
            for body in bodies:
                try:
                    fn(body, source, target)
                except Exception:
                    continue
                work.append((fn, body, source, target))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        for fn, body, source, target in work:
            fn(body, source, target)
    profiler.disable()
    out = io.StringIO()
    floor = min(
        timeit_floor(body) for _, body, _, _ in work[:50]
    )  # a reference point for the reader
    out.write(
        f"cProfile of {len(work)} request and response translations x {repeat} "
        f"({'pairs of ' + ', '.join(sorted(only)) if only else 'all pairs'}), "
        f"by own time; orjson.loads + orjson.dumps of a small body: about {floor * 1e6:.1f} us. "
        "cProfile adds a fixed cost per Python call, so totals read high; the order is what "
        "matters.\n\n"
    )
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
    return out.getvalue().replace(str(ROOT) + "/", "")


def timeit_floor(body: bytes) -> float:
    start = time.perf_counter()
    for _ in range(1000):
        orjson.dumps(orjson.loads(body))
    return (time.perf_counter() - start) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed loops per body (best kept)")
    parser.add_argument("--max-bodies", type=int, default=None, help="bodies per pair and kind")
    parser.add_argument("--only", default="", help="comma-separated formats to restrict pairs to")
    parser.add_argument(
        "--profile",
        metavar="PATH",
        help="instead of timing: cProfile every request and response translation (of the --only "
        "formats' pairs), by own time",
    )
    args = parser.parse_args()

    corpus = load_corpus()
    if args.profile:
        only = set(args.only.split(",")) if args.only else None
        Path(args.profile).write_text(profile(corpus, only=only))
        print(f"profile written to {args.profile}")
        return
    started = time.perf_counter()
    results, sized = measure(corpus, args)
    elapsed = time.perf_counter() - started

    rows = pair_rows(results)
    sizes = size_rows(sized)
    lines = verdict(results)
    print(text_table(PAIR_HEADERS, rows))
    print()
    print(text_table(SIZE_HEADERS, sizes))
    print()
    print("\n".join(lines))

    counts = (
        f"{sum(len(v) for v in corpus.requests.values())} requests, "
        f"{sum(len(v) for v in corpus.responses.values())} responses and "
        f"{sum(len(v) for v in corpus.streams.values())} streams"
    )
    report = [
        "# Translation benchmark",
        "",
        f"Generated by `bench/translate.py` (Python {sys.version.split()[0]}, one core, "
        f"{elapsed:.0f} s). Corpus: {counts} across the six formats, each translated to the "
        "five other formats. Ratio = translation time / (`orjson.loads` + `orjson.dumps`) "
        "time of the same body (per event for streams); medians over the bodies of a pair.",
        "",
        markdown_table(PAIR_HEADERS, rows),
        "",
        "By body size (all pairs):",
        "",
        markdown_table(SIZE_HEADERS, sizes),
        "",
        *(f"- {line}" for line in lines),
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "translate.md").write_text("\n".join(report))


if __name__ == "__main__":
    main()
