"""Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed-note envelopes, Ed25519.

A checkpoint commits the service to the ledger's tree head (RFC 9162 §2.1.1 root at a
size). Its note text is::

    <origin>
    <tree size, decimal>
    <base64 root hash>
    time <unix seconds>

followed by a blank line and one ``— <key name> <base64(key ID || signature)>`` line per
signature (c2sp.org/signed-note). Auditors get the verifier key as one ``vkey`` string,
``<key name>+<hex key ID>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from consent.ledger.rfc9162 import HASH_SIZE

ED25519_SIGNATURE_TYPE = b"\x01"
SIGNATURE_PREFIX = "\u2014 "
# signed-note requires accepting at least 16; the bound only stops absurd inputs.
MAX_SIGNATURES = 100

# Bounded so that int() never meets an absurdly long number.
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_TIME_LINE = re.compile(r"time (0|[1-9][0-9]{0,19})")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(ValueError):
    """A checkpoint is malformed, unsigned by the expected key, or its signature fails."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: int


class NoteSignature(NamedTuple):
    key_name: str
    key_id: bytes
    signature: bytes


class VerifierKey(NamedTuple):
    key_name: str
    public_key: Ed25519PublicKey


def key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || public key)[:4] — signed-note, Ed25519."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(key_name.encode() + b"\n" + ED25519_SIGNATURE_TYPE + raw).digest()[:4]


def encode_body(cp: Checkpoint) -> str:
    """The note text of a checkpoint (c2sp.org/tlog-checkpoint), final newline included."""
    if not cp.origin or _CONTROL.search(cp.origin) or "\n" in cp.origin:
        raise CheckpointError("origin must be a non-empty single line without control characters")
    if cp.tree_size < 0 or cp.timestamp < 0:
        raise CheckpointError("tree size and time must not be negative")
    if len(cp.root_hash) != HASH_SIZE:
        raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
    root = base64.b64encode(cp.root_hash).decode()
    return f"{cp.origin}\n{cp.tree_size}\n{root}\ntime {cp.timestamp}\n"


def parse_body(text: str) -> Checkpoint:
    """Parse note text produced by :func:`encode_body`; reject anything else."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) != 4:
        raise CheckpointError(
            f"checkpoint text must have 4 lines (origin, tree size, root hash, time), got {len(lines)}"
        )
    origin, size_line, root_line, time_line = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size_line):
        raise CheckpointError(f"checkpoint tree size {size_line[:24]!r} is not a decimal number")
    try:
        root_hash = base64.b64decode(root_line, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError("checkpoint root hash is not valid base64") from None
    if len(root_hash) != HASH_SIZE or base64.b64encode(root_hash).decode() != root_line:
        raise CheckpointError(f"checkpoint root hash must be {HASH_SIZE} bytes in base64")
    time_match = _TIME_LINE.fullmatch(time_line)
    if not time_match:
        raise CheckpointError("checkpoint's fourth line must be 'time <unix seconds>'")
    return Checkpoint(origin, int(size_line), root_hash, int(time_match.group(1)))


def _check_key_name(key_name: str) -> None:
    if not key_name or any(c.isspace() or c == "+" for c in key_name):
        raise CheckpointError(f"key name {key_name!r} must be non-empty, without spaces or '+'")


def sign_note(text: str, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """Sign ``text`` (ending in a newline) as a c2sp.org/signed-note with one Ed25519 line."""
    _check_key_name(key_name)
    if not text.endswith("\n") or _CONTROL.search(text):
        raise CheckpointError("note text must end with a newline and hold no control characters")
    signature = private_key.sign(text.encode())
    blob = base64.b64encode(key_id(key_name, private_key.public_key()) + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{key_name} {blob}\n"


def sign_checkpoint(cp: Checkpoint, private_key: Ed25519PrivateKey, key_name: str) -> str:
    """The signed note: body, blank line, one Ed25519 signature line (c2sp.org/signed-note)."""
    return sign_note(encode_body(cp), private_key, key_name)


def _split_note(text: str) -> tuple[str, list[NoteSignature]]:
    if _CONTROL.search(text):
        raise CheckpointError("signed note contains control characters")
    if not text.endswith("\n"):
        raise CheckpointError("signed note must end with a newline")
    separator = text.rfind("\n\n")
    if separator < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    body, signature_block = text[: separator + 1], text[separator + 2 : -1]
    if not signature_block:
        raise CheckpointError("signed note has no signature lines")
    lines = signature_block.split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(f"signed note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise CheckpointError(f"malformed signature line {line[:40]!r}")
        name, _, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except (binascii.Error, ValueError):
            raise CheckpointError(f"signature by {name!r} is not valid base64") from None
        if not name or " " in blob or len(raw) < 5:
            raise CheckpointError(f"malformed signature line for {name!r}")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return body, signatures


def parse_signed_checkpoint(text: str) -> tuple[Checkpoint, list[NoteSignature]]:
    """Split and parse a signed checkpoint WITHOUT checking any signature."""
    body, signatures = _split_note(text)
    return parse_body(body), signatures


def verify_note(note: str, public_key: Ed25519PublicKey, key_name: str | None) -> str:
    """Return the note text if ``public_key`` signed it, else raise :class:`CheckpointError`.

    Per signed-note, only signatures whose key name AND key ID match the given key count;
    others (witnesses, rotated keys) are ignored. ``key_name=None`` trusts whatever name a
    signature line carries, provided its key ID derives from that name and this key.
    Every matching signature must verify, so a forged line next to a good one fails.
    """
    text, signatures = _split_note(note)
    matching = [
        s for s in signatures if key_name in (None, s.key_name) and s.key_id == key_id(s.key_name, public_key)
    ]
    if not matching:
        found = ", ".join(sorted({repr(s.key_name) for s in signatures}))
        expected = repr(key_name) if key_name is not None else "the given key"
        raise CheckpointError(f"not signed by {expected} (signed by: {found})")
    payload = text.encode()
    for signature in matching:
        try:
            public_key.verify(signature.signature, payload)
        except InvalidSignature:
            raise CheckpointError(
                f"signature by {signature.key_name!r} does not verify:"
                " the checkpoint text was altered or the signature forged"
            ) from None
    return text


def verify_signed_checkpoint(text: str, public_key: Ed25519PublicKey, key_name: str | None) -> Checkpoint:
    """Verify the signature (see :func:`verify_note`), then parse the checkpoint body."""
    return parse_body(verify_note(text, public_key, key_name))


def public_key_to_vkey(key_name: str, public_key: Ed25519PublicKey) -> str:
    """``<name>+<hex key ID>+<base64(0x01 || key)>``, the note verifier key encoding."""
    _check_key_name(key_name)
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.b64encode(ED25519_SIGNATURE_TYPE + raw).decode()
    return f"{key_name}+{key_id(key_name, public_key).hex()}+{encoded}"


def public_key_from_vkey(vkey: str) -> VerifierKey:
    """Parse a vkey, checking its key ID against the name and key it carries."""
    # The name cannot contain '+', but base64 can: split from the left only.
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError("vkey must be '<name>+<key id>+<base64 key>'")
    key_name, id_hex, encoded = parts
    _check_key_name(key_name)
    try:
        raw = base64.b64decode(encoded, validate=True)
        claimed_id = bytes.fromhex(id_hex)
    except (binascii.Error, ValueError):
        raise CheckpointError("vkey key ID or key is not well encoded") from None
    if len(claimed_id) != 4 or len(raw) != 33 or raw[:1] != ED25519_SIGNATURE_TYPE:
        raise CheckpointError("vkey is not an Ed25519 note verifier key")
    try:
        public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise CheckpointError("vkey holds an invalid Ed25519 public key") from None
    if key_id(key_name, public_key) != claimed_id:
        raise CheckpointError("vkey key ID does not match its name and key")
    return VerifierKey(key_name, public_key)
