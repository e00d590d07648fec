"""Simulated viewers: each loads a channel's multivariant playlist once, picks one variant (and,
for a channel with demuxed audio, one audio rendition), and reloads those playlists every
target duration, as a player does. Bounded in count and time; talks to the URL it is given."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urljoin

import aiohttp

from tests.conformance import variant_uris


@dataclass
class ViewerLoad:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    playlists: set[str] = field(default_factory=set)
    """Every media playlist URL some viewer reloaded."""


def audio_uris(master_url: str, text: str) -> list[str]:
    """The URIs of the multivariant playlist's audio renditions, in order."""
    return [
        urljoin(master_url, found.group(1))
        for line in text.splitlines()
        if line.startswith("#EXT-X-MEDIA:TYPE=AUDIO")
        and (found := re.search(r'URI="([^"]+)"', line)) is not None
    ]


async def _get(session: aiohttp.ClientSession, url: str, load: ViewerLoad) -> str:
    async with session.get(url) as response:
        body = await response.text()
        load.requests += 1
        load.statuses[response.status] += 1
        return body


async def _viewer(
    session: aiohttp.ClientSession,
    master_url: str,
    number: int,
    deadline: float,
    load: ViewerLoad,
    rng: random.Random,
) -> None:
    master = await _get(session, master_url, load)
    variants, audios = variant_uris(master_url, master), audio_uris(master_url, master)
    chosen = [variants[number % len(variants)]]
    if audios:
        chosen.append(audios[(number // len(variants)) % len(audios)])
    load.playlists.update(chosen)
    body = await _get(session, chosen[0], load)
    target = re.search(r"#EXT-X-TARGETDURATION:(\d+)", body)
    interval = int(target.group(1)) if target else 2
    await asyncio.sleep(rng.uniform(0, interval))  # players start at different moments
    while time.monotonic() < deadline:
        for url in chosen:
            await _get(session, url, load)
        await asyncio.sleep(interval)


async def watch_with_viewers(master_url: str, viewers: int, seconds: float) -> ViewerLoad:
    """`viewers` simulated players of one channel for `seconds` seconds."""
    load = ViewerLoad()
    rng = random.Random(viewers)
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=200)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(
            *(
                _viewer(session, master_url, number, deadline, load, rng)
                for number in range(viewers)
            )
        )
    return load
