"""Hostile input: each field is checked for where it goes (an HLS attribute, XML, M3U, CSV,
SQL), refused with a problem naming it, and the writers escape again whatever the store holds.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import ipaddress
import sys
from typing import Any
from xml.etree import ElementTree

import pytest
from aiohttp.test_utils import TestClient

from common.text import FORMULA_START
from engine.model import US_PER_S, ProfileEntry
from engine.render import render_multivariant_playlist
from engine.timeline import compile_timeline
from schedule_api.domain.guide import (
    AiringKind,
    GuideChannel,
    PlaylistEntry,
    as_run_csv,
    m3u_playlist,
    xmltv_document,
)
from schedule_api.ingest import _forbidden
from schedule_api.settings import ScheduleSettings, SettingsError
from tests.factories import T0, keyed, make_asset, make_plan
from tests.schedule_api.conftest import ingest, problem

INJECTED_CODECS = (
    'avc1.4d401e,mp4a.40.2"\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://evil.invalid/y.m3u8\n#X="'
)
PROFILE = {"name": "360p", "bandwidth": 365200, "resolution": "640x360"}


async def _slate(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")


async def _channel(api: TestClient, **fields: Any) -> Any:
    return await api.post("/channels", json={"id": "news", "name": "N", "slate": "slate", **fields})


# 1. HLS tag injection ----------------------------------------------------------------------
async def test_codecs_with_a_quote_and_line_breaks_are_refused(
    api: TestClient, origin: str
) -> None:
    await _slate(api, origin)
    response = await _channel(api, profile=[{**PROFILE, "codecs": INJECTED_CODECS}])
    await problem(response, 422, "profile.0.codecs")


async def test_a_track_label_with_a_quote_is_refused(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-multi", "slate")
    track = {"name": "en", "language": "en", "label": 'English"\n#EXT-X-ENDLIST'}
    await problem(await _channel(api, audio_tracks=[track]), 422, "audio_tracks.0.label")


async def test_a_subtitle_label_with_a_control_character_is_refused(
    api: TestClient, origin: str
) -> None:
    await ingest(api, origin, "slate-multi", "slate")
    track = {"name": "subs-en", "language": "en", "label": "Eng\u0085lish"}
    await problem(await _channel(api, subtitle_tracks=[track]), 422, "subtitle_tracks.0.label")


def test_the_playlist_writer_keeps_an_injected_codecs_inside_its_attribute() -> None:
    """Whatever a plan holds (one written before these checks), the variant list stays."""
    entry = ProfileEntry("720p", 2_000_000, INJECTED_CODECS, (1280, 720), 25.0)
    plan = make_plan([(T0 + 10 * US_PER_S, "show")], profile=(entry,))
    assets = keyed(
        {
            "show": make_asset("show", [2 * US_PER_S] * 4),
            "slate": make_asset("slate", [2 * US_PER_S]),
        }
    )
    text = render_multivariant_playlist(compile_timeline(plan, assets), lambda n: f"{n}.m3u8")
    assert [line for line in text.decode().splitlines() if not line.startswith("#")] == [
        "720p.m3u8"
    ]


# 2. Control characters in the guide ---------------------------------------------------------
async def test_a_channel_name_with_a_control_character_is_refused(
    api: TestClient, origin: str
) -> None:
    await _slate(api, origin)
    await problem(await _channel(api, name="A\u0001B"), 422, "name")


async def test_an_event_title_with_a_vertical_tab_is_refused(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    assert (await _channel(api)).status == 201
    body = {"asset": "slate", "start_ms": 1_900_000_000_000, "title": "A\u000bB"}
    await problem(await api.post("/channels/news/events", json=body), 422, "title")


def test_the_xmltv_writer_drops_what_xml_cannot_carry() -> None:
    guide = GuideChannel("news.vchannel", "A\u0001B\u000bC\ufffe", None, [])
    document = xmltv_document([guide], {})
    name = ElementTree.fromstring(document.split(b"\n", 2)[2]).find("channel/display-name")
    assert name is not None
    assert name.text == "ABC"


# 3. NUL ------------------------------------------------------------------------------------
async def test_a_nul_in_the_asset_search_is_a_400_naming_q(api: TestClient) -> None:
    await problem(await api.get("/assets", params={"q": "a\u0000"}), 400, "q")


async def test_a_channel_name_with_a_nul_is_refused(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    await problem(await _channel(api, name="A\u0000B"), 422, "name")


# 4. Instants out of range ------------------------------------------------------------------
async def _news(api: TestClient, origin: str) -> None:
    await _slate(api, origin)
    assert (await _channel(api)).status == 201


async def test_an_event_in_the_year_9999_is_a_422_naming_start(
    api: TestClient, origin: str
) -> None:
    await _news(api, origin)
    body = {"asset": "slate", "start": "9999-12-31T23:59:59Z"}
    await problem(await api.post("/channels/news/events", json=body), 422, "start")


async def test_a_batch_event_in_the_year_9000_names_its_index(api: TestClient, origin: str) -> None:
    await _news(api, origin)
    body = {"events": [{"asset": "slate", "start": "9000-01-01T00:00:00Z"}]}
    await problem(await api.post("/channels/news/event-batches", json=body), 422, "events.0.start")


async def test_moving_an_event_to_the_year_9999_is_a_422(api: TestClient, origin: str) -> None:
    await _news(api, origin)
    body = {"id": "ev-1", "asset": "slate", "start_ms": 1_900_000_000_000}
    assert (await api.post("/channels/news/events", json=body)).status == 201
    moved = await api.patch("/channels/news/events/ev-1", json={"start": "9999-12-31T23:59:59Z"})
    await problem(moved, 422, "start")


# 5. Addresses ingest may fetch --------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    [
        "100.100.100.200",  # shared address space (RFC 6598), a cloud metadata address
        "100.64.0.1",
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "::ffff:10.0.0.1",
        "fd00::1",
        "224.0.1.1",
    ],
)
def test_an_address_that_is_not_globally_routable_is_forbidden(address: str) -> None:
    assert _forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700::1111", "2002:808:808::1"])
def test_a_globally_routable_address_is_allowed(address: str) -> None:
    assert not _forbidden(ipaddress.ip_address(address))


async def test_ingest_from_the_shared_address_space_is_refused(api: TestClient) -> None:
    body = {"url": "http://100.100.100.200/latest/meta-data/x.m3u8", "title": "x"}
    reason = await problem(await api.post("/assets", json=body), 422, "url")
    assert "globally routable" in reason


# 6. Segment URI schemes -------------------------------------------------------------------
async def test_a_segment_with_a_javascript_uri_is_refused(api: TestClient, origin: str) -> None:
    body = {"url": f"{origin}/broken/schemes/index.m3u8", "title": "x"}
    reason = await problem(await api.post("/assets", json=body), 422, "url")
    assert ("segment 1" in reason, "http(s)" in reason) == (True, True)


# 8. CSV formulas ---------------------------------------------------------------------------
def test_no_as_run_cell_starts_with_a_formula_character() -> None:
    titles = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "plain"]
    rows = [{"kind": AiringKind.PROGRAM.value, "title": t, "duration_seconds": 1.5} for t in titles]
    cells = [c for row in csv.reader(io.StringIO(as_run_csv(rows).decode())) for c in row]
    assert [c for c in cells if c.startswith(FORMULA_START)] == []


def test_an_escaped_as_run_title_keeps_its_text() -> None:
    table = list(csv.DictReader(io.StringIO(as_run_csv([{"title": "=1+1"}]).decode())))
    assert table[0]["title"] == "'=1+1"


# 9. LIKE wildcards ------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["_", "%", "\\"])
async def test_like_wildcards_in_the_search_match_only_themselves(
    api: TestClient, origin: str, query: str
) -> None:
    await _slate(api, origin)
    found = await (await api.get("/assets", params={"q": query})).json()
    assert found["total"] == 0


async def test_an_underscore_finds_an_id_that_has_one(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate_one")
    await ingest(api, origin, "ts-alpha", "alpha")
    found = await (await api.get("/assets", params={"q": "_"})).json()
    assert [item["id"] for item in found["items"]] == ["slate_one"]


# 7. Reads with a key: now/next stays public ------------------------------------------------
async def test_now_next_needs_no_key_when_reads_do(database_url: str, origin: str) -> None:
    from aiohttp.test_utils import TestServer

    from schedule_api.app import create_app
    from tests.schedule_api.conftest import fixed_clock, make_settings

    settings = make_settings(database_url, API_KEY="k", API_KEY_READS="1")
    async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
        key = {"Authorization": "Bearer k"}
        body = {"url": f"{origin}/media/slate-ts/master.m3u8", "title": "s", "id": "slate"}
        assert (await api.post("/assets", json=body, headers=key)).status == 201
        channel = {"id": "news", "name": "N", "slate": "slate"}
        assert (await api.post("/channels", json=channel, headers=key)).status == 201
        statuses = [
            (await api.get(path)).status for path in ("/channels/news", "/channels/news/now")
        ]
    assert (statuses[0], statuses[1] == 401) == (401, False)


# 14. Listening beyond loopback without a key ------------------------------------------------
def test_listening_on_every_address_without_a_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNAUTHENTICATED_WRITES"):
        ScheduleSettings.from_env({"HOST": "0.0.0.0"}).check_exposure()


@pytest.mark.parametrize(
    "environ",
    [
        {"HOST": "127.0.0.1"},
        {"HOST": "::1"},
        {"HOST": "0.0.0.0", "API_KEY": "k"},
        {"HOST": "0.0.0.0", "ALLOW_UNAUTHENTICATED_WRITES": "1"},
    ],
)
def test_a_keyless_service_may_listen_on_loopback_or_when_told(environ: dict[str, str]) -> None:
    ScheduleSettings.from_env(environ).check_exposure()


def test_the_command_refuses_to_start_open_to_the_network(tmp_path: Any) -> None:
    import subprocess

    environ = {"HOST": "0.0.0.0", "PORT": "0", "DATABASE_URL": f"sqlite:///{tmp_path}/v.db"}
    finished = subprocess.run(
        [sys.executable, "-m", "vchannel", "schedule-api"],
        env={"PATH": "/usr/bin:/bin", **environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (finished.returncode, "ALLOW_UNAUTHENTICATED_WRITES" in finished.stderr) == (2, True)


# M3U -------------------------------------------------------------------------------------
def test_the_m3u_writer_keeps_one_entry_per_channel_whatever_the_names() -> None:
    entries = [
        PlaylistEntry(f"c{i}.vchannel", name, None, 'g"\n#EXTINF', f"http://e/{i}")
        for i, name in enumerate(['a"\r\n#EXTINF:-1,evil\nhttp://evil', "b\u0000", "c"])
    ]
    lines = m3u_playlist(entries, "http://g/epg.xml").decode().splitlines()
    assert (sum(line.startswith("#EXTINF") for line in lines), len(lines)) == (3, 7)


# 15. A database password from a secret of its own ---------------------------------------------
def test_database_password_joins_the_url_quoted() -> None:
    from sqlalchemy.engine import make_url

    settings = ScheduleSettings.from_env(
        {
            "DATABASE_URL": "postgresql://vchannel@db.example:5432/vchannel",
            "DATABASE_PASSWORD": "p@ss/w:rd%?#",
        }
    )
    url = make_url(settings.database_url)
    assert (url.username, url.password, url.host, url.database) == (
        "vchannel",
        "p@ss/w:rd%?#",
        "db.example",
        "vchannel",
    )


@pytest.mark.parametrize(
    "url", ["sqlite:///data/v.db", "postgresql://vchannel:inline@db.example/vchannel"]
)
def test_database_password_is_refused_where_it_cannot_go(url: str) -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_PASSWORD"):
        ScheduleSettings.from_env({"DATABASE_URL": url, "DATABASE_PASSWORD": "x"})
