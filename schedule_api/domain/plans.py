"""Plans, without I/O: a channel's stored events as the plan engines play."""

from __future__ import annotations

from collections.abc import Sequence

from engine.model import Block, Checkpoint, Clip, Plan
from schedule_api.domain.channels import core_breaks, core_channel
from schedule_api.store.rows import ChannelRow, EventRow


def plan_of(
    channel: ChannelRow, events: Sequence[EventRow], revision: int, full: bool = False
) -> Plan:
    """The channel's plan from its events (by start). From its compaction point when it has
    one (engine/compaction.py) and `events` begin there; with `full`, from its creation."""
    compacted = (
        not full
        and channel.compact_event_id is not None
        and any(event.id == channel.compact_event_id for event in events[:1])
    )
    if compacted:
        assert channel.compact_us is not None
        checkpoint = Checkpoint(
            channel.compact_us,
            channel.compact_msn or 0,
            channel.compact_dsn or 0,
            tuple(sorted((channel.compact_subtitles or {}).items())),
        )
    else:
        checkpoint = Checkpoint(channel.checkpoint_us)
    blocks = tuple(
        Block(
            checkpoint.time_us if compacted and position == 0 else event.start_us,
            Clip(
                event.asset_id,
                event.first_segment,
                event.end_segment,
                event.title,
                event.asset_version,
            ),
            event.id,
            core_breaks(event.breaks),
        )
        for position, event in enumerate(events)
    )
    return Plan(
        channel=core_channel(channel), revision=revision, checkpoint=checkpoint, blocks=blocks
    )
