"""The scheduler job: top every rule up, then compact plans (every RULES_INTERVAL_SECONDS)."""

from __future__ import annotations

from common.instants import US_PER_S
from schedule_api.service import plans, rules
from schedule_api.service.context import Context


async def materialise_rules(ctx: Context) -> int:
    """Top up every rule; how many events were created."""
    created, ran, failed = await rules.materialise_all(
        ctx.store, now_us=ctx.clock.now_us(), margin_us=ctx.margin_us
    )
    ctx.metrics.rule_runs.labels("ok").inc(ran)
    ctx.metrics.rule_runs.labels("error").inc(failed)
    ctx.metrics.rule_events.inc(created)
    return created


COMPACTION_SLACK_US = 6 * 3600 * US_PER_S
"""A plan is compacted once it holds this much more history than it must keep: each channel
moves its checkpoint a few times a day, not after every program (each move is a plan change
every engine applies)."""


async def compact_plans(ctx: Context) -> int:
    """Move the plan start of every channel holding more than the retention plus
    COMPACTION_SLACK_US of history up to the retention limit; how many moved."""
    retention = ctx.settings.plan_retention_hours * 3600 * US_PER_S
    moved = await plans.compact_plans(
        ctx.store,
        now_us=ctx.clock.now_us(),
        retention_us=retention,
        slack_us=COMPACTION_SLACK_US,
    )
    ctx.metrics.compactions.inc(moved)
    return moved


async def maintain(ctx: Context) -> None:
    """The scheduler job: top rules up, then compact plans."""
    await materialise_rules(ctx)
    await compact_plans(ctx)
