"""The render cache: one least-recently-used cache for every channel's windows, within a byte
budget, that never changes what is served."""

from __future__ import annotations

from engine.channels import Channels
from engine.model import US_PER_S
from engine.render import render_media_playlist
from engine.timeline import Timeline, compile_timeline
from engine.window import live_window
from tests.factories import T0, keyed, make_asset, make_plan

S = US_PER_S
ASSETS = keyed(
    {"slate": make_asset("slate", [2 * S] * 3), "show": make_asset("show", [2 * S] * 10)}
)


def _timeline(channel_id: str, shift_s: int = 0) -> Timeline:
    blocks = [(T0 + (60 * n + shift_s) * S, "show") for n in range(10)]
    return compile_timeline(make_plan(blocks, channel_id=channel_id), ASSETS)


def _channels(count: int, budget: int) -> Channels:
    return Channels({f"ch-{n}": _timeline(f"ch-{n}", n) for n in range(count)}, budget)


def test_a_budget_smaller_than_one_window_still_serves_the_right_playlist() -> None:
    channels = _channels(1, 1)
    now = T0 + 100 * S
    body = channels.media_playlist("ch-0", "720p", now).rendered.body
    timeline = _timeline("ch-0")
    assert body == render_media_playlist(timeline, live_window(timeline, now), 0)


def test_the_cache_stays_within_its_budget() -> None:
    channels = _channels(50, 30_000)
    for second in range(20, 140, 7):
        for n in range(50):
            channels.media_playlist(f"ch-{n}", "720p", T0 + second * S)
    assert 0 < channels.cache.bytes <= 30_000


def test_the_least_recently_used_window_is_evicted_first() -> None:
    channels = _channels(4, 10**9)
    now = T0 + 100 * S
    for n in (0, 1, 2, 0):  # ch-1 is now the least recently used
        channels.media_playlist(f"ch-{n}", "720p", now)
    channels.cache.budget_bytes = channels.cache.bytes + 100  # room for three windows
    channels.media_playlist("ch-3", "720p", now)
    hits = [channels.media_playlist(f"ch-{n}", "720p", now).cache_hit for n in (2, 0, 1)]
    assert hits == [True, True, False]


def test_a_changed_plan_is_never_served_from_the_cache() -> None:
    channels = _channels(1, 10**9)
    now = T0 + 100 * S
    channels.media_playlist("ch-0", "720p", now)
    moved = _timeline("ch-0", 30)
    channels.replace({"ch-0": moved})
    body = channels.media_playlist("ch-0", "720p", now).rendered.body
    assert body == render_media_playlist(moved, live_window(moved, now), 0)


def test_shifted_and_live_windows_are_cached_apart() -> None:
    channels = _channels(1, 10**9)
    now = T0 + 300 * S
    live = channels.media_playlist("ch-0", "720p", now).rendered.body
    shifted = channels.media_playlist("ch-0", "720p", now, shift_us=120 * S).rendered.body
    timeline = _timeline("ch-0")
    assert (live, shifted) == (
        render_media_playlist(timeline, live_window(timeline, now), 0),
        render_media_playlist(timeline, live_window(timeline, now - 120 * S), 0),
    )
