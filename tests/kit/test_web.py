"""kit.web: a route gets the unit of work, the time and the session factory its app was
built with, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from kit.web import DbSession, Now, Sessions, install_infrastructure

FROZEN = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def _app(sessions: sessionmaker[Session]) -> FastAPI:
    app = FastAPI()
    install_infrastructure(app, sessions=sessions, clock=lambda: FROZEN)

    @app.get("/now")
    def now(at: Now) -> str:
        return at.isoformat()

    @app.post("/write")
    def write(db: DbSession) -> None:
        db.execute(text("INSERT INTO notes (body) VALUES ('kept')"))

    @app.get("/factory")
    def factory(given: Sessions) -> bool:
        return given is sessions

    return app


def test_routes_get_the_installed_clock_unit_of_work_and_session_factory(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'web.sqlite3'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (body TEXT)"))
    sessions = sessionmaker(bind=engine)
    with TestClient(_app(sessions)) as client:
        assert client.get("/now").json() == FROZEN.isoformat()
        assert client.post("/write").status_code == 200
        assert client.get("/factory").json() is True
    # The route's unit of work committed before the response was sent.
    with engine.connect() as connection:
        assert connection.execute(text("SELECT body FROM notes")).scalars().all() == ["kept"]
    engine.dispose()
