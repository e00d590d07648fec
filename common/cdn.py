"""The CDN in front of the engine, in one place: the CloudFront distribution
(cloudformation/template.py) and its local stand-in (vchannel/cdn.py, nginx) are both built
from these values, and docs/caching.md explains them.

The CDN honours the engine's Cache-Control (engine/caching.py): MinTTL 0 so that `no-store` and
short max-ages win, DefaultTTL 1 for a response without the header, MaxTTL above the longest
max-age the engine sends.
"""

from __future__ import annotations

from typing import Final

MIN_TTL_S: Final = 0
"""0: the CDN keeps a response only as long as its Cache-Control says (a MinTTL above 0 would
override `no-store` on errors and the short max-age of live playlists)."""
DEFAULT_TTL_S: Final = 1
"""For a response without Cache-Control (the engine always sends one; a load balancer's own
502 does not)."""
MAX_TTL_S: Final = 86_400
"""The longest the CDN keeps anything; the engine's longest max-age (an ended start-over
playlist, the empty WebVTT) equals it."""
ERROR_CACHING_TTL_S: Final = 1
"""How long CloudFront keeps an error (ErrorCachingMinTTL): long enough to collapse a burst of
viewers onto one origin request, short enough that a channel going on air shows within a
second."""
CACHED_ERROR_CODES: Final = (404, 500, 502, 503, 504)
CACHE_KEY_QUERY: Final = ("channel",)
"""The only query argument in the cache key and forwarded to the engine; variants, shifts and
start-over programs are addressed by path."""
ORIGIN_CONNECT_TIMEOUT_S: Final = 2
ORIGIN_CONNECT_ATTEMPTS: Final = 2
ORIGIN_READ_TIMEOUT_S: Final = 5
"""Short origin timeouts: a playlist that takes longer is late for the player anyway, and
CloudFront waits out the timeout before it serves a stale copy (stale-if-error)."""
COMPRESSED_TYPES: Final = (
    "application/vnd.apple.mpegurl",
    "application/json",
    "application/problem+json",
    "text/vtt",
)
COMPRESS_MIN_BYTES: Final = 1_000
"""CloudFront compresses responses from 1,000 bytes on, when the viewer accepts gzip or br."""

TARGET_HEALTH_INTERVAL_S: Final = 10
TARGET_HEALTH_TIMEOUT_S: Final = 5
TARGET_UNHEALTHY_THRESHOLD: Final = 3
"""The load balancer's health check of the engines: a dead engine is taken out within
interval x threshold + timeout = 35 s. The playlists' stale-if-error (engine/caching.py)
outlasts that, and the stand-in leaves out an origin that refused a connection for
interval x threshold."""


def dead_origin_detection_s() -> int:
    """How long the load balancer may keep sending requests to a dead engine."""
    return TARGET_HEALTH_INTERVAL_S * TARGET_UNHEALTHY_THRESHOLD + TARGET_HEALTH_TIMEOUT_S
