"""The ``claims`` parameter's shape (OIDC Core §5.5): one validator, a table of bad shapes."""

import json

import pytest
from authlib.oauth2.base import invalid_error_characters

from identity.claims_parameter import MalformedClaimsRequest, parse_claims_parameter

VERIFIED = {"verification": {"trust_framework": None}, "claims": {"name": None}}
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
    # OpenID Connect for Identity Assurance 1.0 §5.2-5.4.
    "verified_claims without verification": {"userinfo": {"verified_claims": {"claims": {"name": None}}}},
    "verification not an object": {
        "id_token": {"verified_claims": {"verification": "hk_egate", "claims": {"name": None}}}
    },
    "verification without trust_framework": {
        "userinfo": {"verified_claims": {"verification": {"assurance_level": None}, "claims": {"name": None}}}
    },
    "verified claims missing": {"userinfo": {"verified_claims": {"verification": {"trust_framework": None}}}},
    "verified claims empty": {
        "userinfo": {"verified_claims": {"verification": {"trust_framework": None}, "claims": {}}}
    },
    "verified claims an array": {
        "userinfo": {"verified_claims": {"verification": {"trust_framework": None}, "claims": ["name"]}}
    },
    "a verified claim request a string": {
        "id_token": {"verified_claims": [VERIFIED, {**VERIFIED, "claims": {"name": "yes"}}]}
    },
    "trust_framework values a string": {
        "userinfo": {
            "verified_claims": {**VERIFIED, "verification": {"trust_framework": {"values": "hk_egate"}}}
        }
    },
    "assurance_level a string": {
        "userinfo": {
            "verified_claims": {
                **VERIFIED,
                "verification": {"trust_framework": None, "assurance_level": "high"},
            }
        }
    },
    "evidence an object": {
        "userinfo": {
            "verified_claims": {**VERIFIED, "verification": {"trust_framework": None, "evidence": {}}}
        }
    },
    "evidence type with values": {
        "userinfo": {
            "verified_claims": {
                **VERIFIED,
                "verification": {"trust_framework": None, "evidence": [{"type": {"values": ["document"]}}]},
            }
        }
    },
    "check_details not an array": {
        "userinfo": {
            "verified_claims": {
                **VERIFIED,
                "verification": {
                    "trust_framework": None,
                    "evidence": [{"type": {"value": "document"}, "check_details": {"check_method": None}}],
                },
            }
        }
    },
    "max_age negative": {
        "userinfo": {
            "verified_claims": {
                **VERIFIED,
                "verification": {"trust_framework": None, "time": {"max_age": -1}},
            }
        }
    },
    "max_age a string": {
        "userinfo": {
            "verified_claims": {
                **VERIFIED,
                "verification": {"trust_framework": None, "time": {"max_age": "1d"}},
            }
        }
    },
    "purpose too short": {
        "userinfo": {"verified_claims": {**VERIFIED, "claims": {"name": {"purpose": "id"}}}}
    },
    "purpose too long": {
        "userinfo": {"verified_claims": {**VERIFIED, "claims": {"name": {"purpose": "x" * 301}}}}
    },
    "a verified claim name with quotes": {
        "userinfo": {"verified_claims": {**VERIFIED, "claims": {'na"me': {"essential": "x"}}}}
    },
    "a claim name with quotes and CJK": {"id_token": {'na"me\\姓名': {"essential": "x"}}},
}

FULL_VERIFIED_REQUEST = {
    "id_token": {
        "verified_claims": {
            "verification": {
                "trust_framework": {"value": "hk_egate"},
                "assurance_level": {"values": ["remote", "in_person"]},
                "time": {"max_age": 31536000},
                "verification_process": None,
                "evidence": [
                    {
                        "type": {"value": "document"},
                        "check_details": [
                            {"check_method": {"values": ["vpip", "vri"]}, "organization": None}
                        ],
                        "document_details": {"type": {"value": "idcard"}, "issuer": None},
                    }
                ],
            },
            "claims": {
                "name": {"essential": True, "purpose": "To address you correctly"},
                "birthdate": {"max_age": 3600},
                "hkid_number": None,
            },
        }
    }
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
        {"userinfo": {"verified_claims": VERIFIED}, "id_token": {"verified_claims": [VERIFIED, VERIFIED]}},
        {"userinfo": {"verified_claims": VERIFIED}, "id_token": {"verified_claims": [VERIFIED, VERIFIED]}},
    ),
    "verified_claims with constraints, evidence filters and purposes": (
        FULL_VERIFIED_REQUEST,
        FULL_VERIFIED_REQUEST,
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
