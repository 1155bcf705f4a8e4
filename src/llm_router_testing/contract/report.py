"""The contract suite's pass/fail table, as plain text for a terminal or a CI log."""

from __future__ import annotations

from collections import Counter

from .runner import ContractReport, Verdict

__all__ = ["render_table"]

DETAIL_WIDTH = 90


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def render_table(report: ContractReport) -> str:
    """Columns name, result, detail, time; then every failure in full, then a summary line."""
    rows = [
        (r.name, r.verdict.value.upper(), _clip(r.detail, DETAIL_WIDTH), f"{r.seconds:.2f}s")
        for r in report.results
    ]
    header = ("name", "result", "detail", "time")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, tuple("-" * w for w in widths), *rows]
    ]
    if report.failures:
        lines.append("")
        lines.append("failures:")
        lines.extend(f"  {r.name}: {r.detail}" for r in report.failures)
    warnings = [r for r in report.results if r.verdict is Verdict.WARN]
    if warnings:
        lines.append("")
        lines.append("advisory (not failures):")
        lines.extend(f"  {r.name}: {r.detail}" for r in warnings)
    counts = Counter(r.verdict for r in report.results)
    lines.append("")
    if report.ok:
        outcome = "OK"
    elif report.failures:
        outcome = "FAILED"
    else:
        outcome = "FAILED (nothing was checked)"
    lines.append(
        f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed,"
        f" {counts[Verdict.SKIP]} skipped"
        + (f", {counts[Verdict.WARN]} advisory" if counts[Verdict.WARN] else "")
        + f": {outcome}"
    )
    return "\n".join(lines) + "\n"
