"""Plan changes: what the plan feed sends an engine that already holds a channel's plan.
Pure, no I/O.

A change says "from instant T on, the blocks are these" (T is where the edits since the
engine's revision begin to reach) and, when the schedule service compacted the plan, "the plan
now starts at this checkpoint, with this program". Applying it keeps the blocks before T and
lays out again only from the block before T (timeline.recompile_from), so its cost follows the
change, not the plan. A change is stated as the schedule as it is now, so applying it to any
plan that was right before T gives the same plan: two engines at the same revision hold the
same plan whatever sequence of answers brought them there.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace

from engine.errors import PlanError
from engine.model import AssetLookup, Block, Checkpoint, Plan
from engine.timeline import Timeline, compile_timeline, recompile_from


@dataclass(frozen=True, slots=True)
class PlanChange:
    """A channel's plan at `revision`, stated against the plan an engine holds."""

    channel_id: str
    revision: int
    checkpoint: Checkpoint
    head: Block | None
    """When the checkpoint moved (compaction): the program that now begins the plan, its start
    moved to the checkpoint; the blocks before it are dropped."""
    from_us: int
    blocks: tuple[Block, ...]
    """Every block that starts at or after from_us (up to the feed's horizon), by start."""


class Unbridgeable(Exception):
    """The change cannot be applied to the plan held (it needs the whole plan)."""


def changed_plan(plan: Plan, change: PlanChange) -> tuple[Plan, int | None]:
    """The plan after the change, and the position of its first changed block (None: the
    checkpoint moved, so the plan is laid out again whole)."""
    where = f"channel {change.channel_id!r}"
    if change.revision < plan.revision:
        raise Unbridgeable(f"{where}: revision {change.revision} is behind {plan.revision}")
    blocks = plan.blocks
    moved = change.checkpoint != plan.checkpoint
    if moved:
        head = change.head
        if head is None or not head.event_id:
            raise Unbridgeable(f"{where}: the checkpoint moved without its program")
        found = next((i for i, b in enumerate(blocks) if b.event_id == head.event_id), None)
        if found is None:
            raise Unbridgeable(f"{where}: the program {head.event_id!r} is not held")
        blocks = (head, *blocks[found + 1 :])
    position = bisect_left(blocks, change.from_us, key=lambda block: block.start_us)
    changed = Plan(
        plan.channel,
        change.revision,
        change.checkpoint,
        blocks[:position] + change.blocks,
        plan.filler,
    )
    return changed, None if moved else position


def apply_change(timeline: Timeline, change: PlanChange, assets: AssetLookup) -> Timeline:
    """The timeline after a change (PlanError: the changed plan does not compile)."""
    if not timeline.ordered:
        raise Unbridgeable(f"channel {change.channel_id!r}: the plan held is not in order")
    plan, position = changed_plan(timeline.plan, change)
    if position is None:
        return compile_timeline(plan, assets)
    return recompile_from(timeline, plan, position, assets)


def check_change(change: PlanChange) -> None:
    """PlanError unless the change is well formed: its blocks by start, none before from_us,
    the head at the checkpoint."""
    where = f"channel {change.channel_id!r}"
    previous = change.from_us
    for number, block in enumerate(change.blocks):
        if block.start_us < previous:
            raise PlanError(where, f"blocks.{number}.start", "is out of order or before `from`")
        previous = block.start_us
    head = change.head
    if head is not None and head.start_us != change.checkpoint.time_us:
        raise PlanError(where, "head.start", "must be the checkpoint's time")


def _cuts(blocks: tuple[Block, ...], weight: int) -> list[int]:
    """Where the pieces of these blocks begin: a piece ends once it holds `weight` blocks and
    ad breaks, and never between two blocks that start at the same instant."""
    cuts, held = [0], 0
    for number, block in enumerate(blocks):
        if held >= weight and block.start_us > blocks[number - 1].start_us:
            cuts.append(number)
            held = 0
        held += 1 + len(block.breaks)
    return cuts


def _rest(first: Plan | PlanChange, blocks: tuple[Block, ...], cuts: list[int]) -> list[PlanChange]:
    channel_id = first.channel.id if isinstance(first, Plan) else first.channel_id
    ends = [*cuts[2:], len(blocks)]  # one longer than cuts[1:] when there is one piece
    return [
        PlanChange(
            channel_id,
            first.revision,
            first.checkpoint,
            None,
            blocks[start].start_us,
            blocks[start:end],
        )
        for start, end in zip(cuts[1:], ends, strict=False)
    ]


def plan_pieces(plan: Plan, weight: int) -> tuple[Plan, list[PlanChange]]:
    """A whole plan in pieces of about `weight` blocks and ad breaks each (the plan feed
    sends a long plan a piece at a time): the plan cut after its first piece, then changes
    that each append the next ("from the next piece's first start on, the blocks are
    these"). Applied in order to the cut plan, they give the plan."""
    cuts = _cuts(plan.blocks, weight)
    end = cuts[1] if len(cuts) > 1 else len(plan.blocks)
    return replace(plan, blocks=plan.blocks[:end]), _rest(plan, plan.blocks, cuts)


def change_pieces(change: PlanChange, weight: int) -> list[PlanChange]:
    """A change in pieces of about `weight` blocks and ad breaks each: the change cut after
    its first piece (its `from` and head kept), then changes that each append the next.
    Applied in order, they make the change."""
    cuts = _cuts(change.blocks, weight)
    end = cuts[1] if len(cuts) > 1 else len(change.blocks)
    return [replace(change, blocks=change.blocks[:end]), *_rest(change, change.blocks, cuts)]
