"""/channels/{id}/rules and /rule-previews: rules that fill the schedule ahead of time."""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from common.instants import US_PER_S, to_us
from schedule_api import models, views
from schedule_api.http.keys import CONTEXT
from schedule_api.http.openapi import Operation, Query
from schedule_api.http.params import body, json_response, query_flag, query_int, slug
from schedule_api.service import rules
from schedule_api.service.rules import RuleRequest

LIMIT_QUERY = Query(
    "limit", {"type": "integer", "minimum": 0, "maximum": 5000}, "events listed (default 100)"
)


def _request(given: models.RuleCreate) -> RuleRequest:
    spec: dict[str, Any] = given.model_dump(
        mode="json", exclude={"id", "kind", "start"}, exclude_none=True
    )
    if given.kind == "shuffle" and given.seed is None:
        spec["seed"] = secrets.randbelow(2**31)
    return RuleRequest(given.kind, spec, None if given.start is None else to_us(given.start))


async def create_rule(request: web.Request) -> web.Response:
    """Store a rule and materialise it at once; the scheduler job keeps it topped up."""
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    given = await body(request, models.RuleCreate)
    limit = query_int(request, "limit", 100, 0, 5000)
    rule_id = given.id or f"rule-{secrets.token_hex(6)}"
    now, margin = ctx.clock.now_us(), ctx.margin_us
    await rules.create(
        ctx.store, ctx.timelines, channel_id, rule_id, _request(given), now_us=now, margin_us=margin
    )
    placements = await rules.materialise(
        ctx.store, channel_id, rule_id, now_us=now, margin_us=margin
    )
    ctx.metrics.rule_events.inc(len(placements))
    rule = await rules.get(ctx.store, channel_id, rule_id)
    run = models.RuleRun(
        rule=views.rule(rule), created=len(placements), events=views.planned(placements, limit)
    )
    return json_response(run, 201, {"Location": f"/channels/{channel_id}/rules/{rule_id}"})


async def preview_rule(request: web.Request) -> web.Response:
    """What a rule would create now, without creating anything."""
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    given = await body(request, models.RuleCreate)
    limit = query_int(request, "limit", 100, 0, 5000)
    placements = await rules.preview(
        ctx.store,
        ctx.timelines,
        channel_id,
        _request(given),
        now_us=ctx.clock.now_us(),
        margin_us=ctx.margin_us,
        horizon_us=round(given.horizon_hours * 3600 * US_PER_S),
    )
    run = models.RuleRun(
        rule=None, created=len(placements), events=views.planned(placements, limit)
    )
    return json_response(run)


async def list_rules(request: web.Request) -> web.Response:
    found = await rules.of_channel(request.app[CONTEXT].store, slug(request))
    return json_response(models.RuleList(items=[views.rule(row) for row in found]))


async def get_rule(request: web.Request) -> web.Response:
    found = await rules.get(request.app[CONTEXT].store, slug(request), slug(request, "rule_id"))
    return json_response(views.rule(found))


async def delete_rule(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    await rules.delete(
        ctx.store,
        slug(request),
        slug(request, "rule_id"),
        keep_events=query_flag(request, "keep_events"),
        now_us=ctx.clock.now_us(),
        margin_us=ctx.margin_us,
    )
    return web.Response(status=204)


OPERATIONS = (
    Operation(
        "POST",
        "/channels/{id}/rules",
        create_rule,
        "Add a rule that fills the schedule (loop, shuffle or time slots)",
        201,
        models.RuleRun,
        models.RuleCreate,
        (400, 401, 404, 409, 413, 422),
        query=(LIMIT_QUERY,),
        tag="rules",
    ),
    Operation(
        "GET",
        "/channels/{id}/rules",
        list_rules,
        "List rules",
        200,
        models.RuleList,
        errors=(404,),
        tag="rules",
    ),
    Operation(
        "POST",
        "/channels/{id}/rule-previews",
        preview_rule,
        "What a rule would create now, without creating it",
        200,
        models.RuleRun,
        models.RuleCreate,
        (400, 401, 404, 413, 422),
        query=(LIMIT_QUERY,),
        tag="rules",
    ),
    Operation(
        "GET",
        "/channels/{id}/rules/{rule_id}",
        get_rule,
        "Get a rule and how far it has filled",
        200,
        models.Rule,
        errors=(404,),
        tag="rules",
    ),
    Operation(
        "DELETE",
        "/channels/{id}/rules/{rule_id}",
        delete_rule,
        "Delete a rule and its events after the earliest editable instant",
        204,
        errors=(400, 401, 404),
        query=(
            Query(
                "keep_events",
                {"type": "string", "enum": ["true", "false", "1", "0"]},
                "keep the rule's events",
            ),
        ),
        tag="rules",
    ),
)
