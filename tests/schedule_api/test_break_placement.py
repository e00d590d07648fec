"""Ad break placement without I/O: a channel's rule, and programs cut short."""

from __future__ import annotations

from engine.model import US_PER_S, Break
from schedule_api.domain.events import BreakRule, rule_breaks, shortened_program
from tests.factories import make_asset

S = US_PER_S
SHOW = make_asset("show", [2 * S] * 300)  # ten minutes


def test_a_rule_puts_a_break_every_few_minutes_and_none_at_the_end() -> None:
    rule = BreakRule(duration_us=60 * S, every_us=150 * S)
    assert [b.at_segment for b in rule_breaks(SHOW, 0, 300, rule)] == [75, 150, 225]


def test_a_rule_after_programs_adds_one_at_the_end() -> None:
    rule = BreakRule(duration_us=30 * S, every_us=None, after_programs=True)
    assert rule_breaks(SHOW, 10, 20, rule) == (Break(20, 30 * S),)


def test_a_program_cut_short_keeps_the_breaks_before_its_new_end() -> None:
    breaks = (Break(50, 60 * S), Break(200, 60 * S))
    end, kept = shortened_program(SHOW, 0, 300, breaks, 0, 400 * S)
    assert (end, kept) == (170, (Break(50, 60 * S),))  # 340 s of program and one 60 s break


def test_a_program_that_fits_keeps_its_closing_break() -> None:
    breaks = (Break(300, 30 * S),)
    assert shortened_program(SHOW, 0, 300, breaks, 0, 630 * S) == (300, breaks)
