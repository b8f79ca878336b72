"""The result table (rich) and ``bench/results.json``."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .harness import ROOT

RESULTS = Path(__file__).resolve().parent / "results.json"

OK = "ok"
BELOW = "below goal"
INFO = "info"
FAILED = "FAILED"


@dataclass
class Row:
    work: str
    figure: str
    reference: str
    ratio: float | None
    goal: str
    status: str
    data: dict[str, Any] = field(default_factory=dict)


def judge(value: float, *, at_least: float | None = None, at_most: float | None = None) -> str:
    if at_least is not None and value < at_least:
        return BELOW
    if at_most is not None and value > at_most:
        return BELOW
    return OK


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg,) = cursor.fetchone()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": pg,
        "kernel": platform.release(),
        "commit": commit,
    }


def render(rows: list[Row], *, title: str, console: Console) -> None:
    table = Table(title=title, show_lines=False)
    for name, justify in (
        ("Work", "left"),
        ("Figure", "right"),
        ("Reference (same run)", "right"),
        ("Ratio", "right"),
        ("Goal", "left"),
        ("Result", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    styles = {OK: "green", BELOW: "yellow", INFO: "dim", FAILED: "bold red"}
    for row in rows:
        table.add_row(
            row.work,
            row.figure,
            row.reference,
            "—" if row.ratio is None else f"{row.ratio:.2f}",
            row.goal,
            f"[{styles.get(row.status, '')}]{row.status}[/]",
        )
    console.print(table)


def markdown(rows: list[Row]) -> str:
    lines = [
        "| Work | Figure | Reference (same run) | Ratio | Goal | Result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(f"| {row.work} | {row.figure} | {row.reference} | {ratio} | {row.goal} | {row.status} |")
    return "\n".join(lines)


def write(rows: list[Row], *, mode: str, details: dict[str, Any], elapsed_s: float) -> Path:
    payload = {
        "mode": mode,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine(),
        "rows": [asdict(row) for row in rows],
        "markdown": markdown(rows),
        "details": details,
    }
    RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return RESULTS
