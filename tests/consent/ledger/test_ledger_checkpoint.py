"""Signed checkpoints: C2SP tlog-checkpoint body, signed-note envelope, vkeys."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    encode_body,
    key_id,
    parse_signed_checkpoint,
    public_key_from_vkey,
    public_key_to_vkey,
    sign_checkpoint,
    sign_note,
    verify_note,
    verify_signed_checkpoint,
)

ORIGIN = "egate.example.gov.hk/disclosure-ledger"
ROOT = hashlib.sha256(b"some root").digest()
CHECKPOINT = Checkpoint(ORIGIN, 1234, ROOT, 1_740_000_000)

# golang.org/x/mod/sumdb/note's documented example: an independent implementation's
# key, note and signature, reproduced byte for byte.
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUg"
    "YN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def go_private_key() -> Ed25519PrivateKey:
    seed = base64.b64decode(GO_SIGNER_KEY.split("+", 4)[4])
    assert seed[0] == 1
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_go_note_vector_signs_and_verifies_byte_for_byte() -> None:
    private_key = go_private_key()
    assert public_key_to_vkey("PeterNeumann", private_key.public_key()) == GO_VKEY
    assert sign_note(GO_TEXT, private_key, "PeterNeumann") == GO_NOTE
    verifier = public_key_from_vkey(GO_VKEY)
    assert verify_note(GO_NOTE, verifier.public_key, verifier.key_name) == GO_TEXT


def test_body_is_the_tlog_checkpoint_text() -> None:
    assert encode_body(CHECKPOINT) == (
        f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\ntime 1740000000\n"
    )


def test_signed_checkpoint_shape_and_round_trip(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(CHECKPOINT, key, ORIGIN)
    body, blank, signature_line, end = note.rsplit("\n", 3)
    assert (blank, end) == ("", "")
    assert body + "\n" == encode_body(CHECKPOINT)
    name, blob = signature_line.removeprefix("\u2014 ").split(" ")
    raw = base64.b64decode(blob)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert name == ORIGIN
    assert raw[:4] == hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public).digest()[:4]
    key.public_key().verify(raw[4:], encode_body(CHECKPOINT).encode())

    assert verify_signed_checkpoint(note, key.public_key(), ORIGIN) == CHECKPOINT
    assert verify_signed_checkpoint(note, key.public_key(), None) == CHECKPOINT
    parsed, signatures = parse_signed_checkpoint(note)
    assert parsed == CHECKPOINT
    assert [(s.key_name, s.key_id) for s in signatures] == [(ORIGIN, key_id(ORIGIN, key.public_key()))]


def test_vkey_round_trip(key: Ed25519PrivateKey) -> None:
    vkey = public_key_to_vkey(ORIGIN, key.public_key())
    name, id_hex, encoded = vkey.split("+", 2)
    assert (name, len(id_hex)) == (ORIGIN, 8)
    assert base64.b64decode(encoded)[0] == 1
    parsed = public_key_from_vkey(vkey)
    assert parsed.key_name == ORIGIN
    assert parsed.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw) == key.public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda v: v.replace("+", "-", 1),
        lambda v: v.split("+")[0] + "+00000000+" + v.split("+", 2)[2],
        lambda v: "other" + v,
        lambda v: v[:-4],
        lambda v: v.rsplit("+", 1)[0] + "+" + base64.b64encode(b"\x02" + b"k" * 32).decode(),
    ],
)
def test_mangled_vkeys_are_rejected(key: Ed25519PrivateKey, mangle) -> None:
    with pytest.raises(CheckpointError):
        public_key_from_vkey(mangle(public_key_to_vkey("log.example", key.public_key())))


def test_altered_checkpoint_fails_signature(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(CHECKPOINT, key, ORIGIN)
    forged = note.replace("\n1234\n", "\n1235\n")
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_signed_checkpoint(forged, key.public_key(), ORIGIN)


def test_signature_by_another_key_is_not_accepted(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(CHECKPOINT, Ed25519PrivateKey.generate(), ORIGIN)
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_signed_checkpoint(note, key.public_key(), ORIGIN)
    with pytest.raises(CheckpointError, match="not signed by"):
        verify_signed_checkpoint(note, key.public_key(), None)


def test_unknown_signatures_are_ignored_but_a_bad_known_one_fails(key: Ed25519PrivateKey) -> None:
    note = sign_checkpoint(CHECKPOINT, key, ORIGIN)
    witness = sign_checkpoint(CHECKPOINT, Ed25519PrivateKey.generate(), "witness.example")
    cosigned = note + witness.rsplit("\n\n", 1)[1]
    assert verify_signed_checkpoint(cosigned, key.public_key(), ORIGIN) == CHECKPOINT
    # Same name and key ID as the real key, but a garbage signature: reject the note.
    line = note.rsplit("\n\n", 1)[1]
    blob = base64.b64decode(line.split(" ")[2])
    bad_line = f"\u2014 {ORIGIN} {base64.b64encode(blob[:4] + bytes(64)).decode()}\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_signed_checkpoint(note + bad_line, key.public_key(), ORIGIN)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no signature block\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n\n- {ORIGIN} AAAA\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n\n\u2014 {ORIGIN} !!!\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n\n\u2014 {ORIGIN} QUJD",
        f"{ORIGIN}\x07\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n\n\u2014 {ORIGIN} QUJDREVG\n",
    ],
)
def test_malformed_notes_are_rejected(key: Ed25519PrivateKey, text: str) -> None:
    with pytest.raises(CheckpointError):
        verify_signed_checkpoint(text, key.public_key(), ORIGIN)


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n01\n{base64.b64encode(ROOT).decode()}\ntime 1\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\ntime 1\n",
        f"{ORIGIN}\n\u0661\n{base64.b64encode(ROOT).decode()}\ntime 1\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\ntime 1\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime x\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\nextra\n",
        f"\n1\n{base64.b64encode(ROOT).decode()}\ntime 1\n",
    ],
)
def test_signed_but_malformed_bodies_are_rejected(key: Ed25519PrivateKey, body: str) -> None:
    with pytest.raises(CheckpointError):
        verify_signed_checkpoint(sign_note(body, key, ORIGIN), key.public_key(), ORIGIN)


def test_invalid_checkpoints_cannot_be_signed(key: Ed25519PrivateKey) -> None:
    with pytest.raises(CheckpointError):
        sign_checkpoint(Checkpoint("two\nlines", 1, ROOT, 1), key, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT[:16], 1), key, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(CHECKPOINT, key, "has space")
