"""A department's floors and the ``acr`` a request asks: what the authorization endpoint
decides for a signed-in resident (identity/oidc/authorize.py), without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from authlib.oidc.core.errors import InteractionRequiredError

from identity.assurance import ACR_BASIC, ACR_DEVICE, ACR_MFA, IAL_IN_PERSON, IAL_REMOTE, IAL_SELF_ASSERTED
from identity.clients.models import Client
from identity.oidc.authorize import (
    UNMET_ACR,
    UNMET_IDENTITY_LEVEL,
    SignInNeeded,
    Unmet,
    UnmetAuthenticationRequirementsError,
    assurance_step,
    needed_acr,
    parse_parameters,
)
from identity.sessions.service import SignedInSession

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
REDIRECT = "https://dept.example/cb"


@pytest.mark.parametrize(
    ("requested", "floor", "needed"),
    [
        (None, None, None),
        (ACR_MFA, None, ACR_MFA),
        (None, ACR_MFA, ACR_MFA),
        (ACR_BASIC, ACR_MFA, ACR_MFA),  # the floor is under whatever the request asks
        (ACR_DEVICE, ACR_MFA, ACR_DEVICE),
        (ACR_MFA, ACR_MFA, ACR_MFA),
        (ACR_BASIC, "urn:unknown", ACR_BASIC),
    ],
)
def test_min_acr_is_a_floor_under_the_requested_acr(requested, floor, needed):
    assert needed_acr(requested, floor) == needed


def client(min_identity_level=None, min_acr=None) -> Client:
    return Client(client_id="dept-1", min_identity_level=min_identity_level, min_acr=min_acr)


def session(acr=ACR_BASIC) -> SignedInSession:
    return SignedInSession("s1", "a1", NOW, acr, ("pwd",))


def decide(*, level=IAL_SELF_ASSERTED, acr=ACR_BASIC, floor=None, required=None, route=None, prompt=None):
    data = {"response_type": "code", **({"prompt": prompt} if prompt else {})}
    params = parse_parameters(data, REDIRECT)
    signed_in = session(acr)
    outcome = assurance_step(
        params,
        signed_in,
        client(min_identity_level=floor),
        lambda: level,
        required,
        lambda _acr: route,
        REDIRECT,
    )
    return signed_in, outcome


def test_a_resident_meeting_the_floors_goes_on():
    signed_in, outcome = decide(level=IAL_IN_PERSON, floor=IAL_REMOTE, acr=ACR_MFA, required=ACR_MFA)
    assert outcome is signed_in


def test_below_the_identity_floor_the_page_explains_and_no_step_up_is_tried():
    _, outcome = decide(level=IAL_REMOTE, floor=IAL_IN_PERSON, required=ACR_MFA, route="second_factor")
    assert outcome == Unmet(UNMET_IDENTITY_LEVEL, IAL_IN_PERSON, IAL_REMOTE)
    with pytest.raises(UnmetAuthenticationRequirementsError) as silent:
        decide(level=IAL_SELF_ASSERTED, floor=IAL_REMOTE, prompt="none")
    assert silent.value.error == "unmet_authentication_requirements" and silent.value.redirect_uri == REDIRECT


def test_below_the_acr_a_reachable_level_is_a_step_up_and_an_unreachable_one_the_page():
    assert decide(required=ACR_MFA, route="second_factor")[1] == SignInNeeded(ACR_MFA, force=False)
    assert decide(required=ACR_DEVICE, route="app")[1] == Unmet(UNMET_ACR, ACR_DEVICE, ACR_BASIC, app=True)
    assert decide(required=ACR_MFA, route=None)[1] == Unmet(UNMET_ACR, ACR_MFA, ACR_BASIC, app=False)


def test_silent_requests_get_the_error_at_once():
    with pytest.raises(InteractionRequiredError):
        decide(required=ACR_MFA, route="second_factor", prompt="none")
    with pytest.raises(UnmetAuthenticationRequirementsError):
        decide(required=ACR_DEVICE, route=None, prompt="none")
