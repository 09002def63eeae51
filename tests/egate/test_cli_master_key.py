"""`egate master-key status|rotate|retire`: the root, and so every derived key, survives."""

from __future__ import annotations

from egate.cli import main
from kit.keys import load_master_key
from kit.settings import load_settings


def test_rotate_then_retire_keeps_the_root(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EGATE_MASTER_KEY", raising=False)
    assert main(["master-key", "status"]) == 0
    assert "previous: none" in capsys.readouterr().out
    root = load_master_key(load_settings())
    assert main(["master-key", "rotate"]) == 0
    rotated = capsys.readouterr().out
    assert "still opens the root until `egate master-key retire`" in rotated
    assert "previous: none" not in rotated
    assert load_master_key(load_settings()) == root
    assert main(["master-key", "retire"]) == 0
    assert "retired 1 previous master key(s)" in capsys.readouterr().out
    assert load_master_key(load_settings()) == root


def test_rotate_refuses_keys_from_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EGATE_MASTER_KEY", "ZWdhdGUtdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=")
    assert main(["master-key", "rotate"]) == 2
    assert "EGATE_MASTER_KEY" in capsys.readouterr().err
