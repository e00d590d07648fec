"""Engine settings: a frozen value built from an environment mapping, validated at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from common.instants import to_us


class SettingsError(ValueError):
    """A setting is invalid; the message names the environment variable."""


def env_integer(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number from the environment, within [low, high]; SettingsError names it."""
    raw = environ.get(name) or ""
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r}: not a whole number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r}: must be between {low} and {high}")
    return value


KEEPALIVE_TIMEOUT_S = 75
"""Seconds an idle connection stays open, and the most a client may take to send its
request headers: longer than the ALB's 60 s idle timeout, as AWS asks of targets (a target
that closes first makes the ALB answer 502)."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Engine configuration.

    Variables: HOST, PORT, PLANS_PATH (plan file or directory), WORKERS (processes sharing the
    port), CLOCK_START (RFC 3339 instant the clock starts at; simulations only), CLOCK_SPEED
    (clock rate, 1 = real time; simulations only), CORS_ORIGIN (Access-Control-Allow-Origin
    on playlists, default '*'), CHANNELMGRAPI (base URL of the schedule service whose plan
    feed the engine follows, instead of PLANS_PATH), SYNC_INTERVAL_MS (how often it polls),
    RENDER_CACHE_MB (memory budget of the cache of rendered playlists, per process),
    CHANNELMGRAPI_KEY (the schedule service's API key, sent with every feed request; needed
    when it has API_KEY_READS=1), KEEPALIVE_TIMEOUT_SECONDS (an idle connection, or one that
    has not finished sending its request headers, is closed after this long),
    LOCK_MARGIN_SECONDS (the schedule service's: a plan sync lag beyond it is logged as an
    error).
    """

    host: str = "0.0.0.0"
    port: int = 8000
    plans_path: Path | None = None
    workers: int = 1
    clock_start_us: int | None = None
    clock_speed: float = 1.0
    cors_origin: str = "*"
    channel_manager_url: str | None = None
    sync_interval_ms: int = 1000
    render_cache_mb: int = 256
    channel_manager_key: str | None = None
    lock_margin_s: float = 10.0
    keepalive_timeout_s: float = KEEPALIVE_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EngineSettings:
        clock_start_us = None
        if raw := environ.get("CLOCK_START"):
            try:
                moment = datetime.fromisoformat(raw)
            except ValueError:
                raise SettingsError(f"CLOCK_START={raw!r}: not an RFC 3339 instant") from None
            if moment.tzinfo is None:
                raise SettingsError(f"CLOCK_START={raw!r}: needs a time zone, e.g. 'Z'")
            clock_start_us = to_us(moment)
        clock_speed = 1.0
        if raw := environ.get("CLOCK_SPEED"):
            try:
                clock_speed = float(raw)
            except ValueError:
                raise SettingsError(f"CLOCK_SPEED={raw!r}: not a number") from None
            if not 0 < clock_speed <= 1000:
                raise SettingsError(f"CLOCK_SPEED={raw!r}: must be above 0 and at most 1000")
        plans = environ.get("PLANS_PATH") or None
        manager = (environ.get("CHANNELMGRAPI") or "").strip() or None
        if manager is not None and not manager.startswith(("http://", "https://")):
            raise SettingsError(f"CHANNELMGRAPI={manager!r}: must be an http(s) URL")
        if manager is not None and plans is not None:
            raise SettingsError("give PLANS_PATH or CHANNELMGRAPI, not both")
        return cls(
            host=environ.get("HOST") or "0.0.0.0",
            port=env_integer(environ, "PORT", 8000, 0, 65535),
            plans_path=Path(plans) if plans else None,
            workers=env_integer(environ, "WORKERS", 1, 1, 64),
            clock_start_us=clock_start_us,
            clock_speed=clock_speed,
            cors_origin=environ.get("CORS_ORIGIN") or "*",
            channel_manager_url=manager,
            sync_interval_ms=env_integer(environ, "SYNC_INTERVAL_MS", 1000, 50, 60_000),
            render_cache_mb=env_integer(environ, "RENDER_CACHE_MB", 256, 1, 1_048_576),
            channel_manager_key=environ.get("CHANNELMGRAPI_KEY") or None,
            lock_margin_s=env_integer(environ, "LOCK_MARGIN_SECONDS", 10, 0, 86_400),
            keepalive_timeout_s=env_integer(
                environ, "KEEPALIVE_TIMEOUT_SECONDS", KEEPALIVE_TIMEOUT_S, 1, 3600
            ),
        )
