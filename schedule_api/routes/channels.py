"""/channels: create, list, read, change, delete."""

from __future__ import annotations

from aiohttp import web

from schedule_api import models, views
from schedule_api.http.keys import CONTEXT
from schedule_api.http.openapi import Operation
from schedule_api.http.params import body, json_response, slug
from schedule_api.service import channels


async def create_channel(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    created = await channels.create(
        ctx.store, await body(request, models.ChannelCreate), ctx.clock.now_us()
    )
    return json_response(views.channel(created), 201, {"Location": f"/channels/{created.id}"})


async def list_channels(request: web.Request) -> web.Response:
    rows = await channels.every(request.app[CONTEXT].store)
    return json_response(models.ChannelList(items=[views.channel(row) for row in rows]))


async def get_channel(request: web.Request) -> web.Response:
    return json_response(
        views.channel(await channels.get(request.app[CONTEXT].store, slug(request)))
    )


async def update_channel(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    await channels.require(ctx.store, channel_id)
    change = await body(request, models.ChannelUpdate)
    row = await channels.update(ctx.store, channel_id, change, ctx.clock.now_us())
    return json_response(views.channel(row))


async def delete_channel(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    await channels.delete(ctx.store, slug(request), ctx.clock.now_us())
    return web.Response(status=204)


OPERATIONS = (
    Operation(
        "POST",
        "/channels",
        create_channel,
        "Create a channel",
        201,
        models.Channel,
        models.ChannelCreate,
        (400, 401, 409, 413, 422),
        tag="channels",
    ),
    Operation(
        "GET", "/channels", list_channels, "List channels", 200, models.ChannelList, tag="channels"
    ),
    Operation(
        "GET",
        "/channels/{id}",
        get_channel,
        "Get a channel",
        200,
        models.Channel,
        errors=(404,),
        tag="channels",
    ),
    Operation(
        "PATCH",
        "/channels/{id}",
        update_channel,
        "Change a channel",
        200,
        models.Channel,
        models.ChannelUpdate,
        (400, 401, 404, 413, 422),
        tag="channels",
    ),
    Operation(
        "DELETE",
        "/channels/{id}",
        delete_channel,
        "Delete a channel",
        204,
        errors=(401, 404),
        tag="channels",
    ),
)
