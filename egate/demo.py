"""Demo data so a newcomer can sign in within a minute. Idempotent: run it again and
nothing is duplicated. Each service seeds its own part; this module only calls them."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from forms_hub.demo import seed_demo_forms
from forms_hub.oidc_client.service import set_client_credentials
from identity.clients.service import Registration, get_client, register
from identity.mailbox.routes import MAILBOX_PATH
from identity.proofing.demo import seed_demo_identities
from identity.signing.demo import seed_signing_ca
from kit.db import session_scope
from kit.runtime import Runtime

DEMO_CLIENT_ID = "demo-department"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
FORMS_HUB_CLIENT_ID = "forms-hub"
# Where the provider posts logout tokens for the hub (forms_hub/api/logout.py).
FORMS_HUB_BACKCHANNEL_LOGOUT_PATH = "/forms/api/backchannel-logout"
# The resident's phone app (devtools/phone_app.py plays it): a native client, loopback redirect.
APP_CLIENT_ID = "egate-app"
LOOPBACK_REDIRECT = "http://127.0.0.1:53682/callback"


def seed_demo(runtime: Runtime, progress: Callable[[str], None]) -> None:
    issuer = runtime.settings.issuer
    for db in session_scope(runtime.sessions):
        identities = seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock())
        seed_forms_hub(db, runtime)
        seed_phone_app_client(db, runtime)
        seed_signing_ca(db, runtime.settings, runtime.master_key, runtime.clock())
        secret = None
        if get_client(db, DEMO_CLIENT_ID) is None:
            _, secret = register(
                db,
                runtime.master_key,
                Registration(
                    client_id=DEMO_CLIENT_ID,
                    name="Demo Department e-Service",
                    name_zh="示範部門電子服務",
                    department="DEMO",
                    redirect_uris=[DEMO_REDIRECT_URI],
                    post_logout_redirect_uris=("http://127.0.0.1:8765/",),
                    grant_types=("authorization_code", "refresh_token", "client_credentials"),
                    allowed_scopes=(
                        "openid",
                        "profile",
                        "email",
                        "phone",
                        "address",
                        "ledger:department",
                        "signing",
                    ),
                    purpose="To show how a department receives your details",
                    purpose_zh="示範部門如何接收你的資料",
                ),
                runtime.clock(),
            )
    progress("demo data ready")
    identifier, password = identities.resident
    print(f"\n  Sign in at {issuer}/signin")
    print("    resident, identity checked in person:")
    print(f"      identity card number: {identifier}")
    print(f"      password:             {password}")
    print("    resident, self-asserted (never checked):")
    print(f"      identity card number: {identities.self_asserted[0]}")
    print(f"      password:             {identities.self_asserted[1]}")
    print(f"    registration officer ({issuer}/staff/registration):")
    print(f"      user name:            {identities.registrar[0]}")
    print(f"      password:             {identities.registrar[1]}")
    totp_secret = identities.registrar_totp_secret
    show_code = f"import pyotp; print(pyotp.TOTP('{totp_secret}').now())"
    print(f"      TOTP secret:          {totp_secret}   (base32: add it to an authenticator app)")
    print(f'      its current code:     .venv/bin/python -c "{show_code}"')
    if runtime.settings.demo_mailbox:
        print(f"\n  Demo mailbox (the email and SMS messages with their codes): {issuer}{MAILBOX_PATH}")
    elif runtime.settings.demo:
        print("\n  No demo mailbox: the issuer is not http on loopback (codes stay in the outbox)")
    print(f"\n  Government forms: {issuer}/forms/")
    print(f"  Phone app: scripts/phone-app bind --identifier '{identifier}'  (then scan/approve)")
    print(f"  Digital signing: CA certificate {issuer}/signing/ca.pem (also in the data directory)")
    print(f"\n  Demo department client '{DEMO_CLIENT_ID}'")
    print(f"    discovery: {issuer}/.well-known/openid-configuration")
    if secret:
        print(f"    client secret: {secret}   (shown once)")
    print()


def seed_forms_hub(db: Session, runtime: Runtime) -> None:
    """The forms hub's own client at the provider (first-party, public subject type, so its
    ``sub`` is the account id the ledger uses), its credentials, and the demo forms."""
    issuer = runtime.settings.issuer
    if get_client(db, FORMS_HUB_CLIENT_ID) is None:
        _, secret = register(
            db,
            runtime.master_key,
            Registration(
                client_id=FORMS_HUB_CLIENT_ID,
                name="e-Gateway forms",
                name_zh="電子通道表格",
                department="FORMSHUB",
                redirect_uris=[f"{issuer}/forms/auth/callback"],
                post_logout_redirect_uris=(f"{issuer}/forms/",),
                grant_types=("authorization_code", "refresh_token"),
                allowed_scopes=("openid", "profile", "email", "phone", "address", "hkid", "signing"),
                subject_type="public",
                first_party=True,
                purpose="To fill in government forms with your details",
                purpose_zh="以你的資料填寫政府表格",
                backchannel_logout_uri=f"{issuer}{FORMS_HUB_BACKCHANNEL_LOGOUT_PATH}",
            ),
            runtime.clock(),
            outbound=runtime.settings.outbound_policy,
        )
        if secret is None:  # registered with the default client_secret_basic, so never
            raise RuntimeError("the forms hub's client was registered without a secret")
        set_client_credentials(db, runtime.master_key, FORMS_HUB_CLIENT_ID, secret, runtime.clock())
    seed_demo_forms(db, runtime.clock())


def seed_phone_app_client(db: Session, runtime: Runtime) -> None:
    """The resident's phone app: a first-party native client (RFC 8252: public, PKCE,
    loopback redirect), allowed to bind a device key (scope app:device)."""
    if get_client(db, APP_CLIENT_ID) is None:
        register(
            db,
            runtime.master_key,
            Registration(
                client_id=APP_CLIENT_ID,
                name="e-Gateway app",
                name_zh="電子通道應用程式",
                department="EGATE",
                redirect_uris=[LOOPBACK_REDIRECT],
                token_endpoint_auth_method="none",
                grant_types=("authorization_code", "refresh_token"),
                allowed_scopes=("openid", "app:device"),
                subject_type="public",
                first_party=True,
            ),
            runtime.clock(),
        )
