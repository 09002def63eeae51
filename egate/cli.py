"""`egate` command line: serve, database, demo data, OpenAPI documents, and each service's
administration commands (registered by the services' own ``cli`` modules)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import uvicorn

import consent.cli
import forms_hub.cli
import identity.cli
from consent.app import sequencer_process
from consent.ledger.models import LEDGER_TABLES
from consent.port import LedgerConsentPort
from egate.app import create_app, service_apps
from egate.demo import seed_demo
from egate.heap import freeze_startup_heap
from egate.maintenance import run_maintenance
from egate.workers import serve_with_workers
from kit import keys, metrics, migrations
from kit.console import progress
from kit.observability import configure_logging
from kit.runtime import Runtime
from kit.settings import Settings, SettingsError, load_settings

OPENAPI_DIR = Path(__file__).resolve().parent.parent / "openapi"
Handler = Callable[[argparse.Namespace, Settings], int]
# A string: argparse's class is generic only in typeshed, not at run time.
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
# Each service adds its own administration commands.
SERVICE_COMMANDS: tuple[Callable[[Commands], None], ...] = (
    partial(identity.cli.register, consent=LedgerConsentPort),
    consent.cli.register,
    forms_hub.cli.register,
)


def uvicorn_proxy_options(settings: Settings) -> dict[str, Any]:
    trusted = [str(network) for network in settings.trusted_proxy_networks.networks]
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": ",".join(trusted) or None}


def issuer_on_the_served_port(settings: Settings, port: int) -> Settings:
    """Without EGATE_ISSUER, the issuer is the address actually served: ``--port`` (or
    EGATE_PORT) moves it off the default port, so that discovery, the forms hub's sign-in and
    the banner name the right URL. A configured issuer is kept as it is."""
    if "issuer" in settings.model_fields_set:
        return settings
    parts = urlsplit(settings.issuer)
    return settings.model_copy(update={"issuer": parts._replace(netloc=f"{parts.hostname}:{port}").geturl()})


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    settings = issuer_on_the_served_port(settings, port)
    if args.demo:
        settings = settings.model_copy(update={"demo": True})
    if args.workers > 1:
        # Each worker reads its settings from the environment (egate.app.app_from_environment):
        # hand it what this command decided.
        os.environ["EGATE_ISSUER"] = settings.issuer
        os.environ["EGATE_DEMO"] = "true" if settings.demo else "false"
    runtime = Runtime.build(settings)
    # On PostgreSQL the ledger's sequencer runs in a process of its own, not in the app(s).
    sequencing = sequencer_process(runtime)
    if sequencing is not None:
        runtime.settings = settings = settings.model_copy(update={"consent_sequencer_enabled": False})
        os.environ["EGATE_CONSENT_SEQUENCER_ENABLED"] = "false"  # the workers' own settings
    if migrations.is_behind(runtime.engine):
        if not settings.auto_migrate:
            print(
                "egate: the database is behind the migrations and EGATE_AUTO_MIGRATE is off;"
                " run `egate db upgrade` first",
                file=sys.stderr,
            )
            return 2
        progress("migrating the database to the latest schema")
        migrations.upgrade(runtime.engine)
    if args.demo:
        seed_demo(runtime, progress)
    configure_logging(settings.log_level, settings.log_json)
    progress(f"serving on http://{host}:{port} (issuer {settings.issuer})")
    # Several workers each build their app from the environment (egate.app:app_from_environment)
    # and count into files that any of them reads when scraped (kit/metrics.py).
    app: Any = "egate.app:app_from_environment"
    if args.workers <= 1:
        app = create_app(runtime)
        freeze_startup_heap()  # each of several workers does so once its app is built
    with contextlib.ExitStack() as stack:
        if args.workers > 1:
            stack.enter_context(metrics.shared_by_workers())
        if sequencing is not None:
            sequencing.start()
            stack.callback(sequencing.stop)
        _run_uvicorn(app, args.workers, host, port, settings)
    return 0


def _run_uvicorn(app: Any, workers: int, host: str, port: int, settings: Settings) -> None:
    options: dict[str, Any] = {
        # A worker imports and builds the whole app before it answers the supervisor's
        # health check; on a busy machine that takes longer than uvicorn's 5 s default.
        "timeout_worker_healthcheck": 60,
        "host": host,
        "port": port,
        "log_level": settings.log_level,
        "access_log": False,
        # No "server: uvicorn" on every response: what serves the gateway is nobody's business
        # (a scanner's first question), and the header is bytes on every answer.
        "server_header": False,
        # Only the configured proxies may name the client (kit/client_address.py reads the
        # same setting for Forwarded); with none, forwarding headers are ignored.
        **uvicorn_proxy_options(settings),
    }
    if workers > 1:
        # Each worker on a socket of its own, so the kernel spreads the connections
        # (egate/workers.py).
        serve_with_workers(uvicorn.Config(app, factory=True, workers=workers, **options))
    else:
        uvicorn.run(app, **options)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    if args.action == "upgrade":
        progress(f"upgrading to {args.revision}")
        migrations.upgrade(runtime.engine, args.revision)
    elif args.action == "revision":
        migrations.new_revision(runtime.engine, args.revision)
        return 0
    elif args.action == "downgrade":
        progress(f"downgrading to {args.revision}")
        try:
            migrations.downgrade(
                runtime.engine,
                args.revision,
                protected_tables=LEDGER_TABLES,
                allow_dropping_protected=args.drop_ledger,
            )
        except migrations.ProtectedTablesError as exc:
            print(
                f"egate: refusing to downgrade to {args.revision}: it would drop the disclosure"
                f" ledger ({exc}); nothing was changed. Export it first (`egate ledger export`)"
                " and add --drop-ledger if you really mean it.",
                file=sys.stderr,
            )
            return 2
    with runtime.engine.connect() as connection:
        print(f"database at revision {migrations.current_revision(connection)}")
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    progress("migrating the database")
    migrations.upgrade(runtime.engine)
    seed_demo(runtime, progress)
    return 0


def cmd_master_key(args: argparse.Namespace, settings: Settings) -> int:
    """Rotation of the master key, which only wraps the root secret (kit/keys.py): no datum
    is rewritten, so it needs no downtime."""
    keys.load_master_key(settings)  # a first run wraps the root, as any command would
    if args.action == "rotate":
        old, new = keys.rotate_master_key(settings)
        print(
            f"master key {new} is current; {old} still opens the root until `egate master-key retire`"
            f" (copy {settings.effective_master_key_file} and {settings.effective_root_key_file}"
            " to every replica first)"
        )
    elif args.action == "retire":
        retired = keys.retire_previous_master_keys(settings)
        where = "remove them from EGATE_MASTER_KEY" if settings.master_key else "removed from the key file"
        print(f"retired {len(retired)} previous master key(s) {' '.join(retired)}: {where}".rstrip())
    current = keys.load_master_keys(settings)
    print(
        f"current master key {keys.master_key_id(current.current)};"
        f" previous: {' '.join(current.previous_ids) or 'none'};"
        f" root wrapped under {keys.root_wrapped_under(settings)}"
    )
    return 0


def cmd_maintenance(args: argparse.Namespace, settings: Settings) -> int:
    """Remove what no service needs any more (egate/maintenance.py), in bounded batches."""
    deleted = run_maintenance(Runtime.build(settings))
    for table, count in deleted.items():
        print(f"{table}: {count} removed")
    return 0


def render_openapi(settings: Settings) -> dict[str, str]:
    """The OpenAPI document of each service as committed text, keyed by file name."""
    documents = {}
    for name, app in service_apps(Runtime.build(settings)).items():
        documents[f"{name}.json"] = json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
    return documents


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    target = Path(args.output)
    target.mkdir(parents=True, exist_ok=True)
    drift = []
    for file_name, text in render_openapi(settings).items():
        path = target / file_name
        if args.check:
            if not path.exists() or path.read_text() != text:
                drift.append(file_name)
        else:
            path.write_text(text)
            progress(f"wrote {path}")
    if drift:
        print(f"OpenAPI documents out of date: {', '.join(drift)}; run `egate openapi`")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="egate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, then serve all three services")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--demo", action="store_true", help="seed the demo data; the demo mailbox (loopback issuer only)"
    )
    serve.add_argument("--workers", type=int, default=1, help="worker processes (each with its own runtime)")
    serve.set_defaults(handler=cmd_serve)

    db = commands.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "downgrade", "current", "revision"])
    db.add_argument(
        "revision",
        nargs="?",
        help="target (required for downgrade; upgrade defaults to head), or a new revision's message",
    )
    db.add_argument(
        "--drop-ledger",
        action="store_true",
        help="allow a downgrade that drops the disclosure ledger's tables",
    )
    db.set_defaults(handler=cmd_db)

    master_key = commands.add_parser("master-key", help="rotate the master key (it wraps the root secret)")
    master_key.add_argument("action", choices=["status", "rotate", "retire"])
    master_key.set_defaults(handler=cmd_master_key)

    demo = commands.add_parser("demo", help="seed a demo department, resident and forms")
    demo.set_defaults(handler=cmd_demo)

    maintenance = commands.add_parser(
        "maintenance", help="remove expired codes, tokens, sessions, delivered messages... (housekeeping)"
    )
    maintenance.set_defaults(handler=cmd_maintenance)

    openapi = commands.add_parser("openapi", help="write the services' OpenAPI documents")
    openapi.add_argument("--output", default=str(OPENAPI_DIR))
    openapi.add_argument("--check", action="store_true", help="fail when they drift")
    openapi.set_defaults(handler=cmd_openapi)

    for register in SERVICE_COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "db" and args.revision is None:
        if args.action in ("downgrade", "revision"):
            parser.error(f"db {args.action} needs a revision: nothing is assumed")
        args.revision = "head"
    handler: Handler = args.handler
    try:
        return handler(args, load_settings())
    except SettingsError as exc:
        print(f"egate: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
