"""What the hub reads from a userinfo release (OpenID Connect for Identity Assurance): only
verified_claims under the hk_egate trust framework, at a proofed level, count as verified."""

from __future__ import annotations

import pytest

from forms_hub.assurance import assurance_of, claims_request, level_satisfies
from tests.forms_hub.fake_provider import verified_claims

USERINFO = {"sub": "acct-1", "name": "CHAN Tai Man", "email": "chan@example.hk"}
CHECKED = {"name": "CHAN Tai Man", "birthdate": "1980-01-01", "hkid_number": "A123456(3)"}


def test_a_release_without_verified_claims_is_self_asserted():
    assurance = assurance_of(USERINFO)
    assert assurance.level == "self_asserted"
    assert assurance.verified_value("name") is None  # the ordinary claim never counts


def test_verified_claims_give_the_level_and_the_checked_values():
    element = verified_claims({"level": "remote"}, CHECKED)
    assurance = assurance_of({**USERINFO, "verified_claims": element})
    assert assurance.level == "remote"
    assert assurance.verified_value("hkid_number") == "A123456(3)"
    assert assurance.verified_value("email") is None  # never a verifiable claim
    assert assurance.verified_at == "2026-12-01T10:00:00Z"
    # an array of verified_claims (OIDC4IDA §5): the strongest usable element
    other = verified_claims({"level": "in_person", "trust_framework": "eidas"}, CHECKED)
    stronger = verified_claims({"level": "in_person"}, {"name": "CHAN Tai Man"})
    assert assurance_of({"verified_claims": [other, element, stronger]}).level == "in_person"
    assert assurance_of({"verified_claims": [other, element]}).level == "remote"


@pytest.mark.parametrize(
    "found",
    [
        verified_claims({"level": "in_person", "trust_framework": "eidas"}, CHECKED),
        verified_claims({"level": "self_asserted"}, CHECKED),
        verified_claims({"level": "substantial"}, CHECKED),
        {"verification": {"trust_framework": "hk_egate", "assurance_level": "in_person"}},
        {"verification": "hk_egate", "claims": CHECKED},
        {"claims": CHECKED},
        [None, 3, "x"],
        "verified",
        [],
    ],
)
def test_verified_claims_the_hub_cannot_rely_on_are_ignored(found):
    assurance = assurance_of({**USERINFO, "verified_claims": found})
    assert assurance.level == "self_asserted" and dict(assurance.claims) == {}


def test_values_of_the_wrong_type_inside_verified_claims_are_dropped():
    element = verified_claims({"level": "in_person"}, {"name": {"x": 1}, "birthdate": True, "gender": "male"})
    assert dict(assurance_of({"verified_claims": element}).claims) == {"gender": "male"}


def test_the_claims_request_asks_for_verifiable_claims_both_ways():
    assert claims_request(["name", "email"], with_level=False) == {
        "userinfo": {
            "name": None,
            "email": None,
            "verified_claims": {
                "verification": {"trust_framework": {"value": "hk_egate"}, "assurance_level": None},
                "claims": {"name": None},
            },
        }
    }
    assert claims_request(["email"], with_level=False) == {"userinfo": {"email": None}}
    level_only = claims_request([], with_level=True)["userinfo"]
    assert list(level_only) == ["verified_claims"]
    assert level_only["verified_claims"]["claims"] == {"name": None}  # never an empty claims element


def test_levels_are_ordered_weakest_first():
    assert level_satisfies("in_person", "remote") and level_satisfies("remote", "remote")
    assert not level_satisfies("self_asserted", "remote") and not level_satisfies("remote", "in_person")
    assert not level_satisfies(None, "remote") and not level_satisfies("bogus", "remote")
    assert level_satisfies(None, None) and level_satisfies(None, "self_asserted")
