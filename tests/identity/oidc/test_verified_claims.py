"""Which ``verified_claims`` a request receives (OpenID Connect for Identity Assurance 1.0
§5.2-5.6): the verification template narrows and constrains, the claims are the checked
snapshot's, and anything unmet omits rather than fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity.claims import requested_claims, verified_field
from identity.oidc.verified_claims import releasable_fields, released
from identity.proofing.verified import Verification

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
CHECKED = {"name": "CHAN, Tai-man", "birthdate": "1980-05-17", "hkid_number": "A123456(3)"}
IN_PERSON = Verification(
    proofing_id="p1",
    level="in_person",
    check_method="vpip",
    document_type="idcard",
    verified_at=NOW - timedelta(days=30),
    organization="eGate Registration Office",
    claims=CHECKED,
)
ALL_GRANTED = [verified_field(name) for name in CHECKED]


def request(verification=None, claims=None):
    return {
        "verification": {"trust_framework": None} if verification is None else verification,
        "claims": {"name": None, "birthdate": None} if claims is None else claims,
    }


def test_only_the_members_asked_for_come_and_trust_framework_always():
    element, fields = released({"verified_claims": request()}, IN_PERSON, ALL_GRANTED, NOW)
    assert element == {
        "verification": {"trust_framework": "hk_egate"},
        "claims": {"name": "CHAN, Tai-man", "birthdate": "1980-05-17"},
    }
    assert fields == ["verified_claims.birthdate", "verified_claims.name"]


def test_the_full_verification_element_narrowed_to_the_requested_evidence():
    template = {
        "trust_framework": {"value": "hk_egate"},
        "assurance_level": {"values": ["remote", "in_person"]},
        "time": {"max_age": 90 * 86400},
        "verification_process": None,
        "evidence": [
            {
                "type": {"value": "document"},
                "check_details": [{"check_method": {"value": "vpip"}, "organization": None}],
                "document_details": {"type": None},
            }
        ],
    }
    element, _ = released(
        {"verified_claims": request(template, {"hkid_number": None})}, IN_PERSON, ALL_GRANTED, NOW
    )
    assert element["verification"] == {
        "trust_framework": "hk_egate",
        "assurance_level": "in_person",
        "time": "2025-01-30T09:00:00Z",
        "verification_process": "p1",
        "evidence": [
            {
                "type": "document",
                "check_details": [{"check_method": "vpip", "organization": "eGate Registration Office"}],
                "document_details": {"type": "idcard"},
            }
        ],
    }
    assert element["claims"] == {"hkid_number": "A123456(3)"}


@pytest.mark.parametrize(
    "template",
    [
        {"trust_framework": {"value": "eidas"}},
        {"trust_framework": {"values": ["de_aml", "uk_tfida"]}},
        {"trust_framework": None, "assurance_level": {"value": "remote"}},
        {"trust_framework": None, "time": {"max_age": 86400}},  # checked 30 days ago
        {"trust_framework": None, "evidence": [{"type": {"value": "electronic_record"}}]},
        {
            "trust_framework": None,
            "evidence": [
                {"type": {"value": "document"}, "check_details": [{"check_method": {"value": "vri"}}]}
            ],
        },
        {
            "trust_framework": None,
            "evidence": [
                {"type": {"value": "document"}, "document_details": {"type": {"value": "passport"}}}
            ],
        },
        {"trust_framework": None, "txn": {"value": "x"}},  # a member we do not have, constrained
    ],
    ids=[
        "other trust framework",
        "none of the trust frameworks",
        "another assurance level",
        "verified too long ago",
        "another evidence type",
        "another check method",
        "another document",
        "a constrained member we lack",
    ],
)
def test_a_verification_constraint_not_met_omits_the_whole_element(template):
    assert released({"verified_claims": request(template)}, IN_PERSON, ALL_GRANTED, NOW) == (None, [])


def test_evidence_filters_are_ored():
    template = {
        "trust_framework": None,
        "evidence": [{"type": {"value": "electronic_record"}}, {"type": {"value": "document"}}],
    }
    element, _ = released({"verified_claims": request(template)}, IN_PERSON, ALL_GRANTED, NOW)
    assert element["verification"]["evidence"] == [{"type": "document"}]


def test_a_claim_missing_its_own_constraint_is_omitted_alone():
    claims = {"name": {"value": "SOMEONE ELSE"}, "birthdate": {"max_age": 50 * 365 * 86400}, "gender": None}
    element, fields = released({"verified_claims": request(claims=claims)}, IN_PERSON, ALL_GRANTED, NOW)
    assert element["claims"] == {"birthdate": "1980-05-17"}  # gender was never checked
    assert fields == ["verified_claims.birthdate"]
    too_young = {"birthdate": {"max_age": 40 * 365 * 86400}}
    assert released({"verified_claims": request(claims=too_young)}, IN_PERSON, ALL_GRANTED, NOW) == (None, [])


def test_only_released_fields_and_never_without_a_verification():
    section = {"verified_claims": request()}
    element, fields = released(section, IN_PERSON, ["verified_claims.name", "birthdate"], NOW)
    assert element["claims"] == {"name": "CHAN, Tai-man"} and fields == ["verified_claims.name"]
    assert released(section, IN_PERSON, ["name", "birthdate"], NOW) == (None, [])
    assert released(section, None, ALL_GRANTED, NOW) == (None, [])  # self-asserted
    essential = {"verified_claims": request(claims={"name": {"essential": True}})}
    assert released(essential, None, ALL_GRANTED, NOW) == (None, [])


def test_an_array_answers_an_array_of_the_elements_that_could_be_met():
    section = {
        "verified_claims": [
            request({"trust_framework": {"value": "eidas"}}, {"name": None}),
            request({"trust_framework": None, "assurance_level": None}, {"birthdate": None}),
        ]
    }
    element, fields = released(section, IN_PERSON, ALL_GRANTED, NOW)
    assert element == [
        {
            "verification": {"trust_framework": "hk_egate", "assurance_level": "in_person"},
            "claims": {"birthdate": "1980-05-17"},
        }
    ]
    assert fields == ["verified_claims.birthdate"]


def test_consent_asks_only_for_what_the_verification_can_answer():
    claims_request = {
        "userinfo": {"verified_claims": request(claims={"name": None, "gender": None})},
        "id_token": {
            "verified_claims": request(
                {"trust_framework": None, "assurance_level": {"value": "remote"}}, {"birthdate": None}
            ),
            "email": None,
        },
    }
    names = requested_claims("openid", claims_request, ["openid", "profile"])
    assert names == ["verified_claims.name", "verified_claims.birthdate", "verified_claims.gender"]
    assert releasable_fields(claims_request, IN_PERSON, names, NOW) == {"verified_claims.name"}
    assert releasable_fields(claims_request, None, names, NOW) == set()


def test_requested_verified_claims_are_limited_by_the_registered_scopes():
    claims_request = {"id_token": {"verified_claims": request(claims={"name": None, "hkid_number": None})}}
    assert requested_claims("openid", claims_request, ["openid", "profile"]) == ["verified_claims.name"]
    assert requested_claims("openid", claims_request, ["openid", "profile", "hkid"]) == [
        "verified_claims.name",
        "verified_claims.hkid_number",
    ]
