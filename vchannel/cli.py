"""The `vchannel` command: run the services and manage the sample library."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import multiprocessing
import os
import re
import signal
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from common.clock import SystemClock
from common.memory import freeze_long_lived_objects, tune_garbage_collector
from common.serving import end_with_parent, serve, start, stop_signals
from engine.app import create_app, load_timelines
from engine.errors import PlanError
from engine.settings import KEEPALIVE_TIMEOUT_S, EngineSettings, SettingsError
from engine.timeline import Timeline
from vchannel.demo import DEMO_CHANNEL, MULTI_CHANNEL, DemoError
from vchannel.samples import DEFAULT_BASE_URL, MEDIA_DIR, PLANS_DIR

# Only what `vchannel engine` needs is imported here: an engine process carries no schedule
# service, database, CloudFormation or AWS code (about 45 MB of resident memory less). The
# other commands import theirs when they run.

log = logging.getLogger("vchannel")
TASK_DEFINITIONS_DIR = Path(__file__).resolve().parent.parent / "task_definitions"


def _engine_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> EngineSettings:
    """Flags override the environment; both go through EngineSettings.from_env."""
    merged = dict(environ)
    flags = {
        "HOST": args.host,
        "PORT": args.port,
        "PLANS_PATH": args.plans,
        "WORKERS": args.workers,
        "CLOCK_START": args.clock_start,
        "CLOCK_SPEED": args.clock_speed,
    }
    merged.update({name: str(value) for name, value in flags.items() if value is not None})
    return EngineSettings.from_env(merged)


def _serve_engine(
    settings: EngineSettings, timelines: dict[str, Timeline], clock: SystemClock, reuse_port: bool
) -> None:
    if reuse_port:  # a worker process: it stops when the engine's main process is gone
        end_with_parent(os.getppid(), signal.SIGINT)
    tune_garbage_collector()
    app = create_app(settings, timelines=timelines, clock=clock, manage_memory=True)
    freeze_long_lived_objects()  # plans loaded from files, and the code itself
    serve(app, settings.host, settings.port, settings.keepalive_timeout_s, reuse_port=reuse_port)


def run_engine(settings: EngineSettings) -> int:
    timelines = load_timelines(settings.plans_path) if settings.plans_path else {}
    clock = SystemClock(settings.clock_start_us, settings.clock_speed)
    print(
        f"vchannel engine: {len(timelines)} channel(s) on http://{settings.host}:{settings.port}"
        f" with {settings.workers} worker(s)",
        flush=True,
    )
    if settings.workers == 1:
        _serve_engine(settings, timelines, clock, reuse_port=False)
        return 0
    # Playlists are a pure function of (plan, assets, now): worker processes need no shared
    # state, only the same clock reference, so they simply share the port.
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_serve_engine, args=(settings, timelines, clock, True))
        for _ in range(settings.workers)
    ]
    for worker in workers:
        worker.start()

    def stop(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.pid is not None:
                os.kill(worker.pid, signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()
    return 0


async def _run_up(host: str, ports: UpPorts, data: Path) -> None:
    """Schedule service (SQLite under `data`), engine following it, sample media origin with
    the player page, and the demo channel, all in this process."""
    from schedule_api.app import create_app as create_schedule_app
    from schedule_api.settings import ScheduleSettings
    from vchannel.demo import ensure_demo
    from vchannel.origin import create_origin_app
    from vchannel.player import create_player_app

    engine_url = f"http://{host}:{ports.engine}"
    api_url = f"http://{host}:{ports.api}"
    media_url = f"http://{host}:{ports.origin}"
    loopback = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    schedule = ScheduleSettings(
        host=host,
        port=ports.api,
        database_url=f"sqlite:///{data}/vchannel.db",
        allowed_sources=loopback,
        cors_whitelist=(media_url,),
        playback_base_url=engine_url,
    )
    runners: list[web.AppRunner] = []
    with stop_signals() as stop:
        try:
            runners.append(
                await start(create_schedule_app(schedule), host, ports.api, KEEPALIVE_TIMEOUT_S)
            )
            player = create_player_app(engine_url, api_url, DEMO_CHANNEL)
            runners.append(
                await start(
                    create_origin_app(MEDIA_DIR, player), host, ports.origin, KEEPALIVE_TIMEOUT_S
                )
            )
            added = await ensure_demo(api_url, f"{media_url}/", SystemClock().now_us() // 1000)
            engine = EngineSettings(host=host, port=ports.engine, channel_manager_url=api_url)
            runners.append(await start(create_app(engine), host, ports.engine, KEEPALIVE_TIMEOUT_S))
            if not stop.is_set():
                print(
                    f"vchannel is up (data in {data}/, {added} new events).\n"
                    f"  watch:    {media_url}/player/  (?channel={MULTI_CHANNEL}: two languages, "
                    "subtitles, ad breaks)\n"
                    f"  playback: {engine_url}/live/master.m3u8?channel={DEMO_CHANNEL}"
                    "  (ffplay, VLC, Safari)\n"
                    f"  channels: {api_url}/channels.m3u  guide: {api_url}/epg.xml (IPTV apps)\n"
                    f"  console:  {api_url}/console/  (program channels in the browser)\n"
                    f"  API docs: {api_url}/api/docs\n"
                    "Ctrl-C stops.",
                    flush=True,
                )
            await stop.wait()
        finally:
            for runner in reversed(runners):
                await runner.cleanup()


@dataclass(frozen=True)
class UpPorts:
    engine: int = 8000
    api: int = 8001
    origin: int = 8080

    def busy(self, host: str) -> str | None:
        """What stops `vchannel up` from listening, in one line, or None."""
        for port, name, flag in (
            (self.api, "the schedule service", "--api-port"),
            (self.origin, "the sample media and player", "--origin-port"),
            (self.engine, "the engine", "--port"),
        ):
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((host, port))
                except OSError as error:
                    return (
                        f"cannot listen on {host}:{port} for {name} ({error.strerror}); "
                        f"stop what uses it or choose another port with {flag}"
                    )
        return None


def run_aws(args: argparse.Namespace) -> int:
    """`vchannel aws ...`: template and task definitions offline; deploy/destroy with boto3."""
    from cloudformation.deploy import deploy, destroy
    from cloudformation.params import StackParams
    from cloudformation.services import write_task_definitions
    from cloudformation.template import build_template

    if args.aws_command in ("template", "deploy", "task-definitions"):
        params = StackParams.from_pairs(args.param)
    if args.aws_command == "template":
        template = build_template(params)
        print(template.to_yaml() if args.format == "yaml" else template.to_json())
        return 0
    if args.aws_command == "task-definitions":
        for path in write_task_definitions(args.out, params):
            print(path)
        return 0
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    logging.getLogger("botocore").setLevel(logging.WARNING)  # "Found credentials in ..."

    try:
        client = boto3.client("cloudformation", region_name=args.region)
        if args.aws_command == "deploy":
            if not STACK_NAME.fullmatch(args.stack_name):
                print(
                    f"vchannel aws deploy: --stack-name {args.stack_name!r}: 1-63 letters, "
                    "digits and '-', starting with a letter (it names a DNS namespace)",
                    file=sys.stderr,
                )
                return 2
            if not all(pair.partition("=")[0] and "=" in pair for pair in args.tag):
                print("vchannel aws deploy: --tag: give key=value", file=sys.stderr)
                return 2
            tags = dict(pair.partition("=")[::2] for pair in args.tag)
            body = json.dumps(build_template(params).to_dict(), separators=(",", ":"))
            confirm = None if args.yes else _ask
            result = deploy(client, args.stack_name, body, tags=tags, confirm=confirm)
            return 1 if result.outcome == "cancelled" else 0
        destroy(client, args.stack_name)
    except (BotoCoreError, ClientError) as error:  # no region, credentials, network, rights
        print(f"vchannel aws {args.aws_command}: {error}", file=sys.stderr)
        return 2
    return 0


STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,62}")


def _ask(question: str) -> bool:
    """A yes from the terminal; no terminal (or end of input) is a no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _command_errors() -> tuple[type[Exception], ...]:
    """Errors of the other commands that end them with a message (imported when needed)."""
    from cloudformation.deploy import DeployError
    from cloudformation.params import ParamsError

    return (ParamsError, DeployError)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    parser = argparse.ArgumentParser(prog="vchannel", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    engine = commands.add_parser("engine", help="serve live HLS playlists (port 8000)")
    engine.add_argument("--host", help="listen address (HOST, default 0.0.0.0)")
    engine.add_argument("--port", type=int, help="listen port (PORT, default 8000)")
    engine.add_argument("--plans", help="plan file or directory (PLANS_PATH)")
    engine.add_argument("--workers", type=int, help="processes sharing the port (WORKERS)")
    engine.add_argument(
        "--clock-start",
        help="simulation only: start the clock at this RFC 3339 instant (CLOCK_START)",
    )
    engine.add_argument(
        "--clock-speed", type=float, help="simulation only: run the clock N times faster"
    )

    schedule = commands.add_parser(
        "schedule-api",
        help="serve the schedule REST API (port 8001; settings from the environment)",
    )
    schedule.add_argument("--host", help="listen address (HOST, default 0.0.0.0)")
    schedule.add_argument("--port", type=int, help="listen port (PORT, default 8001)")
    schedule.add_argument(
        "--database-url", help="sqlite:///path or postgresql://... (DATABASE_URL)"
    )

    origin = commands.add_parser("origin", help="serve a folder of HLS VOD media (port 8080)")
    origin.add_argument("--host", default="127.0.0.1")
    origin.add_argument("--port", type=int, default=8080)
    origin.add_argument("--root", type=Path, default=MEDIA_DIR)
    origin.add_argument("--player-engine", help="also serve the player at /player/ for this engine")
    origin.add_argument("--player-api", help="the schedule service the player reads now/next from")
    origin.add_argument("--player-channel", default=DEMO_CHANNEL)

    up = commands.add_parser(
        "up",
        help="run a local channel: schedule service, engine, sample origin, player, demo channel",
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8000, help="engine port")
    up.add_argument("--api-port", type=int, default=8001, help="schedule service port")
    up.add_argument("--origin-port", type=int, default=8080, help="sample media and player")
    up.add_argument("--data", type=Path, default=Path("data"), help="SQLite folder (reused)")

    cdn = commands.add_parser(
        "cdn", help="a local CloudFront stand-in (nginx) in front of engines (port 8090)"
    )
    cdn.add_argument(
        "--origin",
        action="append",
        help="an engine, http://host:port (repeat for replicas; default http://127.0.0.1:8000)",
    )
    cdn.add_argument("--host", default="127.0.0.1")
    cdn.add_argument("--port", type=int, default=8090)
    cdn.add_argument(
        "--work", type=Path, help="cache and configuration folder (default: a new one)"
    )

    demo = commands.add_parser(
        "demo", help="create or extend the demo channel through a schedule service's API"
    )
    demo.add_argument("--api", default="http://127.0.0.1:8001", help="schedule service URL")
    demo.add_argument(
        "--media-base", default="http://127.0.0.1:8080/", help="where the sample media is served"
    )

    aws = commands.add_parser("aws", help="build, deploy or destroy the AWS stack")
    aws_commands = aws.add_subparsers(dest="aws_command", required=True)
    param_help = "a stack parameter as field=value (see cloudformation/params.py), repeatable"
    template = aws_commands.add_parser("template", help="print the CloudFormation template")
    template.add_argument("--format", choices=["json", "yaml"], default="json")
    template.add_argument("--param", action="append", default=[], help=param_help)
    deploy = aws_commands.add_parser("deploy", help="create or update the stack (change set)")
    deploy.add_argument("--stack-name", required=True)
    deploy.add_argument("--param", action="append", default=[], help=param_help)
    deploy.add_argument("--region", help="AWS region (default: the AWS configuration's)")
    deploy.add_argument(
        "--tag", action="append", default=[], help="a stack tag as key=value, repeatable"
    )
    deploy.add_argument("--yes", action="store_true", help="execute the change set without asking")
    destroy = aws_commands.add_parser("destroy", help="delete the stack")
    destroy.add_argument("--stack-name", required=True)
    destroy.add_argument("--region")
    task_definitions = aws_commands.add_parser(
        "task-definitions",
        help="rewrite task_definitions/*.json (ECS RegisterTaskDefinition input)",
    )
    task_definitions.add_argument("--out", type=Path, default=TASK_DEFINITIONS_DIR)
    task_definitions.add_argument("--param", action="append", default=[], help=param_help)

    samples = commands.add_parser("samples", help="rewrite samples/plans from samples/media")
    samples.add_argument("--out", type=Path, default=PLANS_DIR)
    samples.add_argument("--base-url", default=DEFAULT_BASE_URL)

    args = parser.parse_args(argv)
    try:
        if args.command == "engine":
            return run_engine(_engine_settings(args, environ))
        if args.command == "schedule-api":
            from schedule_api.app import create_app as create_schedule_app
            from schedule_api.settings import ScheduleSettings

            merged = dict(environ)
            flags = {"HOST": args.host, "PORT": args.port, "DATABASE_URL": args.database_url}
            merged.update({k: str(v) for k, v in flags.items() if v is not None})
            schedule_settings = ScheduleSettings.from_env(merged)
            schedule_settings.check_exposure()
            serve(
                create_schedule_app(schedule_settings, manage_memory=True),
                schedule_settings.host,
                schedule_settings.port,
                schedule_settings.keepalive_timeout_s,
            )
            return 0
        if args.command == "origin":
            from vchannel.origin import create_origin_app
            from vchannel.player import create_player_app

            player = None
            if args.player_engine and args.player_api:
                player = create_player_app(args.player_engine, args.player_api, args.player_channel)
            web.run_app(
                create_origin_app(args.root, player),
                host=args.host,
                port=args.port,
                access_log=None,
            )
            return 0
        if args.command == "up":
            ports = UpPorts(args.port, args.api_port, args.origin_port)
            busy = ports.busy(args.host)
            if busy:
                print(f"vchannel up: {busy}", file=sys.stderr)
                return 2
            # a local run shows its banner, warnings and errors; not each migration and job run
            for name in ("alembic", "apscheduler"):
                logging.getLogger(name).setLevel(logging.WARNING)
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(_run_up(args.host, ports, args.data.resolve()))
            return 0
        if args.command == "cdn":
            from vchannel.cdn import run as run_cdn

            try:
                run_cdn(args.origin or ["http://127.0.0.1:8000"], args.host, args.port, args.work)
            except ValueError as error:
                print(f"vchannel cdn: {error}", file=sys.stderr)
                return 2
            return 0
        if args.command == "demo":
            from vchannel.demo import ensure_demo

            added = asyncio.run(
                ensure_demo(args.api, args.media_base, SystemClock().now_us() // 1000)
            )
            print(f"vchannel demo: channel {DEMO_CHANNEL!r} ready, {added} new events", flush=True)
            return 0
        if args.command == "aws":
            return run_aws(args)
        if args.command == "samples":
            from vchannel.samples import write_sample_plans

            for path in write_sample_plans(args.out, args.base_url):
                print(path)
            return 0
    except SettingsError as error:
        print(f"vchannel {args.command}: {error}", file=sys.stderr)
        return 2
    except (PlanError, DemoError, OSError) as error:
        print(f"vchannel {args.command}: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if not isinstance(error, _command_errors()):
            raise
        print(f"vchannel {args.command}: {error}", file=sys.stderr)
        return 2
    return 2  # pragma: no cover - argparse requires a command


if __name__ == "__main__":
    sys.exit(main())
