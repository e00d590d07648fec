"""The cache contract: the Cache-Control of every response the engine sends.

docs/caching.md states each value and why; tests/engine/test_caching_contract.py checks every
response kind against this module, and the CDN settings it relies on live in common/cdn.py.

All values are functions of the response and the request's instant only, so every replica
sends the same header for the same instant.
"""

from __future__ import annotations

from typing import Final

from common.cdn import MAX_TTL_S
from engine.model import US_PER_S

STALE_IF_ERROR_S: Final = 60
"""How long the CDN may keep serving a playlist while the origin answers 5xx or cannot be
reached. It outlasts the load balancer taking a dead engine out of service
(common/cdn.py: dead_origin_detection_s, 35 s). A stale live playlist only
repeats what viewers already hold (its segments are VOD segments that stay available), so a
player that gets it reloads and keeps playing from its buffer instead of failing."""
MULTIVARIANT_MAX_AGE_S: Final = 10
"""The multivariant playlist changes only with the channel's configuration."""
REDIRECT_MAX_AGE_S: Final = 1
"""The start-over redirect names the program on air, which can change any second."""
NO_STORE: Final = "no-store"
"""Errors, /health and /metrics: never kept (CloudFront still keeps a 5xx for its error-caching
TTL, common/cdn.py)."""
IMMUTABLE: Final = f"public, max-age={MAX_TTL_S}, immutable"
"""An ended start-over playlist (EXT-X-ENDLIST) and the empty WebVTT segment never change."""


def half_target_s(target_duration_s: int) -> int:
    """The longest a live playlist may be kept: half the target duration, at least 1 s."""
    return max(1, target_duration_s // 2)


def live_max_age_s(until_change_us: int, target_duration_s: int) -> int:
    """Whole seconds until the playlist's window changes (rounded up, so the copy expires at
    or just after the change, not just before it), between 1 s and half the target duration."""
    until_s = -(-until_change_us // US_PER_S)
    return min(half_target_s(target_duration_s), max(1, until_s))


def live_playlist(until_change_us: int, target_duration_s: int) -> str:
    """A media playlist that still changes: live, time-shifted, start-over while it grows,
    and their audio and subtitle renditions.

    No stale-while-revalidate: it would let the CDN hand the first viewer after expiry a copy
    up to that much older, and with a 2 s target duration the copy's newest segment would then
    have ended more than 1.5 target durations before the request (RFC 8216 6.2.1). Viewers
    that arrive while the CDN refreshes wait for its one origin request instead (collapsing),
    which takes milliseconds."""
    return _LIVE[live_max_age_s(until_change_us, target_duration_s)]


class _LiveHeaders(dict[int, str]):
    """The live Cache-Control value by max-age, each string made once."""

    def __missing__(self, max_age_s: int) -> str:
        value = self[max_age_s] = f"public, max-age={max_age_s}, stale-if-error={STALE_IF_ERROR_S}"
        return value


_LIVE = _LiveHeaders()


def multivariant_playlist() -> str:
    """The multivariant playlist lists the variants, not segments: a copy a few seconds older
    than its max-age is as good, so the CDN may answer with it while it refreshes."""
    return (
        f"public, max-age={MULTIVARIANT_MAX_AGE_S}, "
        f"stale-while-revalidate={MULTIVARIANT_MAX_AGE_S}, stale-if-error={STALE_IF_ERROR_S}"
    )


def redirect() -> str:
    return f"public, max-age={REDIRECT_MAX_AGE_S}"
