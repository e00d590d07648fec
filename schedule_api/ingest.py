"""Ingest: fetch every playlist of an HLS VOD with aiohttp, safely, and index it.

Safety: only http(s); the host's addresses (and those of every redirect hop) must not be
loopback, private, link-local (169.254.169.254 included), multicast, reserved or unspecified
unless ALLOWED_SOURCES lists them; redirects are followed by hand, at most MAX_REDIRECTS;
every playlist is read with a total timeout and a byte limit. The session's resolver applies
the same address rule at connection time, so a host cannot pass the check and then resolve
elsewhere (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import signal
import socket
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from common.errors import Invalid
from common.serving import end_with_parent
from common.text import CODECS_PATTERN, LANGUAGE_PATTERN, check_label
from engine.errors import PlanError
from engine.hls_vod import parse_vod, variant_urls
from engine.model import AssetIndex, SegmentTable
from schedule_api.settings import Network

MAX_REDIRECTS = 3


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
"""IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052, RFC 8215)."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches: mapped, 6to4, Teredo, NAT64."""
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in prefix for prefix in NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Only globally routable unicast addresses may be fetched (the shared address space
    100.64.0.0/10, cloud metadata addresses and every private, loopback or link-local range
    are not), and an IPv6 address that embeds an IPv4 one is judged by it too."""
    if isinstance(address, ipaddress.IPv6Address) and any(
        _forbidden(embedded) for embedded in _embedded_ipv4(address)
    ):
        return True
    return not address.is_global or address.is_multicast


async def check_source(url: str, allowed: Iterable[Network]) -> None:
    """Refuse URLs that ingest must not fetch (Unprocessable names the field 'url')."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # e.g. an unmatched ']' or a port that is not a number
        raise Invalid("url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise Invalid("url", "must be an http or https URL with a host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError, ValueError):  # IDNA refuses over-long or odd labels
        raise Invalid("url", f"cannot resolve host {host[:80]!r}") from None
    networks = list(allowed)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _forbidden(address) and not any(address in network for network in networks):
            raise Invalid(
                "url",
                f"{host} resolves to {address}, which is not a globally routable address; "
                "list it in ALLOWED_SOURCES to allow it",
            )


class GuardedResolver(ThreadedResolver):
    """The ingest session's resolver: the addresses it hands to the connector pass the same
    rule as check_source. check_source gives the clear error first; this closes the gap in
    which a host could resolve to a public address for the check and to a private one for
    the connection (DNS rebinding)."""

    def __init__(self, allowed: Iterable[Network]) -> None:
        super().__init__()
        self.allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await super().resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"])
            if _forbidden(address) and not any(address in n for n in self.allowed):
                raise OSError(f"{host} now resolves to a forbidden address {address}")
        return results


def ingest_session(allowed: Iterable[Network]) -> aiohttp.ClientSession:
    """The HTTP client for ingest: guarded resolution, no DNS cache between checks."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allowed), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": "vchannel-ingest"})


class Fetcher:
    """Fetches playlists for one ingest with the service's limits."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        allowed: Iterable[Network],
        timeout_seconds: float,
        max_bytes: int,
    ) -> None:
        self.session = session
        self.allowed = tuple(allowed)
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self.max_bytes = max_bytes

    async def text(self, url: str) -> tuple[str, str]:
        """(final URL after redirects, body as text)."""
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            await check_source(current, self.allowed)
            try:
                async with self.session.get(
                    current, allow_redirects=False, timeout=self.timeout
                ) as response:
                    if response.status in (301, 302, 303, 307, 308):
                        location = response.headers.get("Location")
                        if not location:
                            raise Invalid("url", f"{current}: redirect without Location")
                        current = urljoin(current, location)
                        continue
                    if response.status != 200:
                        raise Invalid("url", f"{current} answered HTTP {response.status}")
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(65536):
                        body.extend(chunk)
                        if len(body) > self.max_bytes:
                            raise Invalid(
                                "url",
                                f"{current} is larger than {self.max_bytes} bytes "
                                "(INGEST_MAX_PLAYLIST_BYTES)",
                            )
            except TimeoutError:
                raise Invalid("url", f"{current} did not answer in time") from None
            except aiohttp.ClientError as error:
                raise Invalid("url", f"{current}: {error.__class__.__name__}") from None
            try:
                return current, body.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid("url", f"{current} is not UTF-8 text") from None
        raise Invalid("url", f"more than {MAX_REDIRECTS} redirects")


async def ingest(
    fetcher: Fetcher, asset_id: str, url: str, version: int, title: str, total_s: float
) -> AssetIndex:
    """Fetch and index an HLS VOD; Invalid names the field and the reason.

    Fetching every playlist of the asset must finish within `total_s` (INGEST_TIMEOUT_SECONDS
    is a limit per asset, not per playlist). Parsing, which takes seconds for a playlist of
    100,000 segments, runs in another process (parse_pool): the event loop keeps answering."""
    try:
        async with asyncio.timeout(total_s):
            final_url, texts = await _fetch_all(fetcher, url)
    except TimeoutError:
        raise Invalid(
            "url",
            f"{url}: the asset's playlists did not all arrive in time, within {total_s:g} s "
            "(INGEST_TIMEOUT_SECONDS, for the whole asset)",
        ) from None
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        parse_pool(), _index, asset_id, final_url, texts, version, title
    )


_POOL: list[ProcessPoolExecutor] = []


def parse_pool() -> ProcessPoolExecutor:
    """The process that parses playlists (started on first use, one per service process).

    A thread would not do: parsing a 5 MB playlist spends whole tenths of a second inside
    single C calls that hold the GIL, which would stall the event loop as surely."""
    if not _POOL:
        _POOL.append(
            ProcessPoolExecutor(
                max_workers=1,
                mp_context=get_context("spawn"),
                initializer=_parse_process_started,
                initargs=(os.getpid(),),
            )
        )
    return _POOL[0]


def _parse_process_started(parent: int) -> None:
    """In the parsing process: Ctrl-C reaches the whole process group, and the service stops
    the pool, not the signal; a service killed outright cannot, so the process ends by itself
    once its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    end_with_parent(parent)


async def close_parse_pool() -> None:
    """Stop the parsing process, if it was started (the service's cleanup: a stopped service
    leaves no process behind)."""
    while _POOL:
        pool = _POOL.pop()
        await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)


async def _fetch_all(fetcher: Fetcher, url: str) -> tuple[str, dict[str, str]]:
    """The URL the top playlist came from, and the text of every playlist of the asset."""
    final_url, top = await fetcher.text(url)
    if not top.lstrip("\ufeff").startswith("#EXTM3U"):
        raise Invalid("url", f"{final_url} is not an HLS playlist (no #EXTM3U)")
    texts = {final_url: top}
    try:
        media = await asyncio.get_running_loop().run_in_executor(
            parse_pool(), variant_urls, final_url, top
        )
    except Exception as error:  # m3u8 raises bare exceptions on garbage
        raise Invalid("url", f"{final_url} does not parse: {error}") from None
    for media_url in media:
        if media_url not in texts:
            texts[media_url] = (await fetcher.text(media_url))[1]
    return final_url, texts


def _index(
    asset_id: str, final_url: str, texts: dict[str, str], version: int, title: str
) -> AssetIndex:
    """The asset index of fetched playlists (CPU only: runs in the parse process)."""
    try:
        index = parse_vod(asset_id, final_url, texts, version=version, title=title)
    except PlanError as error:
        raise Invalid("url", f"{error.where}: {error.field}: {error.reason}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise Invalid("url", f"a playlist does not parse: {error}") from None
    check_index(index)
    return index


MEDIA_SCHEMES = ("http://", "https://")
"""What segment and init section URIs players are handed may start with."""


def check_index(index: AssetIndex) -> None:
    """Invalid naming the rendition unless what goes to players is safe: segment and init
    section URIs are http(s), CODECS is an RFC 6381 list, track names and languages fit
    their HLS attributes."""
    renditions: list[tuple[str, str | None, SegmentTable]] = [
        (r.name, r.codecs, r.segments) for r in index.renditions
    ] + [(t.name, t.codecs, t.segments) for t in index.tracks]
    for name, codecs, segments in renditions:
        where = f"rendition {name!r}"
        if codecs is not None and not re.fullmatch(CODECS_PATTERN, codecs):
            raise Invalid("url", f"{where}: CODECS {codecs[:80]!r} is not an RFC 6381 list")
        for number, segment in enumerate(segments):
            uris = [segment.uri] + ([segment.init.uri] if segment.init is not None else [])
            for uri in uris:
                if not uri.lower().startswith(MEDIA_SCHEMES):
                    raise Invalid(
                        "url", f"{where}: segment {number}: {uri[:80]!r} is not an http(s) URI"
                    )
    for track in index.tracks:
        try:
            check_label(track.label)
        except ValueError as error:
            raise Invalid("url", f"track {track.name!r}: NAME {error}") from None
        if track.language is not None and not re.fullmatch(LANGUAGE_PATTERN, track.language):
            raise Invalid("url", f"track {track.name!r}: LANGUAGE is not an RFC 5646 tag")
