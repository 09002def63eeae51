import logging

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from consent.ledger.models import LedgerEntry, LedgerFrontier
from consent.port import LedgerConsentPort
from egate.app import create_app
from egate.cli import OPENAPI_DIR, render_openapi
from kit.observability import configure_logging
from tests.support.ledger import record_userinfo_disclosure


def test_liveness_and_readiness_on_a_migrated_database(runtime):
    with TestClient(create_app(runtime)) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def _record_disclosures(runtime, db, count: int) -> None:
    port = LedgerConsentPort(runtime)
    for i in range(count):
        record_userinfo_disclosure(port, db, i, runtime.clock())
        if i == 0:  # the sequencer's first batch signs a checkpoint at size 1
            port.ledger.integrate(db, runtime.clock(), limit=100)
    port.ledger.integrate(db, runtime.clock(), limit=100, sign=False)
    db.commit()


def test_readiness_reports_the_ledger_checked_at_start_up(runtime, db):
    _record_disclosures(runtime, db, 3)
    with TestClient(create_app(runtime)) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["ledger"] == "ok"


def test_readiness_is_503_on_a_tampered_ledger(runtime, db):
    _record_disclosures(runtime, db, 3)
    db.execute(update(LedgerEntry).where(LedgerEntry.index == 2).values(purpose="Changed"))
    db.commit()
    with TestClient(create_app(runtime)) as client:
        ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"
    assert ready.json() == {
        "status": "unavailable",
        "database": "ok",
        "ledger": "inconsistent: entry 2 does not match its stored leaf hash",
    }


def test_readiness_checks_the_ledger_itself_when_nothing_has_yet(runtime, db):
    _record_disclosures(runtime, db, 2)
    db.execute(update(LedgerFrontier).values(tree_size=1, hashes=b"\0" * 32))
    db.commit()
    client = TestClient(create_app(runtime))  # no lifespan: no start-up check ran
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["ledger"] == "inconsistent: entry 1 lies past the end of the tree (size 1)"


def test_readiness_fails_when_the_database_is_behind(tmp_path):
    from kit.runtime import Runtime
    from tests.support.databases import make_settings

    runtime = Runtime.build(make_settings(tmp_path))  # fresh SQLite file, never migrated
    with TestClient(create_app(runtime)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["database"] == "not migrated"


def test_request_id_is_returned_and_query_strings_are_not_logged(runtime, caplog):
    caplog.set_level(logging.INFO, logger="egate.access")
    with TestClient(create_app(runtime)) as client:
        response = client.get("/health/live?code=secret-code", headers={"X-Request-ID": "abc-1"})
        generated = client.get("/health/live", headers={"X-Request-ID": "bad id\n"})
    assert response.headers["x-request-id"] == "abc-1"
    assert generated.headers["x-request-id"] != "bad id\n"
    logged = [r for r in caplog.records if r.name == "egate.access"]
    assert logged and all("secret-code" not in str(r.__dict__) for r in logged)
    assert logged[0].fields["path"] == "/health/live"


def test_committed_openapi_documents_match_the_code(tmp_path):
    from tests.support.databases import make_settings

    for file_name, document in render_openapi(make_settings(tmp_path)).items():
        committed = OPENAPI_DIR / file_name
        assert committed.exists(), f"openapi/{file_name} missing: run `egate openapi`"
        assert committed.read_text() == document, f"openapi/{file_name} drifted: run `egate openapi`"


@pytest.mark.parametrize("level", ["debug", "info"])
def test_library_loggers_stay_at_warning_whatever_the_gateway_level(level):
    configure_logging(level, as_json=True)
    try:
        for library in ("authlib", "sqlalchemy.engine", "httpx", "alembic"):
            assert not logging.getLogger(library).isEnabledFor(logging.INFO), library
        assert logging.getLogger("egate").isEnabledFor(getattr(logging, level.upper()))
    finally:
        configure_logging("info", as_json=False)


def test_sql_errors_and_echo_never_carry_bound_parameters(db_engine, caplog):
    secret = "pkce-verifier-" + "x" * 20
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with db_engine.connect() as connection:
        with pytest.raises(DBAPIError) as error:
            connection.execute(text("SELECT no_such_column FROM alembic_version WHERE 1 = :p"), {"p": secret})
        connection.rollback()
    assert secret not in str(error.value)
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_every_service_has_a_favicon(runtime):
    """Browsers ask the origin's /favicon.ico where a page names no icon; the pages name theirs."""
    with TestClient(create_app(runtime)) as client:
        root = client.get("/favicon.ico")
        assert root.status_code == 200 and root.headers["content-type"].startswith("image/svg+xml")
        for page, icon in (("/signin", "/static/favicon.svg"), ("/forms/", "/forms/static/favicon.svg")):
            assert f'rel="icon" href="{icon}"' in client.get(page).text
            assert client.get(icon).headers["content-type"].startswith("image/svg+xml")
