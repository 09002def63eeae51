"""Refresh-token rotation under races (issue 13 item 7): inside the grace window every reuse of
a refresh token gets the SAME successor, so a thief racing the client never gets a branch of
its own; after the window a reuse revokes the whole family. Real threads against the live
server, on both databases."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import select

from identity.oidc.tokens import token_hash
from identity.tokens.models import IssuedToken
from kit.db import session_scope
from tests.e2e.oidc_client import Department
from tests.e2e.test_oidc_code_flow import department
from tests.e2e.test_oidc_tokens import code_for, post_token, userinfo_status

RACERS = 10


def _refresh(dept: Department, refresh_token: str) -> requests.Response:
    return post_token(dept, {"grant_type": "refresh_token", "refresh_token": refresh_token})


def _family_tokens(gateway, refresh_token: str) -> list[IssuedToken]:
    for db in session_scope(gateway.runtime.sessions):
        row = db.scalars(select(IssuedToken).where(IssuedToken.token_hash == token_hash(refresh_token))).one()
        rows = list(db.scalars(select(IssuedToken).where(IssuedToken.family_id == row.family_id)))
        db.expunge_all()
    return rows


def _live_refresh_tokens(rows: list[IssuedToken]) -> list[IssuedToken]:
    return [r for r in rows if r.kind == "refresh" and r.spent_at is None and r.revoked_at is None]


def _first_tokens(gateway, dept: Department) -> dict:
    oauth, callback = code_for(gateway, dept)
    return dept.exchange(oauth, callback)


def test_concurrent_refreshes_of_one_token_all_get_the_same_successor(gateway):
    dept = department(gateway)
    first = _first_tokens(gateway, dept)
    start = threading.Barrier(RACERS)

    def race(_: int) -> requests.Response:
        start.wait(timeout=10)
        return _refresh(dept, first["refresh_token"])

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(race, range(RACERS)))

    assert [r.status_code for r in responses] == [200] * RACERS, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    successors = {body["refresh_token"] for body in bodies}
    assert len(successors) == 1, f"{len(successors)} different refresh tokens: the family forked"
    [successor] = successors
    assert successor != first["refresh_token"]
    # Each answer carries a working access token of its own.
    assert len({body["access_token"] for body in bodies}) == RACERS
    assert all(userinfo_status(dept, body["access_token"]) == 200 for body in bodies)

    family = _family_tokens(gateway, first["refresh_token"])
    [live] = _live_refresh_tokens(family)
    assert live.token_hash == token_hash(successor)

    # The successor rotates on as usual, and the family still has one live refresh token.
    third = _refresh(dept, successor)
    assert third.status_code == 200
    assert third.json()["refresh_token"] not in (successor, first["refresh_token"])
    assert len(_live_refresh_tokens(_family_tokens(gateway, first["refresh_token"]))) == 1


def test_a_reuse_inside_the_window_repeats_the_successor_and_a_reuse_after_it_revokes_the_family(gateway):
    dept = department(gateway)
    first = _first_tokens(gateway, dept)
    second = _refresh(dept, first["refresh_token"]).json()
    again = _refresh(dept, first["refresh_token"])
    assert again.status_code == 200
    assert again.json()["refresh_token"] == second["refresh_token"]

    grace = gateway.runtime.settings.refresh_reuse_grace_seconds
    with gateway.runtime.clock.shifted(seconds=grace + 5):
        stolen = _refresh(dept, first["refresh_token"])
        assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
        for body in (second, again.json()):
            assert _refresh(dept, body["refresh_token"]).json()["error"] == "invalid_grant"
            assert userinfo_status(dept, body["access_token"]) == 401
    family = _family_tokens(gateway, first["refresh_token"])
    assert all(row.revoked_at is not None for row in family)


def test_a_reuse_after_the_successor_moved_on_gets_nothing_and_forks_nothing(gateway):
    dept = department(gateway)
    first = _first_tokens(gateway, dept)
    second = _refresh(dept, first["refresh_token"]).json()
    third = _refresh(dept, second["refresh_token"]).json()
    late = _refresh(dept, first["refresh_token"])  # still inside the window of the first token
    assert late.status_code == 400 and late.json()["error"] == "invalid_grant"
    [live] = _live_refresh_tokens(_family_tokens(gateway, first["refresh_token"]))
    assert live.token_hash == token_hash(third["refresh_token"])
    assert _refresh(dept, third["refresh_token"]).status_code == 200
