"""The time-stamping authority (no database): tokens openssl verifies, and RFC 3161 refusals
for what it does not stamp. One CA and TSA for the module."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from asn1crypto import tsp
from cryptography.hazmat.primitives.serialization import Encoding

from identity.signing import certificates, rfc3161
from identity.signing.certificates import Endpoints
from tests.identity.signing.factories import openssl

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def unit() -> rfc3161.TimeStampingUnit:
    ca_key, tsa_key = certificates.new_key(), certificates.new_key()
    ca = certificates.create_root(ca_key, "Test CA", "Tests", NOW)
    tsa = certificates.create_tsa(tsa_key, "Test TSA", "Tests", NOW, ca, ca_key, Endpoints.under("http://t"))
    return rfc3161.TimeStampingUnit(tsa, tsa_key, (ca,))


def query(digest: bytes, algorithm: str = "sha256", **extra: object) -> bytes:
    fields = {
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest},
        **extra,
    }
    return bytes(tsp.TimeStampReq(fields).dump())


def test_a_granted_token_is_what_openssl_verifies(unit, tmp_path):
    data = b"what was stamped"
    request = query(hashlib.sha256(data).digest(), nonce=424242, cert_req=True)
    (tmp_path / "q.tsq").write_bytes(request)
    (tmp_path / "r.tsr").write_bytes(rfc3161.respond(unit, request, NOW))
    (tmp_path / "ca.pem").write_bytes(unit.chain[0].public_bytes(Encoding.PEM))
    verified = openssl(
        "ts",
        "-verify",
        "-in",
        tmp_path / "r.tsr",
        "-queryfile",
        tmp_path / "q.tsq",
        "-CAfile",
        tmp_path / "ca.pem",
    )
    assert b"Verification: OK" in verified.stdout, verified.stderr
    info = tsp.TimeStampResp.load((tmp_path / "r.tsr").read_bytes())["time_stamp_token"]["content"]
    tst = info["encap_content_info"]["content"].parsed
    assert tst["nonce"].native == 424242 and tst["policy"].native == rfc3161.POLICY
    assert tst["gen_time"].native == NOW
    assert len(info["certificates"]) == 2

    without = tsp.TimeStampResp.load(rfc3161.respond(unit, query(hashlib.sha256(data).digest()), NOW))
    assert len(without["time_stamp_token"]["content"]["certificates"]) == 0  # certReq absent


@pytest.mark.parametrize(
    ("request_bytes", "failure"),
    [
        (query(hashlib.md5(b"x").digest(), "md5"), "bad_alg"),  # noqa: S324 - refused on purpose
        (query(b"short"), "bad_data_format"),
        (query(hashlib.sha256(b"x").digest(), req_policy="1.2.3.4"), "unaccepted_policy"),
        (b"\x30\x03\x02\x01", "bad_data_format"),
        (b"", "bad_request"),
    ],
    ids=["md5", "wrong-length", "other-policy", "truncated", "empty"],
)
def test_what_it_does_not_stamp_is_refused_as_rfc_3161_says(unit, request_bytes, failure):
    answer = rfc3161.respond(unit, request_bytes, NOW)
    status = tsp.PKIStatusInfo.load(answer[2:])  # a SEQUENCE holding only the status
    assert answer[0] == 0x30 and answer[1] == len(answer) - 2
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {failure}
