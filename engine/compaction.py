"""Plan compaction: drop the history a channel no longer needs, without changing anything it
will still serve. Pure, no I/O.

A plan starts at its checkpoint and grows with every program ever scheduled. Compacting moves
the checkpoint forward to the start of a program that aired before some instant (the
retention limit), with that group's media sequence and discontinuity sequence, and keeps that
program (starting exactly at the new checkpoint) and every later block.

Why the timeline after the new checkpoint is unchanged: compilation is local. Where a block
starts and how much of it plays depend only on the instant its group starts (the checkpoint),
its own clip and the next block's start, so every group from the program on is laid out
exactly as before, with the same numbers. The only difference is the discontinuity tag on the
program's first segment (a checkpoint segment carries none, RFC 8216 numbering is kept by the
checkpoint's sequence). The property test in tests/engine proves it; callers compact only at
least a window before anything they serve, so that first segment is never listed again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from engine.model import Block, Checkpoint, Plan
from engine.subtitles import SubtitleTimeline
from engine.timeline import Timeline


@dataclass(frozen=True, slots=True)
class CompactionPoint:
    """Where a plan can start instead: the program's block and the checkpoint at its start."""

    block_index: int
    event_id: str
    checkpoint: Checkpoint


def compaction_point(timeline: Timeline, before_us: int) -> CompactionPoint | None:
    """The latest program that started at or before before_us (None: there is none after the
    current checkpoint)."""
    found = None
    for index, group in enumerate(timeline.groups):
        if group.start_us > before_us:
            break
        if group.is_program_start:
            found = index
    if found is None:
        return None
    group = timeline.groups[found]
    if group.block_index is None or group.start_us <= timeline.start_us:
        return None
    tracks = timeline.plan.channel.subtitle_tracks
    subtitles = tuple(
        (track.name, SubtitleTimeline(timeline, number).first_media_sequence_of(found))
        for number, track in enumerate(tracks)
    )
    return CompactionPoint(
        group.block_index,
        timeline.plan.blocks[group.block_index].event_id,
        Checkpoint(group.start_us, group.media_sequence, group.discontinuity_sequence, subtitles),
    )


def compact(plan: Plan, point: CompactionPoint) -> Plan:
    """The plan from the compaction point on: the program moved to the checkpoint, and every
    block scheduled after it."""
    program = plan.blocks[point.block_index]
    later = [b for b in plan.blocks if b.start_us > program.start_us]
    first = Block(point.checkpoint.time_us, program.clip, program.event_id, program.breaks)
    return replace(plan, checkpoint=point.checkpoint, blocks=(first, *later))
