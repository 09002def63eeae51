"""How a signed-in session can reach a higher ``acr`` (identity.signin.flows.step_up_route):
the answer the authorization endpoint and /signin both follow, so neither sends the browser
to the other for a level it cannot reach."""

from __future__ import annotations

import pytest

from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA
from identity.sessions.service import SignedInSession
from identity.signin.flows import APP, SECOND_FACTOR, step_up_route
from tests.identity.accounts.factories import create_resident, keyring_of
from tests.identity.oidc.factories import bind_device, turn_on_totp


def signed_in(account, acr=ACR_BASIC) -> SignedInSession:
    return SignedInSession("s1", account.id, account.created_at, acr, ("pwd",))


@pytest.mark.parametrize(
    ("totp", "device", "session_acr", "requested", "route"),
    [
        (False, False, ACR_BASIC, ACR_MFA, None),
        (False, False, ACR_BASIC, ACR_DEVICE, None),
        (True, False, ACR_BASIC, ACR_MFA, SECOND_FACTOR),
        (True, False, ACR_BASIC, ACR_DEVICE, None),  # a code never reaches the device level
        (True, False, ACR_MFA, ACR_DEVICE, None),
        (False, True, ACR_BASIC, ACR_MFA, APP),  # the app's level is above two-step verification
        (False, True, ACR_MFA, ACR_DEVICE, APP),
        (True, True, ACR_BASIC, ACR_MFA, SECOND_FACTOR),
        (True, True, ACR_MFA, ACR_MFA, None),  # already there
        (False, False, ACR_BASIC, None, None),
        (False, True, ACR_BASIC, "urn:unknown", None),
    ],
)
def test_the_way_up_from_a_session(db, runtime, totp, device, session_acr, requested, route):
    account, _ = create_resident(db, runtime)
    now = runtime.clock()
    if totp:
        turn_on_totp(db, keyring_of(runtime), account, now)
    if device:
        bind_device(db, account, now)
    assert step_up_route(db, signed_in(account, session_acr), requested) == route


def test_a_suspended_account_has_no_way_up(db, runtime):
    account, _ = create_resident(db, runtime)
    bind_device(db, account, runtime.clock())
    account.status = "suspended"
    assert step_up_route(db, signed_in(account), ACR_DEVICE) is None
