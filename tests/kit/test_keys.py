"""kit.keys: the root secret wrapped under a rotatable master key; files owner-only."""

from __future__ import annotations

import base64
import secrets
import stat

import pytest

from kit.keys import (
    load_master_key,
    load_master_keys,
    master_key_id,
    retire_previous_master_keys,
    root_wrapped_under,
    rotate_master_key,
)
from kit.settings import SettingsError, load_settings


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_installation_writes_both_key_files_owner_only(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data")
    root = load_master_key(settings)
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "master.key") == 0o600 and mode(tmp_path / "data" / "root.key") == 0o600
    master = load_master_keys(settings).current
    assert root == master  # the first root is the master key's value: nothing derived before changes
    assert base64.b64encode(root) not in (tmp_path / "data" / "root.key").read_bytes()
    assert load_master_key(settings) == root


def test_rotation_keeps_the_root_and_both_keys_open_it_until_retired(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    root = load_master_key(settings)
    old_key = (tmp_path / "master.key").read_text()
    old_id, new_id = rotate_master_key(settings)
    assert old_id != new_id and root_wrapped_under(settings) == new_id
    assert load_master_key(settings) == root
    keys = load_master_keys(settings)
    assert master_key_id(keys.current) == new_id and keys.previous_ids == [old_id]
    assert mode(tmp_path / "master.key") == 0o600 and mode(tmp_path / "root.key") == 0o600
    # A replica still holding only the old key file opens the root file it has (under the old key).
    replica = tmp_path / "replica"
    replica.mkdir(mode=0o700)
    (replica / "master.key").write_text(old_key)
    (replica / "master.key").chmod(0o600)
    assert load_master_key(load_settings(data_dir=replica)) == root

    assert retire_previous_master_keys(settings) == [old_id]
    assert load_master_keys(settings).previous == () and load_master_key(settings) == root
    (replica / "root.key").write_bytes((tmp_path / "root.key").read_bytes())
    with pytest.raises(SettingsError, match="neither the current nor a previous master key"):
        load_master_key(load_settings(data_dir=replica))  # the old key no longer opens the root


def test_a_crash_between_the_key_file_and_the_root_file_still_opens(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    root = load_master_key(settings)
    wrapped_before = (tmp_path / "root.key").read_bytes()
    rotate_master_key(settings)
    (tmp_path / "root.key").write_bytes(wrapped_before)  # as if the rewrap never happened
    assert load_master_key(settings) == root
    retire_previous_master_keys(settings)  # rewraps first, then forgets the old key
    assert load_master_key(settings) == root


def test_keys_from_the_environment_rotate_by_the_operator(tmp_path):
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    b64 = base64.b64encode
    settings = load_settings(data_dir=tmp_path, master_key=b64(old).decode())
    root = load_master_key(settings)
    with pytest.raises(SettingsError, match="^EGATE_MASTER_KEY: .*environment"):
        rotate_master_key(settings)
    both = load_settings(data_dir=tmp_path, master_key=f"{b64(new).decode()},{b64(old).decode()}")
    assert load_master_key(both) == root
    assert retire_previous_master_keys(both) == [master_key_id(old)]
    assert load_master_key(load_settings(data_dir=tmp_path, master_key=b64(new).decode())) == root


def test_an_altered_or_unknown_root_file_is_refused(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    load_master_key(settings)
    text = (tmp_path / "root.key").read_text()
    prefix, key_id, sealed = text.split()
    flipped = base64.b64decode(sealed)
    flipped = flipped[:-1] + bytes([flipped[-1] ^ 1])
    (tmp_path / "root.key").write_text(f"{prefix} {key_id} {base64.b64encode(flipped).decode()}\n")
    with pytest.raises(SettingsError, match="does not open"):
        load_master_key(settings)
    (tmp_path / "root.key").write_text("garbage\n")
    with pytest.raises(SettingsError, match="not a root key file"):
        load_master_key(settings)
    (tmp_path / "root.key").chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load_master_key(settings)
