"""The plan feed's horizon, without I/O: how far ahead engines hold each channel's plan.

Engines hold the blocks that start before their channel's horizon: the first mark of the
channel's hourly grid after the feed's instant (now + the lookahead, in steps of
HORIZON_QUANTUM_US). Each channel's grid is the hour shifted by its own offset, spread over
the hour by its id, so that as time passes the horizon moves for a few channels at every step
instead of for every channel at once on the hour: an engine following 11,000 channels applies
about 30 extensions every 10 seconds, not 11,000 at once.
"""

from __future__ import annotations

from zlib import crc32

from common.instants import US_PER_S

HORIZON_STEP_US = 3600 * US_PER_S
"""A channel's horizon moves an hour at a time."""
HORIZON_QUANTUM_US = 10 * US_PER_S
"""The feed's instant moves in steps of this: engines polling within the same 10 s get the
same answer (built once), and the offsets are multiples of it."""


def feed_instant_us(now_us: int, lookahead_us: int) -> int:
    """The feed's instant: now + lookahead, down to a HORIZON_QUANTUM_US step, plus half a
    step. The half step tells it from an hour mark, which is what an engine that followed an
    hour-aligned feed (one horizon for every channel) passes as `held_ms`."""
    step = (now_us + lookahead_us) // HORIZON_QUANTUM_US * HORIZON_QUANTUM_US
    return step + HORIZON_QUANTUM_US // 2


def is_feed_instant(held_us: int) -> bool:
    """Whether an engine's `held_ms` is a feed instant (else it is 0, nothing held, or the
    horizon of an hour-aligned feed, before which it holds every channel's blocks)."""
    return held_us % HORIZON_QUANTUM_US == HORIZON_QUANTUM_US // 2


def horizon_offset_us(channel_id: str) -> int:
    """How far before the hour the channel's horizon marks fall: a multiple of the quantum
    in [0, HORIZON_STEP_US), from the id's CRC-32. Stored with the channel when it is created
    (channels.horizon_offset_us), so that SQL can tell whose horizon moved."""
    steps = HORIZON_STEP_US // HORIZON_QUANTUM_US
    return crc32(channel_id.encode()) % steps * HORIZON_QUANTUM_US


def channel_horizon_us(instant_us: int, offset_us: int) -> int:
    """The channel's horizon at the feed's instant: its first grid mark (an hour mark less
    its offset) after the instant, so within (instant, instant + HORIZON_STEP_US]."""
    return ((instant_us + offset_us) // HORIZON_STEP_US + 1) * HORIZON_STEP_US - offset_us


def held_horizon_us(held_us: int, offset_us: int) -> int:
    """The channel's horizon an engine holds, from the `held_ms` it passes: the channel's
    horizon at that feed instant, or the hour-aligned horizon itself (0: nothing held)."""
    if is_feed_instant(held_us):
        return channel_horizon_us(held_us, offset_us)
    return held_us
