"""Schedule service settings: a frozen value built from an environment mapping."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import make_url

from engine.settings import KEEPALIVE_TIMEOUT_S, SettingsError, env_integer

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_DATABASE_URL = "sqlite:///data/vchannel.db"
"""A SQLite file under ./data (relative to the working directory)."""


@dataclass(frozen=True, slots=True)
class ScheduleSettings:
    """Schedule service configuration.

    Variables: HOST, PORT, DATABASE_URL (sqlite:///path or postgresql://...), DATABASE_PASSWORD
    (the PostgreSQL password, when DATABASE_URL carries none: it can then come from a secret
    of its own), API_KEY (writes
    need `Authorization: Bearer <key>` when set), API_KEY_READS (1: reads need it too),
    CORS_WHITELIST (comma-separated origins), ALLOWED_SOURCES (comma-separated CIDRs that
    ingest may fetch from although they are private, loopback or link-local), MAX_BODY_BYTES,
    SQLITE_JOURNAL_MODE (WAL, or DELETE on network file systems), INGEST_TIMEOUT_SECONDS,
    INGEST_MAX_PLAYLIST_BYTES, LOCK_MARGIN_SECONDS (schedule edits before now + this margin
    are refused; it must cover how long engines take to pick up a plan),
    RULES_INTERVAL_SECONDS (how often rules top up the schedule), PLAYBACK_BASE_URL (the
    engine's public URL, e.g. the CloudFront distribution, for the M3U channel list),
    PLAN_RETENTION_HOURS (plans sent to engines keep at least this much history, and each
    channel its time-shift limit plus two windows), PLAN_LOOKAHEAD_HOURS (engines hold the
    schedule this far ahead, and up to an hour more: how long they keep playing the
    schedule, not the slate, when the schedule service is away), KEEPALIVE_TIMEOUT_SECONDS
    (an idle connection, or one that has not finished sending its request headers, is closed
    after this long),
    ALLOW_UNAUTHENTICATED_WRITES (1: listen beyond loopback without an API_KEY; refused
    otherwise, as anyone who can reach the port could then change the schedule).
    """

    host: str = "0.0.0.0"
    port: int = 8001
    database_url: str = DEFAULT_DATABASE_URL
    api_key: str = ""
    api_key_reads: bool = False
    cors_whitelist: tuple[str, ...] = ()
    allowed_sources: tuple[Network, ...] = ()
    max_body_bytes: int = 1_048_576
    sqlite_journal_mode: str = "WAL"
    ingest_timeout_seconds: float = 10.0
    ingest_max_playlist_bytes: int = 5_242_880
    lock_margin_seconds: int = 10
    rules_interval_seconds: int = 300
    plan_retention_hours: int = 2
    plan_lookahead_hours: int = 6
    playback_base_url: str = "http://localhost:8000"
    keepalive_timeout_s: float = KEEPALIVE_TIMEOUT_S
    allow_unauthenticated_writes: bool = False

    def check_exposure(self) -> None:
        """SettingsError when the service would take writes from the network without a key:
        it listens beyond loopback, has no API_KEY and ALLOW_UNAUTHENTICATED_WRITES is not set."""
        if self.api_key or self.allow_unauthenticated_writes or _is_loopback(self.host):
            return
        raise SettingsError(
            f"HOST={self.host!r} listens beyond this machine and there is no API_KEY, so anyone "
            "who reaches the port could change the schedule: set API_KEY, listen on "
            "127.0.0.1, or set ALLOW_UNAUTHENTICATED_WRITES=1 to accept that"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ScheduleSettings:
        url = environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        if not url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise SettingsError(
                f"DATABASE_URL={url.split('@')[-1]!r}: use sqlite:///<path> or postgresql://..."
            )
        password = environ.get("DATABASE_PASSWORD") or ""
        if password:
            url = _with_password(url, password)
        networks = []
        for item in (environ.get("ALLOWED_SOURCES") or "").split(","):
            if item.strip():
                try:
                    networks.append(ipaddress.ip_network(item.strip(), strict=False))
                except ValueError:
                    raise SettingsError(
                        f"ALLOWED_SOURCES: {item.strip()!r} is not a CIDR"
                    ) from None
        journal = (environ.get("SQLITE_JOURNAL_MODE") or "WAL").upper()
        if journal not in ("WAL", "DELETE", "TRUNCATE"):
            raise SettingsError(f"SQLITE_JOURNAL_MODE={journal!r}: WAL, DELETE or TRUNCATE")
        timeout_raw = environ.get("INGEST_TIMEOUT_SECONDS") or "10"
        try:
            timeout = float(timeout_raw)
        except ValueError:
            raise SettingsError(f"INGEST_TIMEOUT_SECONDS={timeout_raw!r}: not a number") from None
        if not 0 < timeout <= 120:
            raise SettingsError("INGEST_TIMEOUT_SECONDS: must be above 0 and at most 120")
        playback = (environ.get("PLAYBACK_BASE_URL") or "http://localhost:8000").rstrip("/")
        if not playback.startswith(("http://", "https://")):
            raise SettingsError(f"PLAYBACK_BASE_URL={playback!r}: must start with http(s)://")
        settings = cls(
            host=environ.get("HOST") or "0.0.0.0",
            port=env_integer(environ, "PORT", 8001, 0, 65535),
            database_url=url,
            api_key=environ.get("API_KEY") or "",
            api_key_reads=_flag(environ, "API_KEY_READS"),
            cors_whitelist=tuple(
                o.strip() for o in (environ.get("CORS_WHITELIST") or "").split(",") if o.strip()
            ),
            allowed_sources=tuple(networks),
            max_body_bytes=env_integer(environ, "MAX_BODY_BYTES", 1_048_576, 1024, 64 * 1_048_576),
            sqlite_journal_mode=journal,
            ingest_timeout_seconds=timeout,
            ingest_max_playlist_bytes=env_integer(
                environ, "INGEST_MAX_PLAYLIST_BYTES", 5_242_880, 1024, 256 * 1_048_576
            ),
            lock_margin_seconds=env_integer(environ, "LOCK_MARGIN_SECONDS", 10, 0, 86_400),
            rules_interval_seconds=env_integer(environ, "RULES_INTERVAL_SECONDS", 300, 1, 86_400),
            playback_base_url=playback,
            plan_retention_hours=env_integer(environ, "PLAN_RETENTION_HOURS", 2, 2, 8760),
            plan_lookahead_hours=env_integer(environ, "PLAN_LOOKAHEAD_HOURS", 6, 1, 8760),
            keepalive_timeout_s=env_integer(
                environ, "KEEPALIVE_TIMEOUT_SECONDS", KEEPALIVE_TIMEOUT_S, 1, 3600
            ),
            allow_unauthenticated_writes=_flag(environ, "ALLOW_UNAUTHENTICATED_WRITES"),
        )
        if settings.plan_lookahead_hours * 3600 <= settings.lock_margin_seconds:
            raise SettingsError(
                "PLAN_LOOKAHEAD_HOURS: must reach beyond LOCK_MARGIN_SECONDS (engines must hold "
                "the part of the schedule that can no longer change)"
            )
        return settings


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return (environ.get(name) or "").strip().lower() in ("1", "true", "yes")


def _with_password(url: str, password: str) -> str:
    """DATABASE_URL with DATABASE_PASSWORD in it (quoted as a URL needs)."""
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise SettingsError("DATABASE_PASSWORD: only a postgresql:// DATABASE_URL takes one")
    if parsed.password:
        raise SettingsError("DATABASE_PASSWORD: DATABASE_URL already has a password")
    return parsed.set(password=password).render_as_string(hide_password=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
