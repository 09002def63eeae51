"""The revision that splits a session's cookie hash from its id keeps live sessions working,
and its downgrade ends the sessions whose cookie it could no longer find."""

from sqlalchemy import text

from kit import migrations
from kit.db import create_db_engine
from tests.support.databases import new_database_url

BEFORE = "5c1e0d7a9b24"
REVISION = "005e6868bb62"
ACCOUNT = (
    "INSERT INTO idp_accounts (id, kind, status, profile_encrypted, password_hash, roles, locale,"
    " created_at, updated_at) VALUES ('acc1', 'resident', 'active', 'x', 'x', '[]', 'en',"
    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)
SESSION = (
    "INSERT INTO idp_sessions (id, account_id, created_at, last_seen_at, expires_at, auth_time, amr, acr)"
    " VALUES (:id, 'acc1', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-02 00:00:00',"
    " '2026-01-01 00:00:00', '[]', 'basic')"
)


def test_sessions_keep_their_cookie_across_the_upgrade_and_rotated_ones_end_on_downgrade(
    backend, request, tmp_path
):
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    try:
        migrations.upgrade(engine, BEFORE)
        with engine.begin() as connection:
            connection.execute(text(ACCOUNT))
            connection.execute(text(SESSION), {"id": "a" * 64})
            connection.execute(text(SESSION), {"id": "b" * 64})
        migrations.upgrade(engine, REVISION)
        with engine.begin() as connection:
            rows = connection.execute(text("SELECT id, cookie_hash FROM idp_sessions ORDER BY id")).all()
            assert [tuple(row) for row in rows] == [("a" * 64, "a" * 64), ("b" * 64, "b" * 64)]
            audit = connection.execute(text("SELECT count(*) FROM idp_clients WHERE audit_system")).scalar()
            assert audit == 0
            connection.execute(
                text("UPDATE idp_sessions SET cookie_hash = :c WHERE id = :id"),
                {"c": "c" * 64, "id": "b" * 64},
            )
        migrations.downgrade(engine, BEFORE)
        with engine.connect() as connection:
            ended = dict(connection.execute(text("SELECT id, ended_at FROM idp_sessions")).all())
        assert ended["a" * 64] is None and ended["b" * 64] is not None
    finally:
        engine.dispose()
