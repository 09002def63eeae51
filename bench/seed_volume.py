"""Seed a PostgreSQL gateway with N residents, as production would hold them, fast enough for
millions: accounts (blind indexes, sealed profile and HKID number, one argon2id hash computed
once and shared, as the slow hash is not what is being measured), remembered consents,
browser sessions, and ledger entries integrated into the Merkle tree. Rows go in with
PostgreSQL's COPY; the ledger through the ledger's own batched append (so its nodes, frontier
and checkpoints are real). Then it prints each table's rows, heap and index bytes, and bytes
per row: the input of docs/capacity.md.

    .venv/bin/python bench/seed_volume.py --residents 100000 [--database-url URL]

Without --database-url it uses a throwaway cluster (tests/support/postgres.py).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.ledger import postgres_url
from consent.ledger.service import Disclosure, Ledger
from identity.accounts.models import Account
from identity.accounts.service import Profile, store_profile
from identity.residents.hkid import check_digit
from identity.security.hashing import hasher_for
from identity.security.keyring import build_keyring
from kit import migrations
from kit.db import create_db_engine, create_session_factory, session_scope
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


def copy_rows(connection: Any, table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]) -> int:
    count = 0
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seed(url: str, residents: int, entries_per_resident: int, directory: str) -> None:
    settings = Settings(
        data_dir=Path(directory),
        database_url=url,
        master_key=base64.b64encode(secrets.token_bytes(32)).decode(),
        argon2_time_cost=2,
        argon2_memory_kib=19456,
    )
    master_key = base64.b64decode(settings.master_key or "")
    engine = create_db_engine(url)
    migrations.upgrade(engine)
    keyring = build_keyring(master_key, settings.field_key_generation)
    password_hash = hasher_for(settings).hash("a long demo passphrase")  # once: argon2id is slow by design
    now = datetime.now(UTC)
    ids: list[str] = []

    def accounts() -> Iterator[tuple[Any, ...]]:
        for i in range(residents):
            prefix = "Z" + f"{i:06d}"[-6:] if i < 10**6 else "Y" + f"{i - 10**6:06d}"
            hkid = prefix + check_digit(prefix)
            email = f"resident-{i}@example.hk"
            account = Account(id=secrets.token_hex(16))
            account.hkid_encrypted = keyring.fields.encrypt(
                hkid, context=f"account.hkid:{account.id}"
            )  # as enrol_resident
            store_profile(
                keyring,
                account,
                Profile(
                    name=f"CHAN Tai Man {i}",
                    name_zh="陳大文",
                    birthdate="1980-05-17",
                    gender="male",
                    address="Flat A, 12/F, 1 Queen's Road Central, Hong Kong",
                    phone="+85291234567",
                    email=email,
                ),
            )
            ids.append(account.id)
            yield (
                account.id,
                "resident",
                "active",
                keyring.hkid_digest(hkid),
                keyring.email_digest(email),
                account.hkid_encrypted,
                account.profile_encrypted,
                password_hash,
                now,
                "[]",
                "en",
                "self_asserted",
                now,
                now,
            )

    started = time.perf_counter()
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        raw.execute("SET statement_timeout = 0")  # one COPY per table, as long as it takes
        copy_rows(
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
            (
                tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)
                for row in accounts()
            ),
        )
        naive = now.replace(tzinfo=None)
        copy_rows(
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
            (
                (
                    secrets.token_hex(16),
                    secrets.token_hex(32),
                    account_id,
                    naive,
                    naive,
                    naive + timedelta(hours=12),
                    naive,
                    '["pwd"]',
                    "basic",
                )
                for account_id in ids
            ),
        )
        copy_rows(
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
            (
                (
                    secrets.token_urlsafe(24),
                    kind,
                    secrets.token_hex(32) if kind == "refresh" else None,
                    "td-licensing",
                    account_id,
                    secrets.token_hex(16),
                    "openid profile email",
                    '["birthdate", "email", "name"]',
                    "cg-" + secrets.token_hex(16),
                    family,
                    secrets.token_hex(32),
                    naive,
                    "basic",
                    '["pwd"]',
                    naive,
                    naive + timedelta(days=30 if kind == "refresh" else 0, minutes=10),
                )
                for account_id in ids
                for family in (secrets.token_urlsafe(16),)
                for kind in ("access", "refresh")
            ),
        )
        copy_rows(
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
            (
                (
                    "cg-" + secrets.token_hex(16),
                    account_id,
                    client,
                    department,
                    "Application for a licence renewal",
                    "續期申請",
                    json.dumps(["birthdate", "email", "name"]),
                    naive,
                    "consent_page",
                    True,
                    naive + timedelta(days=365),
                )
                for account_id in ids
                for client, department in CLIENTS[:3]
            ),
        )
        raw.commit()
    print(f"accounts, sessions, tokens, consents by COPY: {time.perf_counter() - started:.1f} s", flush=True)

    started = time.perf_counter()
    sessions = create_session_factory(engine)
    ledger = Ledger(origin="seed.example/consent/ledger", master_key=master_key)
    ledger.integrity.verify_head(sessions)
    total = residents * entries_per_resident
    batch: list[Disclosure] = []
    for n in range(total):  # accepted as releases are (the queue), integrated as the sequencer does
        client, department = CLIENTS[n % len(CLIENTS)]
        batch.append(
            Disclosure(
                ids[n % residents],
                client,
                department,
                "userinfo",
                ("sub", "name", "email"),
                "Licence renewal",
                "cg-seed",
                None,
                f"seed-{n}",
            )
        )
        if len(batch) == 5000 or n == total - 1:
            with unit_of_work(sessions) as db:
                ledger.enqueue_many(db, batch, now)
            with unit_of_work(sessions) as db:
                integrated = ledger.integrate(db, now, limit=len(batch))
            if integrated is not None:
                ledger.integrated(integrated)
            batch = []
    print(f"ledger: {total:,} entries integrated in {time.perf_counter() - started:.1f} s", flush=True)

    with engine.connect() as connection:
        connection.execute(text("ANALYZE"))
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
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--entries-per-resident", type=int, default=2)
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: a throwaway cluster)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        if args.database_url:
            seed(args.database_url, args.residents, args.entries_per_resident, directory)
        else:
            with postgres_url() as url:
                seed(url, args.residents, args.entries_per_resident, directory)


if __name__ == "__main__":
    main()
