"""The clients a process keeps between requests (identity/clients/cache.py): trusted only
under the clients' version they were read with, which every change raises."""

from __future__ import annotations

from sqlalchemy import update

from identity.clients import repository
from identity.clients.cache import ClientCache
from identity.clients.models import Client
from identity.clients.service import Registration, register


def department(db, runtime, name: str = "Lands Department") -> Client:
    client, _ = register(
        db,
        runtime.master_key,
        Registration(name=name, department="landsd", redirect_uris=["https://landsd.example/cb"]),
        runtime.clock(),
    )
    db.commit()
    return client


def test_a_client_read_once_is_served_from_the_cache_until_the_version_moves(db, session_factory, runtime):
    client = department(db, runtime)
    cache = ClientCache()
    with session_factory() as first:
        cached = cache.get(first, client.client_id)
    with session_factory() as second:
        assert cache.get(second, client.client_id) is cached  # no new row built

    # A change made elsewhere (another replica, an operator) raises the version with it.
    with session_factory.begin() as elsewhere:
        elsewhere.execute(update(Client).where(Client.client_id == client.client_id).values(disabled=True))
        repository.raise_version(elsewhere)
    with session_factory() as third:
        assert cache.get(third, client.client_id) is None  # disabled: seen at once


def test_registering_a_client_raises_the_version_and_unknown_ids_are_not_remembered(
    db, session_factory, runtime
):
    cache = ClientCache()
    with session_factory() as before:
        assert cache.get(before, "not-yet-registered") is None
        version_before = repository.version(before)
    client = department(db, runtime, "Water Supplies Department")
    with session_factory() as after:
        assert repository.version(after) == version_before + 1
        found = cache.get(after, client.client_id)
    assert found is not None and found.name == "Water Supplies Department"


def test_ids_no_client_could_have_are_refused_without_a_query(db):
    cache = ClientCache()
    assert cache.get(db, "") is None
    assert cache.get(db, "x" * 65) is None
    assert not db.in_transaction()
