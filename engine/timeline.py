"""The channel timeline: which segment of which asset airs at any instant. Pure, no I/O.

`compile_timeline(plan, assets)` turns a plan into an ordered list of groups, once per plan.
Any instant or media sequence number is then found by binary search, so a lookup costs the
same one second or one year after the checkpoint.

Rules (DESIGN.md):
- Segment by segment from the checkpoint, a source plays a segment only when that segment's
  end lies no further past the next block's scheduled start than its own start lies before it
  (nearest boundary). So every block starts within half a segment of its scheduled start and
  no error carries over from one block to the next: programs never drift.
- A gap before a block is filled with the filler clips (or the slate), looped from the gap's
  start and cut by the same rule; a block that runs
  into the next one is cut at that segment boundary; a block whose time is entirely taken by
  earlier blocks does not air.
- A segment carries EXT-X-DISCONTINUITY (RFC 8216 4.3.2.3) exactly when it is not the direct
  successor of the segment before it (same asset version, next index, no discontinuity in the
  source). That covers block changes, slate loops and source discontinuities alike, and lets a
  program split into two adjacent clips play seamlessly.
- After the last block the filler clips (or the slate) loop forever, exactly as in a gap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

from engine.errors import PlanError
from engine.layout import Layout, Piece, Run, is_successor, layout_of
from engine.model import (
    US_PER_S,
    AssetIndex,
    AssetKey,
    AssetLookup,
    Block,
    Channel,
    Clip,
    Container,
    Plan,
    SegmentTable,
    TrackType,
    describe,
    rounded_seconds,
)
from engine.profile import map_renditions


class GroupKind(StrEnum):
    BLOCK = "block"
    SLATE = "slate"
    FILLER = "filler"
    BREAK = "break"
    """An ad break inside a program: the slate, marked for downstream ad insertion."""


@dataclass(frozen=True, slots=True)
class Group:
    """A cycle of runs (its layout) played `cycles` times back to back (None: forever, the
    tail).

    discontinuity_sequence is the discontinuity number (RFC 8216 6.2.1) of the group's first
    segment; each later cycle adds dsn_step.
    """

    kind: GroupKind
    start_us: int
    media_sequence: int
    discontinuity_sequence: int
    first_discontinuity: bool
    cycles: int | None
    layout: Layout
    block_index: int | None = None
    scheduled_start_us: int | None = None
    part: int = 0
    """Within a program split by ad breaks: 0 for its first group, then 1, 2, ..."""

    @property
    def runs(self) -> tuple[Run, ...]:
        return self.layout.runs

    @property
    def run_msns(self) -> tuple[int, ...]:
        return self.layout.run_msns

    @property
    def run_starts(self) -> tuple[int, ...]:
        return self.layout.run_starts

    @property
    def period_us(self) -> int:
        return self.layout.period_us

    @property
    def count(self) -> int:
        return self.layout.count

    @property
    def dsn_step(self) -> int:
        return self.layout.dsn_step

    @property
    def wrap_discontinuity(self) -> bool:
        return self.layout.wrap_discontinuity

    @property
    def is_program_start(self) -> bool:
        """The first group of a program (a block): its clip, or an ad break before it."""
        return self.block_index is not None and self.part == 0

    @property
    def end_us(self) -> int | None:
        return None if self.cycles is None else self.start_us + self.cycles * self.period_us


@dataclass(frozen=True, slots=True)
class Slot:
    """One output segment of the channel: numbers, timing and the source segment behind it."""

    media_sequence: int
    start_us: int
    duration_us: int
    discontinuity_sequence: int
    discontinuity: bool
    asset: AssetIndex
    segment: int
    group: Group

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True, slots=True)
class AdBreak:
    """An ad break as aired: [start_us, end_us) on segment boundaries.

    `id` (the EXT-X-DATERANGE ID) and `splice_event_id` (SCTE-35) follow from the start, so
    every engine replica names a break alike and no two breaks of a channel share them.
    """

    start_us: int
    end_us: int
    planned_duration_us: int

    @property
    def id(self) -> str:
        return f"break-{self.start_us // 1000}"

    @property
    def splice_event_id(self) -> int:
        """32 bits: the start in tenths of a second, wrapping after 13.6 years."""
        return (self.start_us // 100_000) % 2**32

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


@dataclass(frozen=True, slots=True)
class Timeline:
    """A compiled plan.

    `tables[asset key][i]` is the segment table that feeds output i: the profile's variants
    first, then the channel's audio tracks. `subtitles[asset key][k]` is the index (in the
    asset's tracks) of the subtitle track that feeds the channel's subtitle track k, or None.
    """

    plan: Plan
    container: Container
    independent_segments: bool
    version: int
    groups: tuple[Group, ...]
    group_msns: tuple[int, ...]
    group_starts: tuple[int, ...]
    renditions: Mapping[tuple[str, int], tuple[int, ...]]
    tables: Mapping[tuple[str, int], tuple[SegmentTable, ...]] = field(default_factory=dict)
    subtitles: Mapping[tuple[str, int], tuple[int | None, ...]] = field(default_factory=dict)
    breaks: tuple[AdBreak, ...] = ()
    break_starts: tuple[int, ...] = ()
    block_firsts: tuple[int, ...] = ()
    """For the blocks by start: how many groups lie before each block's gap and program (where
    a recompilation from that block resumes)."""
    uses: Mapping[AssetKey, int] = field(default_factory=dict)
    """How many of the plan's clips (slate, filler, blocks) use each asset version."""
    ordered: bool = True
    """The plan's blocks are in order of start (a plan from the feed always is): only then can
    a change to its later blocks be laid out from the block it begins at (recompile_from)."""

    def ad_break_at(self, instant_us: int) -> AdBreak | None:
        """The ad break airing at an instant (start <= t < end), if any."""
        index = bisect_right(self.break_starts, instant_us) - 1
        if index < 0:
            return None
        found = self.breaks[index]
        return found if instant_us < found.end_us else None

    def ad_break_ending(self, instant_us: int) -> AdBreak | None:
        """The ad break that ends exactly at an instant, if any."""
        index = bisect_right(self.break_starts, instant_us - 1) - 1
        if index < 0:
            return None
        found = self.breaks[index]
        return found if found.end_us == instant_us else None

    def block_groups(self, index: int) -> tuple[Group, ...]:
        """The groups of the program (block) whose first group is groups[index]."""
        first = self.groups[index]
        end = index + 1
        while end < len(self.groups) and (
            self.groups[end].block_index == first.block_index and self.groups[end].part > 0
        ):
            end += 1
        return self.groups[index:end]

    @property
    def start_us(self) -> int:
        return self.plan.checkpoint.time_us

    @property
    def first_media_sequence(self) -> int:
        return self.plan.checkpoint.media_sequence

    def slot(self, media_sequence: int) -> Slot:
        """The segment with this media sequence number (>= the checkpoint's)."""
        if media_sequence < self.first_media_sequence:
            raise ValueError(f"media sequence {media_sequence} is before the checkpoint")
        group = self.groups[bisect_right(self.group_msns, media_sequence) - 1]
        cycle, offset = divmod(media_sequence - group.media_sequence, group.count)
        index = bisect_right(group.run_msns, offset) - 1
        run = group.runs[index]
        within = offset - run.rel_msn
        segment = run.first_segment + within
        prefix = run.asset.prefix_us
        start = (
            group.start_us
            + cycle * group.period_us
            + run.rel_start_us
            + prefix[segment]
            - prefix[run.first_segment]
        )
        if within > 0:
            discontinuity = False
        elif index > 0:
            discontinuity = run.discontinuity
        else:
            discontinuity = group.first_discontinuity if cycle == 0 else group.wrap_discontinuity
        return Slot(
            media_sequence=media_sequence,
            start_us=start,
            duration_us=prefix[segment + 1] - prefix[segment],
            discontinuity_sequence=group.discontinuity_sequence
            + cycle * group.dsn_step
            + run.rel_dsn,
            discontinuity=discontinuity,
            asset=run.asset,
            segment=segment,
            group=group,
        )

    def media_sequence_at(self, instant_us: int) -> int:
        """The media sequence number of the segment airing at an instant (start <= t < end)."""
        if instant_us < self.start_us:
            raise ValueError("instant is before the checkpoint")
        group = self.groups[bisect_right(self.group_starts, instant_us) - 1]
        cycle, offset_us = divmod(instant_us - group.start_us, group.period_us)
        index = bisect_right(group.run_starts, offset_us) - 1
        run = group.runs[index]
        prefix = run.asset.prefix_us
        target = prefix[run.first_segment] + offset_us - run.rel_start_us
        within = bisect_right(prefix, target) - 1 - run.first_segment
        return group.media_sequence + cycle * group.count + run.rel_msn + within


def _last_true(predicate: Callable[[int], bool], upper: int) -> int:
    """How many of 0, 1, ..., upper-1 satisfy a predicate that is true then false (monotone)."""
    low, high = 0, upper
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            low = middle + 1
        else:
            high = middle
    return low


class _Builder:
    """Lays groups back to back from the checkpoint (compilation only; not shared)."""

    def __init__(self, plan: Plan, groups: tuple[Group, ...] = ()) -> None:
        """From the checkpoint, or resuming after `groups` (laid out from it before)."""
        checkpoint = plan.checkpoint
        self.time_us = checkpoint.time_us
        self.media_sequence = checkpoint.media_sequence
        self.dsn = checkpoint.discontinuity_sequence
        self.previous: tuple[AssetIndex, int] | None = None
        self.groups: list[Group] = list(groups)
        if groups:
            last = groups[-1]
            assert last.cycles is not None  # only the endless tail has no count
            self.time_us = last.start_us + last.cycles * last.period_us
            self.media_sequence = last.media_sequence + last.cycles * last.count
            self.dsn = (
                last.discontinuity_sequence
                + (last.cycles - 1) * last.dsn_step
                + last.layout.rel_dsn
            )
            self.previous = last.layout.tail

    def add(
        self,
        kind: GroupKind,
        pieces: list[Piece],
        cycles: int | None,
        block_index: int | None = None,
        scheduled_start_us: int | None = None,
        part: int = 0,
    ) -> None:
        layout = layout_of(pieces)
        head = layout.runs[0]
        first_discontinuity = self.previous is not None and not is_successor(
            self.previous, head.asset, head.first_segment
        )
        group_dsn = self.dsn + first_discontinuity
        group = Group(
            kind=kind,
            start_us=self.time_us,
            media_sequence=self.media_sequence,
            discontinuity_sequence=group_dsn,
            first_discontinuity=first_discontinuity,
            cycles=cycles,
            layout=layout,
            block_index=block_index,
            scheduled_start_us=scheduled_start_us,
            part=part,
        )
        self.groups.append(group)
        if cycles is not None:
            self.time_us += cycles * layout.period_us
            self.media_sequence += cycles * layout.count
            self.dsn = group_dsn + (cycles - 1) * layout.dsn_step + layout.rel_dsn
            self.previous = layout.tail

    def playable(self, piece: Piece, next_start_us: int | None) -> int:
        """How many segments of a clip play from the cursor before the next block takes over."""
        count = piece.end - piece.first
        if next_start_us is None:
            return count
        prefix, head, start = (
            piece.asset.prefix_us,
            piece.asset.prefix_us[piece.first],
            self.time_us,
        )

        def fits(j: int) -> bool:
            segment = piece.first + j
            return 2 * start + prefix[segment] + prefix[segment + 1] - 2 * head <= 2 * next_start_us

        return _last_true(fits, count)

    def fill(
        self,
        kind: GroupKind,
        pieces: list[Piece],
        until_us: int,
        block_index: int | None = None,
        part: int = 0,
    ) -> int:
        """Loop the pieces from the cursor to the segment boundary nearest to until_us; the
        number of groups added (0 to 2). An ad break passes its program's block index and
        the part it is of that program.

        The gap before a block is filled exactly like the endless tail after the last block
        (same pieces, same anchor), so adding a block after the last one changes nothing
        before it.
        """
        cycle = [(p.asset.prefix_us, i) for p in pieces for i in range(p.first, p.end)]
        prefix = [0]
        for asset_prefix, i in cycle:
            prefix.append(prefix[-1] + asset_prefix[i + 1] - asset_prefix[i])
        count, period, start = len(cycle), prefix[-1], self.time_us

        def fits(j: int) -> bool:
            turn, index = divmod(j, count)
            base = start + turn * period
            return 2 * base + prefix[index] + prefix[index + 1] <= 2 * until_us

        upper = ((until_us - start) // period + 1) * count + 1
        played = _last_true(fits, upper)
        full_cycles, rest = divmod(played, count)
        added = 0
        if full_cycles:
            self.add(kind, pieces, full_cycles, block_index, part=part)
            added += 1
        if rest:
            partial = []
            for piece in pieces:
                take = min(rest, piece.end - piece.first)
                if take == 0:
                    break
                partial.append(Piece(piece.asset, piece.first, piece.first + take, piece.title))
                rest -= take
            self.add(kind, partial, 1, block_index, part=part + added)
            added += 1
        return added

    def program(
        self,
        index: int,
        block: Block,
        piece: Piece,
        slate: list[Piece],
        next_start_us: int | None,
        breaks: list[AdBreak],
    ) -> None:
        """Lay out a block: its clip, interrupted by its ad breaks (the slate for each
        break's length), all cut where the next block starts."""
        part = 0
        cursor = piece.first
        for ad in (*block.breaks, None):
            stop = piece.end if ad is None else ad.at_segment
            if stop > cursor:
                played = self.playable(Piece(piece.asset, cursor, stop, piece.title), next_start_us)
                if played:
                    self.add(
                        GroupKind.BLOCK,
                        [Piece(piece.asset, cursor, cursor + played, piece.title)],
                        1,
                        block_index=index,
                        scheduled_start_us=block.start_us,
                        part=part,
                    )
                    part += 1
                if played < stop - cursor:
                    return  # the next block takes over
            cursor = stop
            if ad is None:
                return
            start = self.time_us
            until = start + ad.duration_us
            if next_start_us is not None:
                until = min(until, next_start_us)
            if until > start:
                part += self.fill(GroupKind.BREAK, slate, until, index, part)
            if self.time_us > start:
                breaks.append(AdBreak(start, self.time_us, ad.duration_us))


def _check_breaks(block: Block, piece: Piece, where: str) -> None:
    previous = piece.first - 1
    for number, ad in enumerate(block.breaks):
        if not previous < ad.at_segment <= piece.end:
            raise PlanError(
                where,
                f"breaks.{number}.at_segment",
                f"must be within the clip's segments [{piece.first}, {piece.end}] and after "
                "the previous break",
            )
        if ad.duration_us <= 0:
            raise PlanError(where, f"breaks.{number}.duration", "must be positive")
        previous = ad.at_segment


def _clip_piece(clip: Clip, assets: AssetLookup, where: str) -> Piece:
    asset = assets.get(clip.key)
    if asset is None:
        raise PlanError(where, "asset", f"unknown {describe(clip.key)}")
    end = asset.segment_count if clip.end_segment is None else clip.end_segment
    if not 0 <= clip.first_segment < end <= asset.segment_count:
        raise PlanError(
            where,
            "clip",
            f"segments [{clip.first_segment}, {end}) are not within the asset's "
            f"{asset.segment_count} segments",
        )
    return Piece(asset, clip.first_segment, end, clip.title)


def track_mismatch(channel: Channel, asset: AssetIndex) -> str | None:
    """Why an asset's audio and subtitle tracks cannot play on a channel (None: they can)."""
    audio = asset.audio_tracks()
    if channel.audio_tracks and not audio:
        return (
            "has no separate audio track, but the channel declares audio tracks: every "
            "asset of such a channel (its slate too) needs demuxed audio"
        )
    if audio and not channel.audio_tracks:
        return (
            "carries its audio as separate tracks (EXT-X-MEDIA TYPE=AUDIO); declare the "
            "channel's audio_tracks to play it with sound"
        )
    if channel.subtitle_tracks:
        for track in asset.tracks:
            if track.type is TrackType.SUBTITLES:
                longest = max(track.segments.durations_us)
                if rounded_seconds(longest) > channel.subtitle_target_duration_s:
                    return (
                        f"has a {longest / 1e6:.3f} s subtitle segment in track "
                        f"{track.name!r}, longer than the channel's subtitle target duration "
                        f"of {channel.subtitle_target_duration_s} s"
                    )
    return None


def _check_asset(plan: Plan, asset: AssetIndex, container: Container) -> None:
    where = f"channel {plan.channel.id!r}"
    if asset.container != container:
        raise PlanError(
            where,
            f"asset {asset.id!r}",
            f"is {asset.container.value} but the slate is {container.value}: a channel keeps "
            "one segment format",
        )
    mismatch = track_mismatch(plan.channel, asset)
    if mismatch is not None:
        raise PlanError(where, f"asset {asset.id!r}", mismatch)
    longest = asset.max_segment_us()
    if rounded_seconds(longest) > plan.channel.target_duration_s:
        raise PlanError(
            where,
            f"asset {asset.id!r}",
            f"has a {longest / 1e6:.3f} s segment, longer than the channel's target duration "
            f"of {plan.channel.target_duration_s} s (RFC 8216 4.3.3.1)",
        )


def _playlist_version(assets: list[AssetIndex]) -> int:
    """Lowest EXT-X-VERSION for what the channel may emit (RFC 8216 section 7)."""
    tables = [rendition.segments for asset in assets for rendition in asset.renditions]
    if any(table.has_init for table in tables):
        return 6  # EXT-X-MAP in a media playlist without I-FRAMES-ONLY
    if any(table.has_keyformat for table in tables):
        return 5
    if any(table.has_byteranges for table in tables):
        return 4
    return 3  # floating-point EXTINF


def edit_reach_us(channel: Channel) -> int:
    """How far before an edited instant the timeline can change.

    An edit at T (a block added, removed or moved there, or a clip changed from there on) only
    changes which segment straddles T and what follows: the content before T is cut by the
    nearest-boundary rule, so the first changed segment starts after T minus the longest
    segment. Any segment rounds to at most the target duration, so it is shorter than the
    target duration plus half a second. The schedule service's lock horizon rests on this.
    """
    return channel.target_duration_s * US_PER_S + US_PER_S // 2


def compile_timeline(plan: Plan, assets: AssetLookup) -> Timeline:
    """Validate a plan against its asset indexes and lay out its timeline."""
    uses: dict[AssetKey, int] = {}
    _count_uses(uses, [plan.channel.slate_key, *(c.key for c in plan.filler)], 1)
    _count_uses(uses, [b.clip.key for b in plan.blocks], 1)
    order = sorted(range(len(plan.blocks)), key=lambda i: plan.blocks[i].start_us)
    ordered = order == list(range(len(plan.blocks)))
    return _laid_out(plan, assets, _Builder(plan), order, [], [], uses, ordered, None)


def recompile_from(timeline: Timeline, plan: Plan, position: int, assets: AssetLookup) -> Timeline:
    """The timeline of `plan`, which is `timeline.plan` with its blocks from `position` on
    replaced (same channel, checkpoint and filler; blocks in order of start). Only the blocks
    from the one before `position` on are laid out again: a block's layout depends on nothing
    but where the one before it ended, its clip and the next block's start, so the groups
    before it are kept as they are. The result equals compile_timeline(plan, assets)."""
    old = timeline.plan
    resume = position - 1  # the block before the change: where its next block starts changed
    if not timeline.ordered or resume < 0:
        return compile_timeline(plan, assets)
    assert plan.checkpoint == old.checkpoint
    if any(a.start_us > b.start_us for a, b in pairwise(plan.blocks[resume:])):
        return compile_timeline(plan, assets)
    uses = dict(timeline.uses)
    _count_uses(uses, [b.clip.key for b in old.blocks[position:]], -1)
    _count_uses(uses, [b.clip.key for b in plan.blocks[position:]], 1)
    kept = timeline.groups[: timeline.block_firsts[resume]]
    builder = _Builder(plan, kept)
    breaks = list(timeline.breaks[: bisect_left(timeline.break_starts, builder.time_us)])
    return _laid_out(
        plan,
        assets,
        builder,
        list(range(resume, len(plan.blocks))),
        breaks,
        list(timeline.block_firsts[:resume]),
        uses,
        True,
        timeline,
    )


def _count_uses(uses: dict[AssetKey, int], keys: list[AssetKey], step: int) -> None:
    for key in keys:
        count = uses.get(key, 0) + step
        if count:
            uses[key] = count
        else:
            del uses[key]


def _laid_out(
    plan: Plan,
    assets: AssetLookup,
    builder: _Builder,
    order: list[int],
    breaks: list[AdBreak],
    firsts: list[int],
    uses: dict[AssetKey, int],
    ordered: bool,
    previous: Timeline | None,
) -> Timeline:
    """Lay out the blocks `order` (indexes into plan.blocks, by start) from the builder's
    cursor, then the endless tail, and describe the assets used; what `previous` already
    derived for an asset version is reused."""
    channel = plan.channel
    where = f"channel {channel.id!r}"
    resumed = len(builder.groups)
    slate = assets.get(channel.slate_key)
    if slate is None:
        raise PlanError(where, "slate", f"unknown {describe(channel.slate_key)}")
    if previous is None and any(index > 0 for index in slate.discontinuities):
        raise PlanError(where, "slate", "a slate must not contain EXT-X-DISCONTINUITY")
    known = {} if previous is None else previous.renditions
    used = {key: assets[key] for key in uses if key in assets}
    for key, asset in used.items():
        if key not in known:
            _check_asset(plan, asset, slate.container)

    slate_pieces = [Piece(slate, 0, slate.segment_count, "")]
    if plan.filler:
        gap_kind = GroupKind.FILLER
        gap = [_clip_piece(c, assets, f"{where}: filler.{i}") for i, c in enumerate(plan.filler)]
    else:
        gap_kind, gap = GroupKind.SLATE, slate_pieces
    for position, index in enumerate(order):
        block = plan.blocks[index]
        block_where = f"{where}: blocks.{index}"
        if block.start_us < plan.checkpoint.time_us:
            raise PlanError(block_where, "start", "is before the plan's checkpoint")
        piece = _clip_piece(block.clip, assets, block_where)
        firsts.append(len(builder.groups))
        if builder.time_us < block.start_us:
            builder.fill(gap_kind, gap, block.start_us)
        following = order[position + 1] if position + 1 < len(order) else None
        next_start = None if following is None else plan.blocks[following].start_us
        _check_breaks(block, piece, block_where)
        builder.program(index, block, piece, slate_pieces, next_start, breaks)
    builder.add(gap_kind, gap, None)

    groups = tuple(builder.groups)
    # the kept groups' numbers and breaks are reused, not walked again
    msns = () if previous is None else previous.group_msns[:resumed]
    starts = () if previous is None else previous.group_starts[:resumed]
    renditions = {
        key: known[key] if key in known else map_renditions(channel.profile, asset)
        for key, asset in used.items()
    }
    old_tables = {} if previous is None else previous.tables
    old_subtitles = {} if previous is None else previous.subtitles
    return Timeline(
        plan=plan,
        container=slate.container,
        independent_segments=all(a.independent_segments for a in used.values()),
        version=_playlist_version(list(used.values())),
        groups=groups,
        group_msns=msns + tuple(g.media_sequence for g in groups[resumed:]),
        group_starts=starts + tuple(g.start_us for g in groups[resumed:]),
        renditions=renditions,
        tables={
            key: old_tables[key] if key in old_tables else _tables(channel, a, renditions[key])
            for key, a in used.items()
        },
        subtitles={
            key: old_subtitles[key]
            if key in old_subtitles
            else tuple(a.track_for(spec, TrackType.SUBTITLES) for spec in channel.subtitle_tracks)
            for key, a in used.items()
        },
        breaks=tuple(breaks),
        break_starts=tuple(b.start_us for b in breaks),
        block_firsts=tuple(firsts),
        uses=uses,
        ordered=ordered,
    )


def _tables(
    channel: Channel, asset: AssetIndex, renditions: tuple[int, ...]
) -> tuple[SegmentTable, ...]:
    """The segment table behind each output: the profile's variants, then the audio tracks."""
    video = tuple(asset.renditions[i].segments for i in renditions)
    audio = []
    for spec in channel.audio_tracks:
        index = asset.track_for(spec, TrackType.AUDIO)
        assert index is not None  # _check_asset: every asset has an audio track
        audio.append(asset.tracks[index].segments)
    return video + tuple(audio)
