"""How many channels a plan feed page reads at a time (schedule_api/service/feed.py)."""

from __future__ import annotations

from schedule_api.service.feed import PAGE_CHUNK, ItemSize


def test_a_page_reads_a_full_chunk_before_it_knows_the_item_size() -> None:
    assert ItemSize().channels_to_read(262_144) == PAGE_CHUNK


def test_a_page_of_long_plans_reads_about_as_many_as_it_holds() -> None:
    """10.5 plans of 25 kB fit in 256 kB: 11 of them, and one more to see where it ends."""
    assert ItemSize(mean_bytes=25_000).channels_to_read(262_144) == 12


def test_a_nearly_full_page_still_reads_one_channel() -> None:
    assert ItemSize(mean_bytes=25_000).channels_to_read(100) == 2


def test_small_items_read_at_most_a_chunk() -> None:
    assert ItemSize(mean_bytes=100).channels_to_read(262_144) == PAGE_CHUNK
