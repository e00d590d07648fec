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
import socket
from collections.abc import Iterable
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver

from common.errors import Invalid
from engine.errors import PlanError
from engine.hls_vod import parse_vod, variant_urls
from engine.model import AssetIndex
from schedule_api.settings import Network

MAX_REDIRECTS = 3


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


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
                f"{host} resolves to {address}, a private, loopback, link-local or "
                "multicast address; list it in ALLOWED_SOURCES to allow it",
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


async def ingest(fetcher: Fetcher, asset_id: str, url: str, version: int, title: str) -> AssetIndex:
    """Fetch and index an HLS VOD; Unprocessable names the field and the reason."""
    final_url, top = await fetcher.text(url)
    if not top.lstrip("\ufeff").startswith("#EXTM3U"):
        raise Invalid("url", f"{final_url} is not an HLS playlist (no #EXTM3U)")
    texts = {final_url: top}
    try:
        media = variant_urls(final_url, top)
    except Exception as error:  # m3u8 raises bare exceptions on garbage
        raise Invalid("url", f"{final_url} does not parse: {error}") from None
    for media_url in media:
        if media_url not in texts:
            texts[media_url] = (await fetcher.text(media_url))[1]
    try:
        return parse_vod(asset_id, final_url, texts, version=version, title=title)
    except PlanError as error:
        raise Invalid("url", f"{error.where}: {error.field}: {error.reason}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise Invalid("url", f"a playlist does not parse: {error}") from None
