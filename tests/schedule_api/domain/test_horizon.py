"""The plan feed's horizon (schedule_api/domain/horizon.py): each channel's horizon is an
hour mark less its own offset, so that it moves for a few channels at a time."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from schedule_api.domain.horizon import (
    HORIZON_QUANTUM_US,
    HORIZON_STEP_US,
    channel_horizon_us,
    feed_instant_us,
    held_horizon_us,
    horizon_offset_us,
    is_feed_instant,
)

S = 1_000_000
T0 = 1_800_000_000 * S

ids = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True)


@given(st.integers(0, 10**16), ids)
def test_a_channel_horizon_is_within_an_hour_after_the_instant(instant: int, channel: str) -> None:
    horizon = channel_horizon_us(instant, horizon_offset_us(channel))
    assert instant < horizon <= instant + HORIZON_STEP_US


@given(st.integers(0, 10**16), ids)
def test_a_channel_horizon_moves_once_an_hour(instant: int, channel: str) -> None:
    offset = horizon_offset_us(channel)
    assert channel_horizon_us(instant + HORIZON_STEP_US, offset) == (
        channel_horizon_us(instant, offset) + HORIZON_STEP_US
    )


def test_offsets_spread_thousands_of_channels_over_the_hour() -> None:
    """11,000 channels: at most a few dozen share a 10 s step of the hour."""
    per_step = Counter(horizon_offset_us(f"channel-{n}") for n in range(11_000))
    assert len(per_step) > 300
    assert max(per_step.values()) < 4 * 11_000 * HORIZON_QUANTUM_US // HORIZON_STEP_US


@given(st.integers(0, 10**16), st.integers(0, 10**11))
def test_feed_instants_are_never_hour_marks(now: int, lookahead: int) -> None:
    instant = feed_instant_us(now, lookahead)
    assert is_feed_instant(instant)
    assert now + lookahead - HORIZON_QUANTUM_US < instant <= now + lookahead + HORIZON_QUANTUM_US


def test_an_hour_aligned_horizon_held_is_held_for_every_channel() -> None:
    assert {held_horizon_us(T0, horizon_offset_us(f"c{n}")) for n in range(50)} == {T0}
