"""Seed a PostgreSQL gateway with N residents, as production would hold them, fast enough for
millions: accounts (blind indexes, sealed profile and HKID number, one argon2id hash computed
once and shared, as the slow hash is not what is being measured), remembered consents,
browser sessions, tokens, and ledger entries integrated into the Merkle tree. Then it prints
each table's rows, heap and index bytes, and bytes per row: the input of docs/capacity.md.

Every table goes in with PostgreSQL's COPY in its text format, written in large chunks of
lines built from precomputed pieces (no ORM object, no per-value adaptation). The ledger's
entries, leaf hashes and Merkle nodes are computed here with the ledger's own RFC 9162 code
and canonical encoding (checked against it on the first entries), copied in, and then one
checkpoint is signed by the ledger itself, after its head check re-hashed every entry: a
seeded ledger passes the same integrity checks as a grown one.

    .venv/bin/python bench/seed_volume.py --residents 100000 [--database-url URL]

Without --database-url it uses a throwaway cluster (tests/support/postgres.py).
``bench/volume_latency.py`` seeds through :func:`seed` and serves the result.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.ledger import postgres_url
from consent.ledger.entry import canonical_entry_bytes, rfc3339_utc
from consent.ledger.repository import read_frontier
from consent.ledger.rfc9162 import CompactRange, leaf_hash
from consent.ledger.service import Ledger
from identity.accounts.service import Profile
from identity.residents.hkid import check_digit
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
from kit.keys import load_master_key
from kit.settings import Settings

unit_of_work = contextmanager(session_scope)
CLIENTS = (("td-licensing", "TD"), ("ird-etax", "IRD"), ("hd-housing", "HD"), ("imm-passport", "ImmD"))
TABLES = (
    "idp_accounts",
    "idp_sessions",
    "idp_tokens",
    "consent_grants",
    "consent_ledger_entries",
    "consent_ledger_nodes",
    "consent_ledger_checkpoints",
)
PASSWORD = "a long demo passphrase"
CHUNK_BYTES = 1 << 20
NULL = "\\N"  # COPY text format


def resident_email(i: int) -> str:
    return f"resident-{i}@example.hk"


def copy_lines(raw: Any, table: str, columns: Iterable[str], lines: Iterable[str]) -> int:
    """COPY ``lines`` (tab-separated, already in COPY's text format) into ``table``, in
    chunks of about a megabyte: one write per chunk instead of one adaptation per value."""
    count, size, chunk = 0, 0, []
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for line in lines:
            chunk.append(line)
            size += len(line)
            count += 1
            if size >= CHUNK_BYTES:
                copy.write("".join(chunk))
                chunk, size = [], 0
        if chunk:
            copy.write("".join(chunk))
    return count


@contextmanager
def indexes_built_after(raw: Any, tables: Iterable[str]) -> Iterator[None]:
    """Drop the tables' secondary indexes and unique constraints (primary keys stay: foreign
    keys need them), then build them again from their own definitions once the rows are in:
    a sorted build instead of millions of random B-tree inserts. Built indexes are denser
    than grown ones (fillfactor 90 against ~70% after random inserts), so index sizes
    measured this way understate a grown index by up to a third."""
    rows = raw.execute(
        "SELECT c.relname, i.relname, pg_get_indexdef(i.oid), con.conname, pg_get_constraintdef(con.oid)"
        " FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
        " LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.contype = 'u'"
        " WHERE c.relname = ANY(%s) AND NOT x.indisprimary",
        (list(tables),),
    ).fetchall()
    for table, index, _, constraint, _ in rows:
        if constraint:
            raw.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{constraint}"')
        else:
            raw.execute(f'DROP INDEX "{index}"')
    raw.commit()
    yield
    raw.execute("SET maintenance_work_mem = '256MB'")
    for table, _, definition, constraint, constraint_definition in rows:
        if constraint:
            raw.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{constraint}" {constraint_definition}')
        else:
            raw.execute(definition)
    raw.commit()


def bytea(value: bytes) -> str:
    return "\\\\x" + value.hex()  # COPY text: the backslash of \x is itself escaped


def hex16() -> str:
    return os.urandom(16).hex()


def seed(
    url: str,
    residents: int,
    entries_per_resident: int,
    data_dir: Path,
    master_key: str | None = None,
    *,
    report: bool = True,
    build_indexes_after: bool = False,
    verify_ledger: bool = True,
) -> Settings:
    """Fill the empty database at ``url``; returns the settings (data dir, master key) a
    server needs to read what was sealed. Residents sign in as ``resident-<i>@example.hk``
    with :data:`PASSWORD`."""
    settings = Settings(
        data_dir=data_dir,
        database_url=url,
        master_key=master_key or base64.b64encode(secrets.token_bytes(32)).decode(),
        argon2_time_cost=2,
        argon2_memory_kib=19456,
    )
    root = load_master_key(settings)  # the root secret, as the server will unwrap it
    engine = create_db_engine(url)
    migrations.upgrade(engine)
    keyring = build_keyring(root, settings.field_key_generation)
    password_hash = hasher_for(settings).hash(PASSWORD)  # once: argon2id is slow by design
    now = datetime.now(UTC)
    naive = now.replace(tzinfo=None)
    at = naive.isoformat(sep=" ")
    session_expiry = (naive + timedelta(hours=12)).isoformat(sep=" ")
    access_expiry = (naive + timedelta(minutes=10)).isoformat(sep=" ")
    refresh_expiry = (naive + timedelta(days=30, minutes=10)).isoformat(sep=" ")
    grant_expiry = (naive + timedelta(days=365)).isoformat(sep=" ")
    ids: list[str] = []
    profile_template = json.dumps(
        asdict(
            Profile(
                name="@@NAME@@",
                name_zh="陳大文",
                birthdate="1980-05-17",
                gender="male",
                address="Flat A, 12/F, 1 Queen's Road Central, Hong Kong",
                phone="+85291234567",
                email="@@EMAIL@@",
            )
        ),
        ensure_ascii=False,
        sort_keys=True,
    )
    encrypt, hkid_digest, email_digest = keyring.fields.encrypt, keyring.hkid_digest, keyring.email_digest
    account_tail = f"\t{password_hash}\t{at}\t[]\ten\tself_asserted\t{at}\t{at}\n"

    def accounts() -> Iterator[str]:
        for i in range(residents):
            prefix = "Z" + f"{i:06d}"[-6:] if i < 10**6 else "Y" + f"{i - 10**6:06d}"
            hkid = prefix + check_digit(prefix)
            email = resident_email(i)
            account_id = hex16()
            ids.append(account_id)
            profile = profile_template.replace("@@NAME@@", f"CHAN Tai Man {i}").replace("@@EMAIL@@", email)
            yield (
                f"{account_id}\tresident\tactive\t{hkid_digest(hkid)}\t{email_digest(email)}"
                f"\t{encrypt(hkid, context=f'account.hkid:{account_id}')}"
                f"\t{encrypt(profile, context=f'account.profile:{account_id}')}" + account_tail
            )

    def sessions() -> Iterator[str]:
        tail = f'\t{at}\t{at}\t{session_expiry}\t{at}\t["pwd"]\tbasic\n'
        for account_id in ids:
            yield f"{hex16()}\t{secrets.token_hex(32)}\t{account_id}" + tail

    def tokens() -> Iterator[str]:
        middle = '\ttd-licensing\t{}\t{}\topenid profile email\t["birthdate", "email", "name"]\t'
        for account_id in ids:
            family = secrets.token_urlsafe(16)
            grant = "cg-" + hex16()
            code = secrets.token_hex(32)
            for kind, token_hash, expiry in (
                ("access", NULL, access_expiry),
                ("refresh", secrets.token_hex(32), refresh_expiry),
            ):
                yield (
                    f"{secrets.token_urlsafe(24)}\t{kind}\t{token_hash}"
                    + middle.format(account_id, hex16())
                    + f'{grant}\t{family}\t{code}\t{at}\tbasic\t["pwd"]\t{at}\t{expiry}\n'
                )

    def grants() -> Iterator[str]:
        tail = (
            f'\tApplication for a licence renewal\t續期申請\t["birthdate", "email", "name"]'
            f"\t{at}\tconsent_page\tt\t{grant_expiry}\n"
        )
        for account_id in ids:
            for client, department in CLIENTS[:3]:
                yield f"cg-{hex16()}\t{account_id}\t{client}\t{department}" + tail

    started = time.perf_counter()
    with engine.connect() as connection, contextlib.ExitStack() as deferred:
        raw = connection.connection.driver_connection
        raw.execute("SET statement_timeout = 0")  # one COPY per table, as long as it takes
        raw.execute("SET synchronous_commit = off")  # a seed is rerun, not recovered
        if build_indexes_after:
            deferred.enter_context(indexes_built_after(raw, TABLES))
        copy_lines(
            raw,
            "idp_accounts",
            (
                "id",
                "kind",
                "status",
                "hkid_index",
                "email_index",
                "hkid_encrypted",
                "profile_encrypted",
                "password_hash",
                "email_verified_at",
                "roles",
                "locale",
                "identity_level",
                "created_at",
                "updated_at",
            ),
            accounts(),
        )
        copy_lines(
            raw,
            "idp_sessions",
            (
                "id",
                "cookie_hash",
                "account_id",
                "created_at",
                "last_seen_at",
                "expires_at",
                "auth_time",
                "amr",
                "acr",
            ),
            sessions(),
        )
        copy_lines(
            raw,
            "idp_tokens",
            (
                "jti",
                "kind",
                "token_hash",
                "client_id",
                "account_id",
                "session_id",
                "scope",
                "granted_claims",
                "grant_id",
                "family_id",
                "code_hash",
                "auth_time",
                "acr",
                "amr",
                "issued_at",
                "expires_at",
            ),
            tokens(),
        )
        copy_lines(
            raw,
            "consent_grants",
            (
                "grant_id",
                "resident_id",
                "client_id",
                "department",
                "purpose_en",
                "purpose_zh",
                "fields",
                "given_at",
                "given_via",
                "remembered",
                "expires_at",
            ),
            grants(),
        )
        raw.commit()
        started_ledger = time.perf_counter()
        total = seed_ledger(raw, ids, entries_per_resident, now)
        ledger_seconds = time.perf_counter() - started_ledger
    copied_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ledger = Ledger(origin="seed.example/consent/ledger", master_key=root)
    sessions = create_session_factory(engine)
    if not verify_ledger:  # trust the tree computed here: the head check starts from it
        ledger.integrity.remember_committed(CompactRange.from_hashes(*frontier_of(sessions)), 0)
    with unit_of_work(sessions) as db:
        ledger.sign_checkpoint(db, now)  # after the head check: every entry re-hashed, unless trusted
    if report:
        print(
            f"COPY of every table: {copied_seconds:.1f} s (the ledger's {total:,} entries, hashed here:"
            f" {ledger_seconds:.1f} s{'; indexes built after the rows' if build_indexes_after else ''});"
            f" checkpoint {'after re-hashing every entry' if verify_ledger else 'signed'}:"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    # As after any bulk load: VACUUM (visibility map set, statistics current) and a
    # checkpoint, so that autovacuum's pass over millions of fresh rows and the flush of the
    # load's dirty pages do not run into the measurement that follows.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE)"))
        connection.execute(text("CHECKPOINT"))
    with engine.connect() as connection:
        if report:
            print_sizes(connection, residents)
    engine.dispose()
    return settings


ENTRY_COLUMNS = (
    "index",
    "entry_id",
    "recorded_at",
    "resident_id",
    "recipient_client_id",
    "recipient_department",
    "channel",
    "fields",
    "purpose",
    "basis",
    "grant_id",
    "legal_basis",
    "request_id",
    "leaf_hash",
)


def frontier_of(sessions: Any) -> tuple[int, list[bytes]]:
    with sessions() as db:
        state = read_frontier(db)
    return state.tree_size, [state.hashes[i : i + 32] for i in range(0, len(state.hashes), 32)]


def seed_ledger(raw: Any, ids: list[str], per_resident: int, now: datetime) -> int:
    """``per_resident`` userinfo disclosures per resident, round robin over the clients, as
    the sequencer would have integrated them (the caller has the ledger sign a checkpoint)."""
    recorded = rfc3339_utc(now)
    at = now.replace(tzinfo=None).isoformat(sep=" ")
    fields = ["email", "name", "sub"]
    stored_fields = json.dumps(fields)
    purpose = "Licence renewal"
    tree = CompactRange()
    nodes: list[str] = []
    total = len(ids) * per_resident

    def canonical(
        index: int, entry_id: str, resident: str, client: str, department: str, request: str
    ) -> bytes:
        # canonical_entry_bytes's encoding (sorted keys, no spaces), built without json.dumps;
        # every value here is ASCII without quotes or backslashes.
        return (
            f'{{"basis":"consent","channel":"userinfo","entry_id":"{entry_id}","fields":["email","name","sub"],'
            f'"grant_id":"cg-seed","index":{index},"legal_basis":null,"purpose":"{purpose}",'
            f'"recipient_client_id":"{client}","recipient_department":"{department}",'
            f'"recorded_at":"{recorded}","request_id":"{request}","resident_id":"{resident}"}}'
        ).encode()

    def entries() -> Iterator[str]:
        for n in range(total):
            client, department = CLIENTS[n % len(CLIENTS)]
            resident = ids[n % len(ids)]
            entry_id = "dl-" + hex16()
            request = f"seed-{n}"
            body = canonical(n, entry_id, resident, client, department, request)
            if n < 3:  # the shortcut must be the ledger's own encoding
                assert body == canonical_entry_bytes(
                    {
                        "index": n,
                        "entry_id": entry_id,
                        "recorded_at": recorded,
                        "resident_id": resident,
                        "recipient_client_id": client,
                        "recipient_department": department,
                        "channel": "userinfo",
                        "fields": fields,
                        "purpose": purpose,
                        "basis": "consent",
                        "grant_id": "cg-seed",
                        "legal_basis": None,
                        "request_id": request,
                    }
                )
            digest = leaf_hash(body)
            for node in tree.append_nodes(digest)[1:]:
                nodes.append(f"{node.level}\t{node.index}\t{bytea(node.hash)}\n")
            yield (
                f"{n}\t{entry_id}\t{at}\t{resident}\t{client}\t{department}\tuserinfo\t{stored_fields}"
                f"\t{purpose}\tconsent\tcg-seed\t{NULL}\t{request}\t{bytea(digest)}\n"
            )

    copy_lines(raw, "consent_ledger_entries", [f'"{c}"' for c in ENTRY_COLUMNS], entries())
    copy_lines(raw, "consent_ledger_nodes", ("level", '"index"', "hash"), nodes)
    raw.execute(
        "UPDATE consent_ledger_frontier SET tree_size = %s, hashes = %s WHERE id = 1",
        (tree.size, b"".join(tree.to_hashes())),
    )
    raw.commit()
    return total


def print_sizes(connection: Any, residents: int) -> None:
    print(f"{'table':<28}{'rows':>12}{'heap MB':>10}{'index MB':>10}{'bytes/row':>11}{'index B/row':>12}")
    for table in TABLES:
        rows = connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
        heap, index = connection.execute(
            text("SELECT pg_table_size(:t), pg_indexes_size(:t)"), {"t": table}
        ).one()
        per_row = heap / rows if rows else 0
        per_index = index / rows if rows else 0
        print(
            f"{table:<28}{rows:>12,}{heap / 2**20:>10.1f}{index / 2**20:>10.1f}"
            f"{per_row:>11.0f}{per_index:>12.0f}"
        )
    size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    print(f"database: {size / 2**20:,.0f} MB for {residents:,} residents")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--entries-per-resident", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: a throwaway cluster)")
    parser.add_argument(
        "--build-indexes-after",
        action="store_true",
        help="faster: secondary indexes built after the rows (denser than grown ones: sizes understated)",
    )
    parser.add_argument(
        "--trust-ledger",
        action="store_true",
        help="faster: sign the checkpoint without re-hashing every entry",
    )
    args = parser.parse_args()
    options: dict[str, Any] = {
        "build_indexes_after": args.build_indexes_after,
        "verify_ledger": not args.trust_ledger,
    }
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        if args.database_url:
            seed(args.database_url, args.residents, args.entries_per_resident, Path(directory), **options)
        else:
            with postgres_url() as url:
                seed(url, args.residents, args.entries_per_resident, Path(directory), **options)
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
