"""Forms hub throughput and queue latency over real HTTP.

Starts `egate serve` (one worker process, SQLite in a temp data dir), seeds a 20-field form,
signed-in residents and a department back-end client, then drives from this process:

1. submissions of a 20-answer form with a 200 KB PDF: first in one multipart request
   (POST /forms/api/forms/{slug}/submissions), then as a page would: save a draft, upload the
   file, submit. Each submission gets a reference number, an ES256 receipt, a history row, a
   notification and a disclosure-ledger append in its transaction; the file is fsynced.
   Reports submissions/s and latencies.
2. queue: fills the database up to --queue-size submissions (bulk insert), then times the
   department queue API (client_credentials token verified against the JWKS): first pages,
   filtered pages and deep keyset pages. Reports p50/p99.

    .venv/bin/python bench/forms.py [--submissions 1000] [--concurrency 8] [--queue-size 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
DEPARTMENT = "BENCH"
ATTACHMENT = b"%PDF-1.7\n" + os.urandom(200 * 1024 - 20) + b"\n%%EOF\n"

CHOICES = {"en": "Choice", "zh-HK": "選項"}


def bench_form() -> dict:
    """A mid-size form: 20 answers of every kind, one PDF attachment."""
    text = lambda en, zh: {"en": en, "zh-HK": zh}  # noqa: E731
    properties: dict = {}
    fields: dict = {}
    for i in range(8):
        properties[f"text_{i}"] = {"type": "string", "minLength": 2, "maxLength": 200}
        fields[f"text_{i}"] = {"label": text(f"Text {i}", f"文字 {i}")}
    for i in range(3):
        properties[f"choice_{i}"] = {"type": "string", "enum": ["a", "b", "c", "d"]}
        fields[f"choice_{i}"] = {
            "label": text(f"Choice {i}", f"選擇 {i}"),
            "options": {v: CHOICES for v in "abcd"},
        }
    for i in range(3):
        properties[f"number_{i}"] = {"type": "integer", "minimum": 0, "maximum": 1_000_000}
        fields[f"number_{i}"] = {"label": text(f"Number {i}", f"數字 {i}")}
    for i in range(2):
        properties[f"date_{i}"] = {"type": "string", "format": "date"}
        fields[f"date_{i}"] = {"label": text(f"Date {i}", f"日期 {i}")}
    properties["email"] = {"type": "string", "format": "email"}
    fields["email"] = {"label": text("Email", "電郵")}
    properties["phone"] = {"type": "string", "pattern": r"^\+?[0-9 ]{8,16}$"}
    fields["phone"] = {"label": text("Phone", "電話")}
    properties["items"] = {
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": ["x", "y", "z"]},
    }
    fields["items"] = {"label": text("Items", "項目"), "options": {v: CHOICES for v in "xyz"}}
    properties["declaration"] = {"type": "boolean", "const": True}
    fields["declaration"] = {"label": text("Declaration", "聲明")}
    names = list(properties)
    return {
        "slug": "bench-mid-size-form",
        "department": DEPARTMENT,
        "department_name": text("Benchmark Department", "基準測試部門"),
        "title": text("Benchmark form", "基準測試表格"),
        "purpose": text("Benchmark", "基準測試"),
        "schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "additionalProperties": False,
            "required": names,
            "properties": properties,
        },
        "pages": [
            {"id": f"p{i}", "title": text(f"Page {i}", f"第{i}頁"), "fields": names[i * 5 : i * 5 + 5]}
            for i in range(4)
        ],
        "fields": fields,
        "attachments": [
            {
                "name": "document",
                "label": text("Supporting document", "證明文件"),
                "types": ["application/pdf"],
                "max_bytes": 1024 * 1024,
                "required": True,
            }
        ],
    }


def answers() -> dict:
    result: dict = {f"text_{i}": f"Some answer number {i} {secrets.token_hex(4)}" for i in range(8)}
    result.update({f"choice_{i}": random.choice("abcd") for i in range(3)})
    result.update({f"number_{i}": random.randint(0, 1_000_000) for i in range(3)})
    result.update(
        {"date_0": "2025-03-31", "date_1": "2024-12-01", "email": "bench@example.hk", "phone": "+85291234567"}
    )
    result.update({"items": ["x", "z"], "declaration": True})
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed(env: dict[str, str], residents: int) -> dict:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    from forms_hub.config import FormsConfig
    from forms_hub.definitions.service import load
    from forms_hub.oidc_client.keys import RelyingPartyKeys
    from forms_hub.oidc_client.service import create_session_for_tests
    from identity.clients.service import Registration, register
    from kit import migrations
    from kit.db import session_scope
    from kit.runtime import Runtime
    from kit.settings import load_settings

    runtime = Runtime.build(load_settings())
    migrations.upgrade(runtime.engine)
    keys, ttl = RelyingPartyKeys(runtime.master_key), FormsConfig().session_ttl
    cookies = []
    for db in session_scope(runtime.sessions):
        load(db, bench_form(), runtime.clock(), publish=True)
        for i in range(residents):
            cookies.append(create_session_for_tests(db, keys, f"bench-resident-{i}", runtime.clock(), ttl))
        client, secret = register(
            db,
            runtime.master_key,
            Registration(
                name="Bench back-end",
                department=DEPARTMENT,
                redirect_uris=[],
                grant_types=("client_credentials",),
                allowed_scopes=("forms:department",),
            ),
            runtime.clock(),
        )
        credentials = (client.client_id, secret)
    runtime.engine.dispose()
    return {"cookies": cookies, "credentials": credentials}


def fill_queue(env: dict[str, str], target: int) -> int:
    """Bulk-insert submitted (not drafts) rows until the department has ``target``."""
    from sqlalchemy import func, insert, select

    from forms_hub.definitions import repository as definitions
    from forms_hub.submissions.models import Submission
    from forms_hub.submissions.numbers import format_number
    from kit.runtime import Runtime
    from kit.settings import load_settings

    runtime = Runtime.build(load_settings())
    with runtime.sessions() as db:
        definition = definitions.published(db, "bench-mid-size-form")
        definition_id, slug = definition.id, definition.slug
        have = db.scalar(
            select(func.count()).select_from(Submission).where(Submission.department == DEPARTMENT)
        )
    statuses = ["submitted"] * 5 + ["in_review"] * 3 + ["info_requested", "approved", "rejected", "withdrawn"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    sealed = "v1:" + "A" * 900  # about the size of 20 sealed answers; the queue never opens them
    batch: list[dict] = []
    for n in range(have, target):
        moment = start + timedelta(seconds=n * 30)
        batch.append(
            {
                "id": uuid.uuid4().hex,
                "definition_id": definition_id,
                "form_slug": slug,
                "department": DEPARTMENT,
                "resident_sub": f"bulk-{n % 5000}",
                "status": statuses[n % len(statuses)],
                "reference": format_number(DEPARTMENT, 2024, 500_000 + n),
                "answers_sealed": sealed,
                "answers_digest": "0" * 64,
                "prefill": {},
                "assigned_to": f"officer-{n % 7}" if n % 3 else None,
                "created_at": moment,
                "updated_at": moment,
                "submitted_at": moment,
            }
        )
        if len(batch) == 5000:
            with runtime.engine.begin() as connection:
                connection.execute(insert(Submission), batch)
            batch = []
    if batch:
        with runtime.engine.begin() as connection:
            connection.execute(insert(Submission), batch)
    with runtime.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        total = connection.execute(
            select(func.count()).select_from(Submission).where(Submission.department == DEPARTMENT)
        ).scalar_one()
    runtime.engine.dispose()
    return total


def report(name: str, count: int, elapsed: float, latencies: list[float], unit: str = "req/s") -> None:
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"{name:<34} {count / elapsed:8.1f} {unit:<14} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms")


async def submissions(base: str, seeded: dict, n: int, concurrency: int) -> None:
    cookies = seeded["cookies"]
    steps: dict[str, list[float]] = {"draft": [], "upload": [], "submit": []}
    whole: list[float] = []
    queue = list(range(n))
    limits = httpx.Limits(max_connections=concurrency * 2)

    async def worker(index: int) -> None:
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
            http.cookies.set("forms_session", cookies[index % len(cookies)], path="/forms")
            while queue:
                queue.pop()
                t0 = time.perf_counter()
                draft = await http.post(
                    "/forms/api/submissions", json={"form": "bench-mid-size-form", "answers": answers()}
                )
                assert draft.status_code == 201, draft.text
                t1 = time.perf_counter()
                draft_id = draft.json()["id"]
                upload = await http.post(
                    f"/forms/api/submissions/{draft_id}/attachments",
                    data={"name": "document"},
                    files={"file": ("document.pdf", ATTACHMENT, "application/pdf")},
                )
                assert upload.status_code == 201, upload.text
                t2 = time.perf_counter()
                done = await http.post(
                    f"/forms/api/submissions/{draft_id}/submit",
                    headers={"Idempotency-Key": secrets.token_hex(8)},
                )
                assert done.status_code == 200, done.text
                t3 = time.perf_counter()
                steps["draft"].append(t1 - t0)
                steps["upload"].append(t2 - t1)
                steps["submit"].append(t3 - t2)
                whole.append(t3 - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    report("submission (draft+upload+submit)", n, elapsed, whole, "submissions/s")
    for name, values in steps.items():
        report(f"  {name}", n, elapsed, values, "(per step)")


async def one_request_submissions(base: str, seeded: dict, n: int, concurrency: int) -> None:
    """Answers and the file in one multipart request (POST /forms/api/forms/{slug}/submissions)."""
    import json

    cookies = seeded["cookies"]
    latencies: list[float] = []
    queue = list(range(n))

    async def worker(index: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            http.cookies.set("forms_session", cookies[index % len(cookies)], path="/forms")
            while queue:
                queue.pop()
                t0 = time.perf_counter()
                response = await http.post(
                    "/forms/api/forms/bench-mid-size-form/submissions",
                    files={
                        "answers": (None, json.dumps(answers())),
                        "document": ("document.pdf", ATTACHMENT, "application/pdf"),
                    },
                    headers={"Idempotency-Key": secrets.token_hex(8)},
                )
                assert response.status_code == 201, response.text
                latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    report("submission (one multipart request)", n, time.perf_counter() - started, latencies, "submissions/s")


async def queue_latency(base: str, token: str, n: int, total: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
        first = await http.get("/forms/api/department/submissions?limit=50")
        assert first.status_code == 200, first.text
        cursors = [first.json()["next_cursor"]]
        walk = max(1, min(40, (total - 50) // 200 - 1))
        for _ in range(walk):  # walk deep into the queue to have cursors far from the start
            page = await http.get(f"/forms/api/department/submissions?limit=200&cursor={cursors[-1]}")
            cursors.append(page.json()["next_cursor"])
        queries = [
            "/forms/api/department/submissions?limit=50",
            "/forms/api/department/submissions?limit=50&sort=newest",
            "/forms/api/department/submissions?limit=50&status=submitted",
            "/forms/api/department/submissions?limit=50&status=in_review&assigned=officer-1",
            "/forms/api/department/submissions?limit=50&assigned=none&sort=newest",
            "/forms/api/department/submissions?limit=50&status=info_requested,approved",
        ] + [f"/forms/api/department/submissions?limit=50&cursor={c}" for c in cursors[1::4] if c]
        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(n):
            t0 = time.perf_counter()
            response = await http.get(queries[i % len(queries)])
            assert response.status_code == 200 and response.json()["items"], response.text
            latencies.append(time.perf_counter() - t0)
        report("queue page (50 rows, one client)", n, time.perf_counter() - started, latencies)


def department_token(base: str, credentials: tuple[str, str]) -> str:
    response = httpx.post(
        f"{base}/token",
        data={"grant_type": "client_credentials", "scope": "forms:department"},
        auth=credentials,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "egate.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("egate serve did not start")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--queue-size", type=int, default=100_000)
    parser.add_argument("--queue-requests", type=int, default=1000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="egate-forms-bench-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"EGATE_DATA_DIR": data_dir, "EGATE_ISSUER": base, "EGATE_LOG_LEVEL": "warning"}
    seeded = seed(env, residents=args.concurrency * 4)
    server = serve(env, port)
    try:
        print(f"egate serve: one worker, SQLite at {data_dir}; concurrency {args.concurrency}")
        asyncio.run(one_request_submissions(base, seeded, args.submissions, args.concurrency))
        asyncio.run(submissions(base, seeded, args.submissions, args.concurrency))
        total = fill_queue(env, args.queue_size)
        print(f"queue: {total} submissions of department {DEPARTMENT} in the database")
        token = department_token(base, seeded["credentials"])
        asyncio.run(queue_latency(base, token, args.queue_requests, total))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
