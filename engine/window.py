"""The live window: the segments a media playlist lists at an instant. Pure, no I/O.

A segment enters the window when its end has passed (end <= now), as it would leave a live
encoder; the window holds the fewest latest segments that together last at least the channel's
window length (>= three target durations, RFC 8216 6.2.2). So segments always leave from the
head, in order, and the media sequence rises by exactly the number that left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from engine.errors import NotOnAir
from engine.timeline import Group, Slot, Timeline


class Listed(Protocol):
    """What a window lists: video slots and subtitle segments alike."""

    @property
    def duration_us(self) -> int: ...

    @property
    def discontinuity_sequence(self) -> int: ...

    @property
    def discontinuity(self) -> bool: ...


_L = TypeVar("_L", bound=Listed)


def discontinuity_sequence(first: Listed) -> int:
    """EXT-X-DISCONTINUITY-SEQUENCE of a playlist whose first listed segment is `first`
    (RFC 8216 4.3.3.3): it counts only the tags before that segment, so if the segment carries
    its own tag (listed), the sequence is one lower than its discontinuity number."""
    return first.discontinuity_sequence - first.discontinuity


def latest(
    segment_at: Callable[[int], _L], last: int, first: int, window_us: int
) -> tuple[list[_L], int]:
    """Segments last, last - 1, ... (none below first) that together last at least
    window_us, in playlist order, and their total length (below window_us: too few exist)."""
    found: list[_L] = []
    total = 0
    number = last
    while total < window_us and number >= first:
        segment = segment_at(number)
        found.append(segment)
        total += segment.duration_us
        number -= 1
    found.reverse()
    return found, total


@dataclass(frozen=True, slots=True)
class Window:
    """The listed segments, and the instant (microseconds) at which the listing next changes."""

    slots: tuple[Slot, ...]
    next_change_us: int

    @property
    def media_sequence(self) -> int:
        """EXT-X-MEDIA-SEQUENCE: the number of the first listed segment."""
        return self.slots[0].media_sequence

    @property
    def discontinuity_sequence(self) -> int:
        """EXT-X-DISCONTINUITY-SEQUENCE (RFC 8216 4.3.3.3; see discontinuity_sequence)."""
        return discontinuity_sequence(self.slots[0])

    @property
    def last_media_sequence(self) -> int:
        return self.slots[-1].media_sequence


def live_window(
    timeline: Timeline, now_us: int, slot_at: Callable[[int], Slot] | None = None
) -> Window:
    """The window of a channel at `now_us` (microseconds since the epoch).

    `slot_at` looks a segment up by media sequence (default timeline.slot); the engine passes
    a memoised one, which returns the same values.
    """
    slot_of = slot_at or timeline.slot
    window_us = timeline.plan.channel.window_us
    first_msn = timeline.first_media_sequence
    if now_us >= timeline.start_us:
        airing = slot_of(timeline.media_sequence_at(now_us))
        last = airing.media_sequence - 1
    else:
        airing = slot_of(first_msn)
        last = first_msn - 1
    slots, total = latest(slot_of, last, first_msn, window_us)
    if total < window_us:
        ready = _first_full_window_end(timeline)
        raise NotOnAir(
            f"channel {timeline.plan.channel.id!r} has a full window from "
            f"{ready // 1_000_000} (Unix seconds)",
            until_us=ready,
        )
    return Window(slots=tuple(slots), next_change_us=airing.end_us)


def _first_full_window_end(timeline: Timeline) -> int:
    """The instant at which the segments since the checkpoint first fill a window."""
    msn = timeline.first_media_sequence
    total = 0
    while True:
        slot = timeline.slot(msn)
        total += slot.duration_us
        if total >= timeline.plan.channel.window_us:
            return slot.end_us
        msn += 1


def program_window(
    timeline: Timeline,
    program: Sequence[Group],
    now_us: int,
    slot_at: Callable[[int], Slot] | None = None,
) -> tuple[Window, bool]:
    """A start-over playlist: the segments of a program (its groups: parts and ad breaks)
    from its first one up to the last that has ended by now_us, and whether the program has
    ended (every segment listed).

    The window grows from the program's start, as an EVENT playlist does (RFC 8216 6.2.1:
    segments are only appended), until the program ends.
    """
    first = program[0].media_sequence
    last_group = program[-1]
    total = (
        None
        if last_group.cycles is None
        else last_group.media_sequence + last_group.cycles * last_group.count - first
    )
    if now_us < timeline.start_us:
        raise NotOnAir("the program has not started", until_us=program[0].start_us)
    last = timeline.media_sequence_at(now_us) - 1
    ended = total is not None and last >= first + total - 1
    if ended and total is not None:
        last = first + total - 1
    if last < first:
        start = timeline.slot(first)
        raise NotOnAir(
            f"the program's first segment ends at {start.end_us // 1_000_000} (Unix seconds)",
            until_us=start.end_us,
        )
    slot_of = slot_at or timeline.slot
    slots = tuple(slot_of(msn) for msn in range(first, last + 1))
    next_change = slots[-1].end_us if ended else slot_of(last + 1).end_us
    return Window(slots=slots, next_change_us=next_change), ended
