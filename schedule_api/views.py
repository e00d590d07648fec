"""Rows and domain values as response bodies: the one place each response is shaped."""

from __future__ import annotations

from collections.abc import Sequence

from common.instants import US_PER_S, format_date
from engine.plan_format import AdMarkersModel, ProfileEntryModel, TrackSpecModel
from schedule_api import models
from schedule_api.domain import guide, rules
from schedule_api.domain.channels import playback_path, xmltv_id
from schedule_api.store.rows import AssetRow, ChannelRow, EventRow, JobRow, RuleRow


def channel(row: ChannelRow) -> models.Channel:
    return models.Channel(
        id=row.id,
        name=row.name,
        slate=row.slate_asset_id,
        slate_version=row.slate_version,
        target_duration=row.target_duration,
        window_seconds=row.window_ms / 1000,
        time_zone=row.time_zone,
        artwork_url=row.artwork_url,
        group=row.group_title,
        max_shift_seconds=row.max_shift_seconds,
        xmltv_id=xmltv_id(row.id),
        profile=[ProfileEntryModel.model_validate(p) for p in row.profile],
        ad_markers=AdMarkersModel.model_validate(row.ad_markers),
        break_rule=None
        if row.break_rule is None
        else models.BreakRuleModel.model_validate(row.break_rule),
        audio_tracks=[TrackSpecModel.model_validate(t) for t in row.audio_tracks],
        subtitle_tracks=[TrackSpecModel.model_validate(t) for t in row.subtitle_tracks],
        subtitle_target_duration=row.subtitle_target_duration,
        playback_path=playback_path(row.id),
        created=format_date(row.created_us),
        created_ms=row.created_us // 1000,
        updated=format_date(row.updated_us),
        updated_ms=row.updated_us // 1000,
    )


def event(row: EventRow) -> models.Event:
    return models.Event(
        id=row.id,
        channel=row.channel_id,
        asset=row.asset_id,
        version=row.asset_version,
        title=row.title or row.asset_title,
        title_override=row.title or None,
        start=format_date(row.start_us),
        start_ms=row.start_us // 1000,
        end=format_date(row.end_us),
        end_ms=row.end_us // 1000,
        duration_seconds=row.duration_us / 1e6,
        clip_in_seconds=None if row.clip_in_us is None else row.clip_in_us / 1e6,
        clip_out_seconds=None if row.clip_out_us is None else row.clip_out_us / 1e6,
        first_segment=row.first_segment,
        end_segment=row.end_segment,
        breaks=[
            models.EventBreak(
                offset_seconds=b["offset_us"] / 1e6,
                duration_seconds=b["duration_us"] / 1e6,
                at_segment=b["at_segment"],
            )
            for b in row.breaks
        ],
        rule=row.rule_id,
        created=format_date(row.created_us),
        updated=format_date(row.updated_us),
    )


def rule(row: RuleRow) -> models.Rule:
    spec = row.spec
    cursor = rules.Cursor.from_json(row.state)
    return models.Rule(
        id=row.id,
        channel=row.channel_id,
        kind=row.kind,
        start=format_date(row.start_us),
        play=spec.get("play"),
        seed=spec.get("seed"),
        slots=spec.get("slots"),
        filler=spec.get("filler"),
        horizon_hours=spec["horizon_hours"],
        materialised_until=format_date(cursor.next_us),
        items_placed=cursor.placed,
        last_run=None if row.materialised_us is None else format_date(row.materialised_us),
        created=format_date(row.created_us),
    )


def asset(row: AssetRow, versions: list[int]) -> models.Asset:
    return models.Asset(
        id=row.id,
        version=row.version,
        versions=versions,
        url=row.url,
        title=row.title,
        description=row.description,
        genre=row.genre,
        episode=row.episode,
        rating=row.rating,
        artwork_url=row.artwork_url,
        tags=list(row.tags),
        container=row.container,
        duration_seconds=row.duration_us / 1e6,
        duration_ms=row.duration_us // 1000,
        max_segment_seconds=row.max_segment_us / 1e6,
        renditions=[models.RenditionSummary.model_validate(r) for r in row.renditions],
        ingested=format_date(row.ingested_us),
        ingested_ms=row.ingested_us // 1000,
    )


def job(row: JobRow) -> models.IngestJob:
    items = [models.IngestItem.model_validate(item) for item in row.items]
    return models.IngestJob(
        id=row.id,
        state=row.state,
        total=len(items),
        done=sum(item.state == "done" for item in items),
        failed=sum(item.state in ("failed", "interrupted") for item in items),
        items=items,
        created=format_date(row.created_us),
        updated=format_date(row.updated_us),
    )


def airing(found: guide.Airing) -> models.Airing:
    return models.Airing(
        kind=found.kind.value,
        event_id=found.event_id,
        asset_id=found.asset.id,
        asset_version=found.asset.version,
        title=found.title,
        start=format_date(found.start_us),
        start_ms=found.start_us // 1000,
        end=None if found.end_us is None else format_date(found.end_us),
        end_ms=None if found.end_us is None else found.end_us // 1000,
    )


def schedule_entry(channel_id: str, program: guide.Airing) -> models.ScheduleEntry:
    """A program of the segment-exact schedule (programs always end and always have a
    scheduled start: guide.airings)."""
    assert program.end_us is not None
    assert program.scheduled_start_us is not None
    return models.ScheduleEntry(
        id=program.event_id or "",
        channel_id=channel_id,
        asset_id=program.asset.id,
        asset_version=program.asset.version,
        title=program.title,
        start_time=program.start_us // 1000,
        end_time=program.end_us // 1000,
        start=format_date(program.start_us),
        end=format_date(program.end_us),
        duration=(program.end_us - program.start_us) / US_PER_S,
        scheduled_start=format_date(program.scheduled_start_us),
        scheduled_start_time=program.scheduled_start_us // 1000,
    )


def as_run_entry(aired: guide.Airing, begin_us: int, end_us: int) -> models.AsRunEntry:
    """An airing as it aired within [begin_us, end_us)."""
    seconds = (end_us - begin_us) / US_PER_S
    return models.AsRunEntry(
        kind=aired.kind.value,
        event_id=aired.event_id,
        asset_id=aired.asset.id,
        asset_version=aired.asset.version,
        title=aired.title,
        start=format_date(begin_us),
        end=format_date(end_us),
        start_ms=begin_us // 1000,
        end_ms=end_us // 1000,
        duration_seconds=seconds,
        slate_seconds=seconds if aired.kind is guide.AiringKind.SLATE else 0.0,
    )


def planned(placements: Sequence[rules.Placement], limit: int) -> list[models.PlannedEvent]:
    return [
        models.PlannedEvent(
            asset=p.asset.id,
            version=p.asset.version,
            title=p.asset.title,
            start=format_date(p.start_us),
            start_ms=p.start_us // 1000,
            end=format_date(p.end_us),
            end_ms=p.end_us // 1000,
            duration_seconds=p.duration_us / US_PER_S,
            cut=p.cut,
            occurrence=p.occurrence,
        )
        for p in placements[:limit]
    ]
