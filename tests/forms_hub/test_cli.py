"""`egate forms ...` on a fresh SQLite installation."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from egate.cli import main
from forms_hub.demo import DEMO_FORMS_DIR


@pytest.fixture
def installation(tmp_path, monkeypatch):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EGATE_MASTER_KEY", "ZWdhdGUtdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=")
    assert main(["db", "upgrade"]) == 0
    return tmp_path


def test_load_is_all_or_nothing_and_idempotent(installation, capsys):
    forms = installation / "forms"
    shutil.copytree(DEMO_FORMS_DIR, forms)
    broken = json.loads((forms / "change-of-address.json").read_text())
    broken["pages"][0]["fields"].append("no_such_answer")
    (forms / "zz-broken.json").write_text(json.dumps({**broken, "slug": "broken-form"}))
    assert main(["forms", "load", str(forms)]) == 2
    err = capsys.readouterr().err
    assert (
        "zz-broken.json" in err
        and "'no_such_answer' is not a property" in err
        and "Nothing was loaded" in err
    )
    assert main(["forms", "list"]) == 0
    assert capsys.readouterr().out == ""
    (forms / "zz-broken.json").unlink()
    assert main(["forms", "load", str(forms)]) == 0
    assert capsys.readouterr().out.count("(new version, published)") == 5
    assert main(["forms", "load", str(forms)]) == 0
    assert capsys.readouterr().out.count("(unchanged, published)") == 5
    assert main(["forms", "retire", "change-of-address"]) == 0
    assert main(["forms", "retire", "change-of-address"]) == 2


def test_client_credentials_housekeeping_commands(installation, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-client-secret\n"))
    assert main(["forms", "client", "--client-id", "forms-hub"]) == 0
    assert "redirect URI http://127.0.0.1:8000/forms/auth/callback" in capsys.readouterr().out
    assert main(["forms", "purge-drafts"]) == 0 and "purged 0" in capsys.readouterr().out
    assert main(["forms", "seal-attachments"]) == 0 and "sealed 0" in capsys.readouterr().out
    assert main(["forms", "remind"]) == 0 and "sent 0" in capsys.readouterr().out
    assert main(["forms", "outbox"]) == 0 and "delivered 0" in capsys.readouterr().out
