"""The master secret: generated once into the data directory, never committed, never logged."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from kit.settings import Settings, SettingsError

MASTER_KEY_BYTES = 32


def load_master_key(settings: Settings) -> bytes:
    if settings.master_key:
        return _decode(settings.master_key, "EGATE_MASTER_KEY")
    path = settings.effective_master_key_file
    if not path.exists():
        return _generate(path)
    return _read_private_file(path)


def _generate(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(MASTER_KEY_BYTES)
    # O_EXCL: two processes starting together must not both write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_private_file(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


def _read_private_file(path: Path) -> bytes:
    name = "EGATE_MASTER_KEY_FILE"
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SettingsError(
                f"{name}: {path} is readable by group or others (mode {oct(mode & 0o777)});"
                " run: chmod 600 " + str(path)
            )
        text = path.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{name}: cannot read {path}: {exc.strerror}") from None
    return _decode(text, name)


def _decode(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(f"{name}: not valid base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise SettingsError(f"{name}: must decode to {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key
