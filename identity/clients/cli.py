"""`egate clients add|list|show`: register department clients from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from identity.assurance import ACR_ORDER, IAL_ORDER
from identity.clients import service as clients
from identity.clients.models import Client
from identity.db import unit_of_work
from kit.runtime import Runtime
from kit.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    jwks = json.loads(Path(args.jwks_file).read_text()) if args.jwks_file else None
    registration = clients.Registration(
        name=args.name,
        name_zh=args.name_zh,
        department=args.department,
        redirect_uris=args.redirect_uri,
        post_logout_redirect_uris=tuple(args.post_logout_redirect_uri),
        grant_types=tuple(args.grant_type),
        allowed_scopes=tuple(args.scope.split()),
        token_endpoint_auth_method=args.auth_method,
        jwks=jwks,
        jwks_uri=args.jwks_uri,
        subject_type=args.subject_type,
        purpose=args.purpose,
        purpose_zh=args.purpose_zh,
        legal_basis=args.legal_basis,
        require_per_request_consent=args.per_request_consent,
        audit_system=args.audit_system,
        client_id=args.client_id,
        min_identity_level=args.min_identity_level,
        min_acr=args.min_acr,
    )
    runtime = Runtime.build(settings)
    try:
        with unit_of_work(runtime.sessions) as db:
            client, secret = clients.register(
                db, runtime.master_key, registration, runtime.clock(), outbound=settings.outbound_policy
            )
    except clients.ClientRegistrationError as exc:
        print(f"egate: {exc}", file=sys.stderr)
        return 2
    print(f"client_id:     {client.client_id}")
    if secret:
        print(f"client_secret: {secret}   (shown once; store it in the department's vault)")
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    with unit_of_work(runtime.sessions) as db:
        for client in clients.list_clients(db):
            audit = "\taudit-system" if client.audit_system else ""
            print(f"{client.client_id}\t{client.department}\t{client.name}{audit}")
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    runtime = Runtime.build(settings)
    with unit_of_work(runtime.sessions) as db:
        client = clients.find_client(db, args.client_id)
        if client is None:
            print(f"egate: no client {args.client_id!r}", file=sys.stderr)
            return 2
        for label, value in describe(client):
            print(f"{label + ':':<21}{value}")
    return 0


def describe(client: Client) -> list[tuple[str, str]]:
    """What ``clients show`` prints, never the secret (only its digest is stored anyway)."""
    return [
        ("client_id", client.client_id),
        ("name", client.name + (f" / {client.name_zh}" if client.name_zh else "")),
        ("department", client.department),
        ("client type", client.client_type + (" (disabled)" if client.disabled else "")),
        ("auth method", client.token_endpoint_auth_method),
        ("grant types", " ".join(client.grant_types)),
        ("scopes", " ".join(client.allowed_scopes)),
        ("redirect URIs", " ".join(client.redirect_uris) or "-"),
        ("subject type", client.subject_type),
        ("purpose", client.purpose or "-"),
        ("legal basis", client.legal_basis or "-"),
        ("audit system", "yes" if client.audit_system else "no"),
        ("min identity level", client.min_identity_level or "none"),
        ("min acr", client.min_acr or "none"),
    ]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("clients", help="department clients of the provider")
    actions = parser.add_subparsers(dest="clients_action", required=True)
    add = actions.add_parser("add", help="register a department client")
    add.add_argument("--name", required=True)
    add.add_argument("--name-zh")
    add.add_argument("--department", required=True)
    add.add_argument("--redirect-uri", action="append", default=[])
    add.add_argument("--post-logout-redirect-uri", action="append", default=[])
    add.add_argument(
        "--grant-type",
        action="append",
        default=None,
        choices=["authorization_code", "refresh_token", "client_credentials"],
    )
    add.add_argument("--scope", default="openid profile")
    add.add_argument(
        "--auth-method",
        default="client_secret_basic",
        choices=["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
    )
    add.add_argument("--jwks-file")
    add.add_argument("--jwks-uri")
    add.add_argument("--subject-type", default="pairwise", choices=["pairwise", "public"])
    add.add_argument("--purpose")
    add.add_argument("--purpose-zh")
    add.add_argument("--legal-basis")
    add.add_argument("--per-request-consent", action="store_true")
    add.add_argument(
        "--audit-system",
        action="store_true",
        help="its client_credentials tokens may read the ledger as an auditor (with --scope ledger:audit)",
    )
    add.add_argument("--client-id")
    add.add_argument(
        "--min-identity-level",
        choices=IAL_ORDER,
        help="refuse residents proofed below this level (unmet_authentication_requirements)",
    )
    add.add_argument(
        "--min-acr",
        choices=ACR_ORDER,
        help="every sign-in to the client reaches at least this acr, whatever the request asks",
    )
    add.set_defaults(handler=_with_default_grants(cmd_add))
    listing = actions.add_parser("list", help="list registered clients")
    listing.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", help="one client's registration, with its floors")
    show.add_argument("client_id")
    show.set_defaults(handler=cmd_show)


def _with_default_grants(handler: Handler) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        if args.grant_type is None:
            args.grant_type = ["authorization_code", "refresh_token"]
        return handler(args, settings)

    return run
