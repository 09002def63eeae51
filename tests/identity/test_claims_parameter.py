"""The ``claims`` parameter's shape (OIDC Core §5.5): one validator, a table of bad shapes."""

import json

import pytest
from authlib.oauth2.base import invalid_error_characters

from identity.claims_parameter import MalformedClaimsRequest, parse_claims_parameter

MALFORMED = {
    "not JSON": "{id_token",
    "an array": "[]",
    "a string": '"id_token"',
    "a number": "5",
    "null": "null",
    "id_token not an object": {"id_token": ["acr"]},
    "userinfo a string": {"userinfo": "email"},
    "userinfo null": {"userinfo": None},
    "claim request a string": {"id_token": {"email": "yes"}},
    "claim request an array": {"userinfo": {"email": [True]}},
    "claim request a number": {"id_token": {"birthdate": 1}},
    "essential a string": {"id_token": {"email": {"essential": "true"}}},
    "essential a number": {"userinfo": {"email": {"essential": 1}}},
    "essential null": {"userinfo": {"email": {"essential": None}}},
    "values a number (F3)": {"id_token": {"acr": {"essential": True, "values": 5}}},
    "values a string": {"userinfo": {"gender": {"values": "male"}}},
    "values an object": {"userinfo": {"gender": {"values": {"a": 1}}}},
    "acr values not strings": {"id_token": {"acr": {"values": [1, 2]}}},
    "acr value not a string": {"id_token": {"acr": {"value": ["urn:a"]}}},
    "acr value null": {"id_token": {"acr": {"essential": True, "value": None}}},
    "verified_claims a string": {"userinfo": {"verified_claims": "all"}},
    "verified_claims an empty array": {"id_token": {"verified_claims": []}},
    "verified_claims array of non-objects": {"userinfo": {"verified_claims": [{"claims": {}}, 3]}},
    "a claim name with quotes and CJK": {"id_token": {'na"me\\姓名': {"essential": "x"}}},
}

WELL_FORMED = {
    "empty object": ({}, {}),
    "null and empty requests": (
        {"userinfo": {"email": None}, "id_token": {}},
        {"userinfo": {"email": None}, "id_token": {}},
    ),
    "essential, value, values": (
        {"id_token": {"acr": {"essential": True, "values": ["urn:a", "urn:b"]}, "gender": {"value": "male"}}},
        {"id_token": {"acr": {"essential": True, "values": ["urn:a", "urn:b"]}, "gender": {"value": "male"}}},
    ),
    "unknown top-level members ignored": (
        {"id_token": {"email": None}, "frobnicate": 5, "access_token": "x"},
        {"id_token": {"email": None}},
    ),
    "extension members of a claim request kept": (
        {"userinfo": {"email": {"essential": False, "purpose": "to write to you"}}},
        {"userinfo": {"email": {"essential": False, "purpose": "to write to you"}}},
    ),
    "verified_claims object or array": (
        {"userinfo": {"verified_claims": {"claims": {}}}, "id_token": {"verified_claims": [{"claims": {}}]}},
        {"userinfo": {"verified_claims": {"claims": {}}}, "id_token": {"verified_claims": [{"claims": {}}]}},
    ),
}


def _text(value):
    return value if isinstance(value, str) else json.dumps(value)


@pytest.mark.parametrize("shape", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_shapes_are_refused(shape):
    with pytest.raises(MalformedClaimsRequest) as refused:
        parse_claims_parameter(_text(shape))
    # The message becomes the OAuth error_description: only the characters RFC 6749 allows.
    assert not invalid_error_characters(str(refused.value))


@pytest.mark.parametrize(("shape", "parsed"), list(WELL_FORMED.values()), ids=list(WELL_FORMED))
def test_well_formed_requests_are_kept(shape, parsed):
    assert parse_claims_parameter(_text(shape)) == parsed
