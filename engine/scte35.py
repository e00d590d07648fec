"""SCTE-35 splice_info_sections for ad breaks, built with the `threefive` library. Pure.

A break is signalled where it starts (OUT) and where the program returns (IN), as the
SCTE35-OUT and SCTE35-IN attributes of EXT-X-DATERANGE (RFC 8216 4.3.2.7.1) and, on request,
in EXT-X-CUE-OUT-CONT. The splice happens at the segment the tag precedes, so the commands are
immediate (no PTS: the engine never reads the media).

- splice_insert (SCTE 35 9.7.3): out_of_network_indicator 1 with break_duration and
  auto-return at the OUT; 0 at the IN; both with the break's splice_event_id.
- time_signal (9.7.4) with a segmentation descriptor (10.3.3): Provider Placement
  Opportunity Start (0x34) with the segmentation duration at the OUT, End (0x35) at the IN;
  both with the break's segmentation_event_id.
"""

from __future__ import annotations

import base64
import functools

from threefive import Cue, SegmentationDescriptor, SpliceInsert, TimeSignal

from engine.model import US_PER_S, SpliceCommand

PLACEMENT_OPPORTUNITY_START = 0x34
PLACEMENT_OPPORTUNITY_END = 0x35


def _seconds(duration_us: int) -> float:
    """A duration in the 90 kHz clock's resolution, as threefive takes it (seconds)."""
    return round(duration_us * 90_000 / US_PER_S) / 90_000


def _splice_insert(event_id: int, out: bool, duration_us: int) -> Cue:
    command = SpliceInsert()
    command.splice_event_id = event_id
    command.splice_event_cancel_indicator = False
    command.event_id_compliance_flag = True
    command.out_of_network_indicator = out
    command.program_splice_flag = True
    command.splice_immediate_flag = True
    command.time_specified_flag = False
    command.component_count = 0
    command.unique_program_id = 0
    command.avail_num = 0
    command.avails_expected = 0
    command.duration_flag = out
    if out:
        command.break_auto_return = True
        command.break_duration = _seconds(duration_us)
    cue = Cue()
    cue.command = command
    return cue


def _time_signal(event_id: int, out: bool, duration_us: int) -> Cue:
    command = TimeSignal()
    command.time_specified_flag = False
    descriptor = SegmentationDescriptor()
    descriptor.tag = 2
    descriptor.identifier = "CUEI"
    descriptor.segmentation_event_id = hex(event_id)
    descriptor.segmentation_event_cancel_indicator = False
    descriptor.segmentation_event_id_compliance_indicator = True
    descriptor.program_segmentation_flag = True
    descriptor.segmentation_duration_flag = out
    descriptor.delivery_not_restricted_flag = True
    if out:
        descriptor.segmentation_duration = _seconds(duration_us)
    descriptor.segmentation_upid_type = 0  # not used
    descriptor.segmentation_upid_length = 0
    descriptor.segmentation_upid = ""
    descriptor.segmentation_type_id = (
        PLACEMENT_OPPORTUNITY_START if out else PLACEMENT_OPPORTUNITY_END
    )
    descriptor.segment_num = 0
    descriptor.segments_expected = 0
    descriptor.sub_segment_num = 0
    descriptor.sub_segments_expected = 0
    cue = Cue()
    cue.command = command
    cue.descriptors.append(descriptor)
    return cue


@functools.lru_cache(maxsize=4096)
def splice_info_section(
    command: SpliceCommand, event_id: int, out: bool, duration_us: int
) -> bytes:
    """The encoded splice_info_section (with its CRC) of a break's OUT or IN.

    event_id: 32 bits; duration_us: the break's planned length (OUT only).
    """
    make = _splice_insert if command is SpliceCommand.SPLICE_INSERT else _time_signal
    cue = make(event_id, out, duration_us)
    cue.encode()
    return bytes(cue.bytes())


def as_hex(section: bytes) -> str:
    """A hexadecimal-sequence attribute value (RFC 8216 4.2): 0x followed by the bytes."""
    return "0x" + section.hex().upper()


def as_base64(section: bytes) -> str:
    return base64.b64encode(section).decode()
