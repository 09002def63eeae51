"""`egate clients add|list|show`: register department clients from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from identity.assurance import ACR_ORDER, IAL_ORDER
from identity.clients import profiles
from identity.clients import service as clients
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
        token_endpoint_auth_method=args.auth_method or profiles.default_auth_method(args.profile),
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
        backchannel_logout_uri=args.backchannel_logout_uri,
        backchannel_logout_session_required=args.backchannel_logout_session_required,
        backchannel_token_delivery_mode=args.backchannel_token_delivery_mode,
        backchannel_client_notification_endpoint=args.backchannel_client_notification_endpoint,
        profile=args.profile,
        require_pushed_authorization_requests=args.require_par,
        dpop_bound_access_tokens=args.dpop_bound_access_tokens,
        require_signed_request_object=args.require_signed_request_object,
        resources=tuple(args.resource),
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
            return 1
        for name, value in clients.registration_metadata(client).items():
            shown = " ".join(value) if isinstance(value, list) else value
            print(f"{name + ':':<42} {'' if shown is None else shown}")
        print("enforced:")
        for line in profiles.enforced(client, server_requires_par=settings.require_par):
            print(f"  - {line}")
    return 0


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
        choices=list(clients.GRANT_TYPES),
    )
    add.add_argument("--scope", default="openid profile")
    add.add_argument(
        "--auth-method",
        default=None,
        choices=["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        help="default client_secret_basic (private_key_jwt under --profile fapi2)",
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
    add.add_argument("--backchannel-logout-uri", help="where logout tokens are posted (Back-Channel Logout)")
    add.add_argument(
        "--backchannel-logout-session-required",
        action="store_true",
        help="every logout token names the session (sid)",
    )
    add.add_argument(
        "--backchannel-token-delivery-mode",
        choices=list(clients.CIBA_DELIVERY_MODES),
        help=f"CIBA (--grant-type {clients.CIBA_GRANT_TYPE}): poll (default) or ping",
    )
    add.add_argument("--backchannel-client-notification-endpoint", help="CIBA ping mode: where to notify")
    add.add_argument(
        "--profile",
        choices=list(profiles.PROFILES),
        help="fapi2: FAPI 2.0 Security Profile (PAR, PKCE S256, private_key_jwt, DPoP, codes <= 60 s)",
    )
    add.add_argument("--require-par", action="store_true", help="pushed authorization requests only (PAR)")
    add.add_argument(
        "--dpop-bound-access-tokens", action="store_true", help="refuse token requests without a DPoP proof"
    )
    add.add_argument(
        "--require-signed-request-object", action="store_true", help="signed request objects only (RFC 9101)"
    )
    add.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="URI",
        help="a resource server its access tokens may be for (RFC 8707; repeatable)",
    )
    add.set_defaults(handler=_with_default_grants(cmd_add))
    listing = actions.add_parser("list", help="list registered clients")
    listing.set_defaults(handler=cmd_list)
    show = actions.add_parser(
        "show", help="a client's registration and what the provider enforces on it (never its secret)"
    )
    show.add_argument("client_id")
    show.set_defaults(handler=cmd_show)


def _with_default_grants(handler: Handler) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        if args.grant_type is None:
            args.grant_type = ["authorization_code", "refresh_token"]
        return handler(args, settings)

    return run
