"""The master key and the root secret under it: never committed, never logged.

Two levels (envelope encryption, NIST SP 800-57 Part 1 §6.1.1's key-wrapping keys):

* The **root secret** is what every service derives its keys from (:func:`kit.sealing.derive_key`:
  field encryption, blind indexes, pairwise subjects, signing-key sealing, the attachments'
  wrapping key, ...). It never changes, so nothing derived from it or sealed under it has to
  be rewritten when the master key changes. :func:`load_master_key` returns it (the name is
  kept from when the master key itself was the root).
* The **master key** only wraps the root secret: AES-256-GCM in the root key file
  (``EGATE_ROOT_KEY_FILE``, default ``<data_dir>/root.key``), which names the master key it
  is wrapped under by a fingerprint (:func:`master_key_id`). The master key comes from
  ``EGATE_MASTER_KEY`` or ``EGATE_MASTER_KEY_FILE``: one base64 key per line (or comma), the
  current one first, then previous ones that still open the root during a rotation.

Rotation (``egate master-key rotate``) makes a new master key, keeps the old one as previous
and rewraps the root under the new one: running processes hold the root already, processes
that start meanwhile open it with either key, so nothing stops. ``egate master-key retire``
then drops the previous keys. The first time a deployment runs with this scheme the root
secret is its master key's value at that moment, so every key derived before stays valid.

Defends against a copy of the data directory or a backup that lacks the master key (keep the
master key outside the data directory). It does not undo the leak of a master key that was
once the root (see the README: rotate the data keys as well).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from kit.sealing import FieldDecryptionError, derive_key, open_bytes, seal_bytes
from kit.settings import Settings, SettingsError

MASTER_KEY_BYTES = 32
_ROOT_FORMAT = "egate-root-v1"
_WRAP_PURPOSE = "root-key-wrap/v1"
_KEY_ID_RE = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, repr=False)
class MasterKeys:
    """The current master key and the previous ones still accepted (newest first)."""

    current: bytes
    previous: tuple[bytes, ...] = ()
    from_environment: bool = False

    def by_id(self, key_id: str) -> bytes | None:
        for key in (self.current, *self.previous):
            if hmac.compare_digest(master_key_id(key), key_id):
                return key
        return None

    @property
    def previous_ids(self) -> list[str]:
        return [master_key_id(key) for key in self.previous]


def master_key_id(key: bytes) -> str:
    """A fingerprint that names a master key without revealing it (HMAC keyed by the key)."""
    return hmac.new(key, b"egate master key id", hashlib.sha256).hexdigest()[:16]


def load_master_key(settings: Settings) -> bytes:
    """The root secret every service derives its keys from, unwrapped with the master key.

    On the first run the root is the current master key's value and its wrapped copy is
    written (owner-only); later runs unwrap that copy with the current or a previous key.

    Raises:
        SettingsError: no usable master key, or the root key file does not open with any.
    """
    keys = load_master_keys(settings)
    path = settings.effective_root_key_file
    if not path.exists():
        root = keys.current
        _write_private(path, _wrap(root, keys.current), exclusive=True)
    return _unwrap(_read_private(path, "EGATE_ROOT_KEY_FILE"), keys, path)


def load_master_keys(settings: Settings) -> MasterKeys:
    if settings.master_key:
        current, *previous = _decode_all(settings.master_key, "EGATE_MASTER_KEY")
        return MasterKeys(current, tuple(previous), from_environment=True)
    path = settings.effective_master_key_file
    if not path.exists():
        _generate(path)
    current, *previous = _decode_all(_read_private(path, "EGATE_MASTER_KEY_FILE"), "EGATE_MASTER_KEY_FILE")
    return MasterKeys(current, tuple(previous))


def root_wrapped_under(settings: Settings) -> str:
    """The id of the master key the root key file is wrapped under."""
    return _parse_root(_read_private(settings.effective_root_key_file, "EGATE_ROOT_KEY_FILE"))[0]


def rotate_master_key(settings: Settings) -> tuple[str, str]:
    """A new current master key in the key file, the old one kept as previous, the root
    rewrapped under the new one; (old id, new id).

    Raises:
        SettingsError: the keys come from EGATE_MASTER_KEY (the operator rotates those).
    """
    keys = load_master_keys(settings)
    if keys.from_environment:
        raise SettingsError(
            "EGATE_MASTER_KEY: the master key is set in the environment; put a new key first in it"
            " (comma-separated, the old one after it), restart, then run `egate master-key retire`"
        )
    root = load_master_key(settings)
    new = secrets.token_bytes(MASTER_KEY_BYTES)
    # The key file first: a crash before the root is rewrapped leaves the root under a key
    # that is still listed (as previous), so it still opens.
    _write_private(settings.effective_master_key_file, _encode_all((new, keys.current, *keys.previous)))
    _write_private(settings.effective_root_key_file, _wrap(root, new))
    return master_key_id(keys.current), master_key_id(new)


def retire_previous_master_keys(settings: Settings) -> list[str]:
    """Rewrap the root under the current master key (if it is not already) and drop the
    previous keys from the key file; the ids retired. With EGATE_MASTER_KEY the operator
    removes them from the environment."""
    keys = load_master_keys(settings)
    root = load_master_key(settings)
    if root_wrapped_under(settings) != master_key_id(keys.current):
        _write_private(settings.effective_root_key_file, _wrap(root, keys.current))
    if not keys.from_environment and keys.previous:
        _write_private(settings.effective_master_key_file, _encode_all((keys.current,)))
    return keys.previous_ids


def _wrap(root: bytes, master: bytes) -> str:
    key_id = master_key_id(master)
    sealed = seal_bytes(derive_key(master, _WRAP_PURPOSE), root, f"{_ROOT_FORMAT} {key_id}".encode())
    return f"{_ROOT_FORMAT} {key_id} {base64.b64encode(sealed).decode()}\n"


def _parse_root(text: str) -> tuple[str, bytes]:
    parts = text.split()
    if len(parts) != 3 or parts[0] != _ROOT_FORMAT or not _KEY_ID_RE.fullmatch(parts[1]):
        raise SettingsError("EGATE_ROOT_KEY_FILE: not a root key file")
    try:
        return parts[1], base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("EGATE_ROOT_KEY_FILE: not valid base64") from None


def _unwrap(text: str, keys: MasterKeys, path: Path) -> bytes:
    key_id, sealed = _parse_root(text)
    master = keys.by_id(key_id)
    if master is None:
        raise SettingsError(
            f"EGATE_ROOT_KEY_FILE: {path} is wrapped under master key {key_id}, which is neither"
            " the current nor a previous master key"
        )
    try:
        return open_bytes(derive_key(master, _WRAP_PURPOSE), sealed, f"{_ROOT_FORMAT} {key_id}".encode())
    except FieldDecryptionError:
        raise SettingsError(f"EGATE_ROOT_KEY_FILE: {path} does not open (altered?)") from None


def _generate(path: Path) -> None:
    # Exclusive: two processes starting together must not both write a different key.
    _write_private(path, _encode_all((secrets.token_bytes(MASTER_KEY_BYTES),)), exclusive=True)


def _write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Owner-only (0600), fsynced, atomic: a reader sees the old file or the new one, never
    half of one. ``exclusive``: keep the file another process wrote first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            try:
                os.link(temporary, path)  # fails if the file exists: the first writer wins
            except FileExistsError:
                return
        else:
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _read_private(path: Path, name: str) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(
                f"{name}: {path} is readable by group or others (mode {oct(mode & 0o777)});"
                " run: chmod 600 " + str(path)
            )
        return path.read_text()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path}: {exc.strerror}") from None


def _encode_all(keys: tuple[bytes, ...]) -> str:
    return "".join(base64.b64encode(key).decode() + "\n" for key in keys)


def _decode_all(text: str, name: str) -> list[bytes]:
    entries = [entry for entry in re.split(r"[\s,]+", text) if entry]
    if not entries:
        raise SettingsError(f"{name}: holds no key")
    return [_decode(entry, name) for entry in entries]


def _decode(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name}: not valid base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise SettingsError(f"{name}: must decode to {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key
