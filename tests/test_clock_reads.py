"""No wall-clock read outside common/clock.py: every other module is handed `now` or a Clock,
so simulations, tests and replicas can agree on the time."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "engine", "schedule_api", "vchannel", "cloudformation")
THE_CLOCK = REPO / "common" / "clock.py"
WALL_CLOCK = {
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "localtime"),
    ("time", "gmtime"),
    ("time", "ctime"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
}
"""(object, attribute) calls that read the wall clock."""


def wall_clock_reads(source: str) -> list[int]:
    """Line numbers of calls such as time.time() or datetime.now(UTC) in a module."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner = node.func.value
        name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if (name, node.func.attr) in WALL_CLOCK:
            found.append(node.lineno)
    return found


def test_the_check_finds_a_wall_clock_read() -> None:
    source = "import datetime, time\nx = time.time_ns()\ny = datetime.datetime.now()\n"
    assert wall_clock_reads(source) == [2, 3]


def test_the_check_leaves_monotonic_timers_alone() -> None:
    assert wall_clock_reads("import time\nx = time.monotonic()\ny = time.perf_counter()\n") == []


def test_no_module_but_the_clock_reads_the_wall_clock() -> None:
    reads = [
        f"{path.relative_to(REPO)}:{line}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if path != THE_CLOCK
        for line in wall_clock_reads(path.read_text())
    ]
    assert reads == []
