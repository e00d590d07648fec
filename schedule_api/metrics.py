"""Prometheus metrics of one schedule service process (its own registry)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vchannel_schedule_requests",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=self.registry,
        )
        self.rule_runs = Counter(
            "vchannel_schedule_rule_runs",
            "Rule materialisations by the scheduler job, by result",
            ["result"],
            registry=self.registry,
        )
        self.rule_events = Counter(
            "vchannel_schedule_rule_events_created",
            "Events created by rules",
            registry=self.registry,
        )
        self.compactions = Counter(
            "vchannel_schedule_plan_compactions",
            "Plans whose start moved up to the retention limit",
            registry=self.registry,
        )
        self.ingests = Counter(
            "vchannel_schedule_ingests",
            "Asset ingests by result",
            ["result"],
            registry=self.registry,
        )
