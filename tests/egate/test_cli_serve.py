"""`egate serve --port P`: without EGATE_ISSUER the issuer follows the port actually served."""

from __future__ import annotations

from egate.cli import issuer_on_the_served_port
from kit.settings import load_settings


def test_the_port_moves_the_default_issuer_but_never_a_configured_one(tmp_path, monkeypatch):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("EGATE_ISSUER", raising=False)
    assert issuer_on_the_served_port(load_settings(), 8123).issuer == "http://127.0.0.1:8123"
    monkeypatch.setenv("EGATE_ISSUER", "https://id.example.hk")
    assert issuer_on_the_served_port(load_settings(), 8123).issuer == "https://id.example.hk"
