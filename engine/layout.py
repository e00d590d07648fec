"""Layouts: one cycle of a group of the channel timeline, as runs of segments placed relative to
the cycle's start. Pure, no I/O.

A layout follows from the pieces it plays (asset, segment range, title) alone, so the layouts
of a process are interned: every group that plays the same pieces (the same part of a program
on any channel, on any day; the slate of every ad break of the same length) shares one, and a
compiled timeline keeps only the few numbers that place each group in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from weakref import WeakValueDictionary

from engine.model import AssetIndex


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive segments of one asset, placed relative to the start of its group's cycle."""

    rel_msn: int
    rel_start_us: int
    rel_dsn: int
    discontinuity: bool
    asset: AssetIndex
    first_segment: int
    count: int
    title: str

    @property
    def duration_us(self) -> int:
        prefix = self.asset.prefix_us
        return prefix[self.first_segment + self.count] - prefix[self.first_segment]


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Layout:
    """One cycle of a group: its runs placed relative to the cycle's start. It follows from
    the pieces alone, so every group that plays the same pieces (the same part of a program
    on any channel, any day; the slate of every break of the same length) shares one: the
    layouts of a process are interned (`layout_of`), which keeps a timeline's memory to the
    few numbers that place each group in time."""

    runs: tuple[Run, ...]
    run_msns: tuple[int, ...]
    run_starts: tuple[int, ...]
    period_us: int
    count: int
    rel_dsn: int
    """The discontinuities inside one cycle (before its last segment)."""
    wrap_discontinuity: bool
    """A discontinuity where the cycle loops back to its first segment."""

    @property
    def dsn_step(self) -> int:
        return self.rel_dsn + self.wrap_discontinuity

    @property
    def tail(self) -> tuple[AssetIndex, int]:
        """The asset and segment the cycle ends with."""
        last = self.runs[-1]
        return last.asset, last.first_segment + last.count - 1


@dataclass(frozen=True, slots=True)
class Piece:
    asset: AssetIndex
    first: int
    end: int
    title: str


def is_successor(previous: tuple[AssetIndex, int] | None, asset: AssetIndex, index: int) -> bool:
    if previous is None:
        return False
    previous_asset, previous_index = previous
    return (
        previous_asset.key == asset.key
        and index == previous_index + 1
        and not asset.renditions[0].segments.is_discontinuity(index)
    )


_LAYOUTS: WeakValueDictionary[tuple[tuple[int, int, int, str], ...], Layout] = WeakValueDictionary()
"""Every layout in use in this process, by its pieces (an asset by identity: the layout holds
it, so the identity stays its own while the entry lives). A memo of a pure function: it
changes no result, only how many copies of the same layout exist."""


def layout_of(pieces: list[Piece]) -> Layout:
    """The layout of a cycle of pieces (shared with every group that plays the same)."""
    key = tuple((id(p.asset), p.first, p.end, p.title) for p in pieces)
    found = _LAYOUTS.get(key)
    if found is not None:
        return found
    runs: list[Run] = []
    rel_msn = rel_start = rel_dsn = 0
    previous: tuple[AssetIndex, int] | None = None
    for piece in pieces:
        first = piece.first
        splits = piece.asset.renditions[0].segments.discontinuities_within(first, piece.end)
        for index in (*splits, piece.end):
            discontinuity = bool(runs) and not is_successor(previous, piece.asset, first)
            rel_dsn += discontinuity
            run = Run(
                rel_msn=rel_msn,
                rel_start_us=rel_start,
                rel_dsn=rel_dsn,
                discontinuity=discontinuity,
                asset=piece.asset,
                first_segment=first,
                count=index - first,
                title=piece.title or piece.asset.title,
            )
            runs.append(run)
            rel_msn += run.count
            rel_start += run.duration_us
            previous = (piece.asset, index - 1)
            first = index
    head = runs[0]
    layout = Layout(
        runs=tuple(runs),
        run_msns=tuple(r.rel_msn for r in runs),
        run_starts=tuple(r.rel_start_us for r in runs),
        period_us=rel_start,
        count=rel_msn,
        rel_dsn=rel_dsn,
        wrap_discontinuity=not is_successor(previous, head.asset, head.first_segment),
    )
    _LAYOUTS[key] = layout
    return layout
