"""HTTP handlers, one module per resource, each exporting its OPERATIONS (method, path,
handler, models, errors): the router and the OpenAPI document are both built from them.
Handlers only read the request, call the service layer and shape the answer (views.py)."""

from __future__ import annotations

from schedule_api.http.openapi import Operation
from schedule_api.routes import assets, channels, events, feed, guide, rules, service

OPERATIONS: tuple[Operation, ...] = (
    *channels.OPERATIONS,
    *assets.OPERATIONS,
    *events.OPERATIONS,
    *guide.OPERATIONS,
    *rules.OPERATIONS,
    *feed.OPERATIONS,
    *assets.JOB_OPERATIONS,
    *service.OPERATIONS,
)
