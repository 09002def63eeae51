"""Every kind of tampering with the stored ledger, and who catches it.

The ledger: 20 entries, checkpoints at sizes 1, 7, 16 and 20. Each kind is applied with
plain SQL (tests/consent/ledger/tampering.py), then looked for four ways:

* offline: the export the server produces now, verified with the public key alone (the
  server refusing to export counts as caught: the auditor sees the failure);
* offline + trusted: the same with ``--trusted-checkpoint``, the checkpoint of size 20 the
  auditor obtained before the tampering;
* online, restarted: a fresh process's integrity check (head check and a full scan);
* online, running: the integrity check of a process that verified the ledger before.

History cut back or rewritten consistently leaves nothing inside the database to betray
it after a restart: only a checkpoint kept outside (or the memory of a running process)
shows it. Every kind is caught offline once a trusted checkpoint is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from consent.ledger.integrity import LedgerIntegrity
from consent.ledger.repository import LedgerStateError
from consent.ledger.service import Ledger
from consent.ledger.verifier import verify_export
from tests.consent.conftest import disclosure
from tests.consent.ledger import tampering as t


@dataclass(frozen=True)
class Kind:
    name: str
    tamper: Callable[..., None]
    offline: bool  # caught with the public key alone
    restarted: bool  # caught by a fresh process


def _rewrite_after_16(db, runtime, now) -> None:
    """Cut back to 16 and write a different history, signed by the genuine key (someone
    holding the master secret, or a restarted server appending on after the cut)."""
    t.cut_back(db, 16)
    forger = Ledger(origin=t.ORIGIN, master_key=runtime.master_key)
    for i in range(4):
        forger.append(db, disclosure(resident_id="resident-x", request_id=f"forged-{i}"), now)
    forger.sign_checkpoint(db, now + timedelta(hours=1))


KINDS = [
    Kind("edit a covered entry", lambda db, *_: t.edit_entry(db, 9, purpose="Something else"), True, True),
    Kind(
        "edit a covered entry and its leaf hash",
        lambda db, *_: (t.edit_entry(db, 9, recipient_department="IRD"), t.rehash_entry(db, 9)),
        True,
        True,
    ),
    Kind(
        "edit a covered entry and rebuild the whole tree",
        lambda db, *_: (t.edit_entry(db, 9, resident_id="resident-9"), t.rebuild_tree(db)),
        True,
        True,
    ),
    Kind("delete a covered entry", lambda db, *_: t.delete_entry(db, 9), True, True),
    Kind(
        "delete a covered entry, renumber, rebuild the tree",
        lambda db, *_: (t.delete_entry(db, 9), t.renumber(db, 10, -1), t.rebuild_tree(db)),
        True,
        True,
    ),
    Kind(
        "insert an entry, renumber, rebuild the tree",
        lambda db, *_: (t.insert_entry(db, 9), t.rebuild_tree(db)),
        True,
        True,
    ),
    Kind("swap two covered entries", lambda db, *_: t.swap_entries(db, 4, 5), True, True),
    Kind("forge a checkpoint", lambda db, *_: t.forge_checkpoint(db, 16), True, True),
    Kind("move a checkpoint", lambda db, *_: t.move_checkpoint(db, 16, 15), True, True),
    Kind("delete the latest checkpoint", lambda db, *_: t.delete_checkpoints_above(db, 16), False, False),
    Kind("cut the log back to an earlier checkpoint", lambda db, *_: t.cut_back(db, 16), False, False),
    Kind("empty the log", lambda db, *_: t.cut_back(db, 0), False, False),
    Kind("rewrite the history after a checkpoint and sign it", _rewrite_after_16, False, False),
]


def _caught_offline(db, vkey: str, trusted: str | None) -> bool:
    server = Ledger(origin=t.ORIGIN, master_key=None)
    latest = server.latest_checkpoint(db)
    try:
        lines = list(server.export_lines(t.session_factory(db), through=latest.tree_size if latest else 0))
    except LedgerStateError:
        return True
    return not verify_export(lines, vkey, trusted_checkpoint=trusted).ok


def test_every_kind_of_tampering_is_caught_offline_given_a_trusted_checkpoint(db, runtime, ledger, now):
    t.seed(ledger, db, now)
    vkey = ledger.verifier_key(db, now).vkey
    trusted = ledger.latest_checkpoint(db).note
    outcomes = {}
    for kind in KINDS:
        savepoint = db.begin_nested()
        running = LedgerIntegrity()
        assert t.checked(running, db) is None
        kind.tamper(db, runtime, now)
        outcomes[kind.name] = (
            _caught_offline(db, vkey, None),
            _caught_offline(db, vkey, trusted),
            t.checked(LedgerIntegrity(), db) is not None,
            t.checked(running, db) is not None,
        )
        savepoint.rollback()
        db.expire_all()

    columns = ("offline", "offline + trusted", "online, restarted", "online, running")
    totals = [sum(outcome[i] for outcome in outcomes.values()) for i in range(4)]
    print(f"\nkinds of tampering caught, of {len(KINDS)}:")
    for column, total in zip(columns, totals, strict=True):
        print(f"  {column:<20} {total:>2} of {len(KINDS)}")
    for name, outcome in outcomes.items():
        print(f"  {name:<52} " + " ".join("caught" if caught else "-" for caught in outcome))

    for kind in KINDS:
        offline, trusted_offline, restarted, running = outcomes[kind.name]
        assert trusted_offline, f"{kind.name}: not caught offline with a trusted checkpoint"
        assert running, f"{kind.name}: not caught by the running server"
        assert (offline, restarted) == (kind.offline, kind.restarted), kind.name
    assert totals == [9, len(KINDS), 9, len(KINDS)]
