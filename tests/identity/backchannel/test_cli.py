"""`egate logout-deliveries`: what operators see of the logout tokens owed, and their retry."""

from __future__ import annotations

from sqlalchemy import select

from egate.cli import main
from identity.backchannel import service
from identity.backchannel.models import FAILED, LogoutDelivery
from identity.db import unit_of_work
from kit.runtime import Runtime
from kit.settings import load_settings
from tests.identity.accounts.factories import create_resident
from tests.identity.backchannel.factories import department, holds, session
from tests.support.logout_receiver import LogoutReceiver


def test_failed_deliveries_are_listed_and_retried_with_a_fresh_token(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    assert main(["db", "upgrade"]) == 0
    runtime = Runtime.build(load_settings())
    receiver = LogoutReceiver(runtime.settings.issuer, {"keys": []})
    receiver.fail_with = 500
    try:
        with unit_of_work(runtime.sessions) as db:
            account, _ = create_resident(db, runtime)
            ended = session(db, runtime, account.id)
            client = department(db, runtime, receiver.url)
            holds(db, client, account.id, ended, runtime.clock())
            service.announce_logout(db, account.id, [ended], runtime.clock(), service.SIGNED_OUT)
            delivered = service.announce_logout(
                db, account.id, None, runtime.clock(), service.PASSWORD_CHANGED
            )
            assert delivered == 1
            first, second = db.scalars(select(LogoutDelivery).order_by(LogoutDelivery.id)).all()
            first.state, first.attempts, first.last_error = FAILED, service.MAX_ATTEMPTS, "answered HTTP 500"
            second.state = "delivered"
        capsys.readouterr()
        assert main(["logout-deliveries", "list", "--failed"]) == 0
        header, *lines = capsys.readouterr().out.splitlines()
        assert header.startswith("id\tstate\tattempts")
        [line] = lines
        assert line.split("\t")[:6] == [str(first.id), "failed", "10", client.client_id, "signed-out", "sid"]
        assert line.endswith("answered HTTP 500")
        assert main(["logout-deliveries", "list"]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 3

        assert main(["logout-deliveries", "retry", str(second.id)]) == 1  # not a failed one
        assert main(["logout-deliveries", "retry", str(first.id)]) == 0
        assert "queued 1 again; delivered 0 of 1" in capsys.readouterr().out
        assert len(receiver.bodies) == 1  # tried again at once, with a token signed now
        assert main(["logout-deliveries", "deliver"]) == 0  # nothing due: its backoff runs
        with unit_of_work(runtime.sessions) as db:
            row = db.get(LogoutDelivery, first.id)
            assert row is not None and (row.state, row.attempts) == ("pending", 1)
    finally:
        receiver.stop()
        runtime.engine.dispose()
