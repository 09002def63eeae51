"""Housekeeping: `egate maintenance` removes what no service needs any more, in bounded
batches, and keeps what something still reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from egate.cli import main
from egate.maintenance import all_purges, run_maintenance
from forms_hub.oidc_client.models import HubSession
from identity.messaging.models import OutboxMessage
from identity.tokens.models import AuthorizationCode, DpopProofSeen, IssuedToken
from kit.purge import purge_all
from tests.support.databases import TEST_SETTINGS


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def token(jti: str, expires_at, code_hash: str | None = None) -> IssuedToken:
    return IssuedToken(
        jti=jti,
        kind="access",
        client_id="td-licensing",
        scope="openid",
        family_id="f-" + jti,
        code_hash=code_hash,
        issued_at=expires_at - timedelta(minutes=10),
        expires_at=expires_at,
    )


def code(code_hash: str, expires_at) -> AuthorizationCode:
    return AuthorizationCode(
        code_hash=code_hash,
        client_id="td-licensing",
        account_id="a" * 32,
        redirect_uri="https://td.example/cb",
        scope="openid",
        code_challenge="c" * 43,
        code_challenge_method="S256",
        auth_time=expires_at,
        acr="basic",
        created_at=expires_at - timedelta(minutes=1),
        expires_at=expires_at,
    )


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_expired_rows_go_and_what_is_still_needed_stays(runtime, db, now):
    past, future = now - timedelta(seconds=1), now + timedelta(hours=1)
    db.add_all(
        [
            code("unused-expired", past),
            code("expired-but-its-token-lives", past),
            code("expired-and-its-token-too", past),
            code("live", future),
            token("live-token", future, code_hash="expired-but-its-token-lives"),
            token("expired-token", past, code_hash="expired-and-its-token-too"),
            HubSession(id_hash="gone", sub="s", kind="resident", created_at=past, expires_at=past),
            HubSession(id_hash="kept", sub="s", kind="resident", created_at=past, expires_at=future),
            DpopProofSeen(key_hash="gone", expires_at=past),
            DpopProofSeen(key_hash="kept", expires_at=future),
            *(
                OutboxMessage(
                    channel="email",
                    recipient_encrypted="x",
                    subject=subject,
                    body_encrypted="x",
                    created_at=now - timedelta(days=30),
                    sent_at=sent_at,
                )
                for subject, sent_at in (
                    ("sent long ago", now - timedelta(days=8)),
                    ("sent yesterday", now - timedelta(days=1)),
                    ("not sent yet", None),
                )
            ),
        ]
    )
    db.commit()
    deleted = run_maintenance(runtime, now=now)
    assert deleted["idp_tokens"] == 1
    assert deleted["idp_authorization_codes"] == 2
    assert {c.code_hash for c in db.scalars(select(AuthorizationCode))} == {
        "expired-but-its-token-lives",
        "live",
    }
    assert {t.jti for t in db.scalars(select(IssuedToken))} == {"live-token"}
    assert [s.id_hash for s in db.scalars(select(HubSession))] == ["kept"]
    assert [p.key_hash for p in db.scalars(select(DpopProofSeen))] == ["kept"]
    assert sorted(m.subject for m in db.scalars(select(OutboxMessage))) == ["not sent yet", "sent yesterday"]
    assert set(deleted) == {purge.name for purge in all_purges(runtime.settings)}
    assert run_maintenance(runtime, now=now) == dict.fromkeys(deleted, 0)  # nothing left to do


def test_purges_run_in_bounded_batches_to_completion(runtime, db, now):
    db.add_all([token(f"t{i}", now - timedelta(seconds=1)) for i in range(7)])
    db.commit()
    deleted = purge_all(runtime.sessions, all_purges(runtime.settings), now, batch_size=2)
    assert deleted["idp_tokens"] == 7 and count(db, IssuedToken) == 0


def test_the_command_reports_what_it_removed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(f"EGATE_{name.upper()}", str(value))
    assert main(["db", "upgrade"]) == 0
    assert main(["maintenance"]) == 0
    out = capsys.readouterr().out
    assert "idp_tokens: 0 removed" in out and "forms_sessions: 0 removed" in out
