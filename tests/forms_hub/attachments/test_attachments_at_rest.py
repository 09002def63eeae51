"""Attachments over real HTTP (the audit's finding 8): files are decoded, not sniffed, so a
polyglot, a decompression bomb, a truncated PDF and a PDF with scripts or embedded files are
refused, by the API and by the page; what is accepted is sealed on disk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from forms_hub.attachments.storage import FilesystemStorage
from forms_hub.attachments.upgrade import seal_legacy_files
from tests.forms_hub.conftest import restaurant_answers, sign_in, toilet_answers
from tests.forms_hub.oidc_client.test_sign_in_and_prefill import csrf_of
from tests.forms_hub.sample_files import (
    PDF,
    PDF_WITH_EMBEDDED_FILE,
    PDF_WITH_HIDDEN_JAVASCRIPT,
    PDF_WITH_JAVASCRIPT,
    PNG,
    PNG_HTML_POLYGLOT,
    TRUNCATED_PDF,
    png_declaring,
)
from tests.support.live_server import LiveServer, free_port, start_live_server


@pytest.fixture
def storage(tmp_path: Path) -> FilesystemStorage:
    """The real filesystem store (the hub seals in front of it), so the disk can be read."""
    return FilesystemStorage(tmp_path / "attachments", fsync=False)


@pytest.fixture
def server(forms_app) -> Iterator[LiveServer]:
    live = start_live_server(forms_app, free_port())
    yield live
    live.stop()


@pytest.fixture
def http(server: LiveServer, provider) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        provider.profiles["acct-at-rest"] = {"name": "CHAN Tai Man", "birthdate": "1950-07-31"}
        sign_in(client, provider, "acct-at-rest")
        yield client


def files_on_disk(storage: FilesystemStorage) -> list[bytes]:
    return [path.read_bytes() for path in storage.root.rglob("*") if path.is_file()]


def photo_slot(http: httpx.Client) -> str:
    draft = http.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": toilet_answers()}
    )
    assert draft.status_code == 201, draft.text
    return f"/forms/api/submissions/{draft.json()['id']}/attachments"


def plan_slot(http: httpx.Client) -> str:
    draft = http.post(
        "/forms/api/submissions", json={"form": "food-business-licence", "answers": restaurant_answers()}
    )
    assert draft.status_code == 201, draft.text
    return f"/forms/api/submissions/{draft.json()['id']}/attachments"


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("fault.png", PNG_HTML_POLYGLOT, "markup"),
        ("fault.png", png_declaring(50_000, 50_000), "million pixels"),
        ("fault.png", png_declaring(8_000, 6_000), "million pixels"),
        ("fault.png", PNG[:-30], "damaged"),
    ],
    ids=["png-html-polyglot", "png-declaring-2.5-gigapixels", "png-declaring-48-megapixels", "truncated-png"],
)
def test_hostile_images_are_refused_by_the_api(http, storage, filename, content, reason):
    url = photo_slot(http)
    refused = http.post(url, data={"name": "photos"}, files={"file": (filename, content, "image/png")})
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "attachment_rejected" and reason in refused.json()["detail"]
    assert files_on_disk(storage) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (TRUNCATED_PDF, "damaged or incomplete"),
        (PDF_WITH_JAVASCRIPT, "scripts"),
        (PDF_WITH_HIDDEN_JAVASCRIPT, "scripts"),
        (PDF_WITH_EMBEDDED_FILE, "embedded files"),
    ],
    ids=["truncated", "javascript", "javascript-behind-name-escapes", "embedded-file"],
)
def test_hostile_pdfs_are_refused_by_the_api(http, storage, content, reason):
    url = plan_slot(http)
    refused = http.post(
        url, data={"name": "layout_plan"}, files={"file": ("plan.pdf", content, "application/pdf")}
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "attachment_rejected" and reason in refused.json()["detail"]
    assert files_on_disk(storage) == []


def test_the_page_refuses_a_polyglot_and_stores_nothing(http, storage):
    index = http.get("/forms/")
    started = http.post(
        "/forms/start/public-toilet-fault-report",
        data={"csrf_token": csrf_of(index.text)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    url = started.headers["location"]
    page = http.get(url).text
    posted = http.post(
        url + "?lang=en",
        data={**toilet_answers(), "csrf_token": csrf_of(page), "action": "save"},
        files={"file:photos": ("fault.png", PNG_HTML_POLYGLOT, "image/png")},
    )
    assert posted.status_code == 422 and "web page markup" in posted.text
    assert files_on_disk(storage) == []


def test_an_accepted_file_is_sealed_on_disk_and_comes_back_whole(http, storage):
    url = plan_slot(http)
    stored = http.post(
        url, data={"name": "layout_plan"}, files={"file": ("plan.pdf", PDF, "application/pdf")}
    )
    assert stored.status_code == 201, stored.text
    assert stored.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
    [on_disk] = files_on_disk(storage)
    assert PDF not in on_disk and b"%PDF" not in on_disk and b"/Catalog" not in on_disk
    assert stored.json()["sha256"][:14] not in str(list(storage.root.rglob("*")))  # names say nothing
    download = http.get(f"{url}/{stored.json()['id']}")
    assert download.status_code == 200 and download.content == PDF


def test_a_file_altered_on_disk_is_not_served(http, storage):
    url = photo_slot(http)
    stored = http.post(url, data={"name": "photos"}, files={"file": ("fault.png", PNG, "image/png")})
    assert stored.status_code == 201, stored.text
    [path] = [p for p in storage.root.rglob("*") if p.is_file()]
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    download = http.get(f"{url}/{stored.json()['id']}")
    assert download.status_code == 500 and PNG not in download.content
    assert download.json()["code"] == "attachment_damaged"


def test_files_stored_in_clear_by_an_older_version_are_served_then_sealed_once(
    http, storage, forms_runtime, hub_app
):
    url = plan_slot(http)
    stored = http.post(
        url, data={"name": "layout_plan"}, files={"file": ("plan.pdf", PDF, "application/pdf")}
    )
    assert stored.status_code == 201, stored.text
    [path] = [p for p in storage.root.rglob("*") if p.is_file()]
    path.write_bytes(PDF)  # as an older version wrote it: in clear, no seal marker
    assert http.get(f"{url}/{stored.json()['id']}").content == PDF

    assert seal_legacy_files(forms_runtime.sessions, hub_app.state.forms_storage, batch_size=1) == 1
    [on_disk] = files_on_disk(storage)
    assert PDF not in on_disk and not path.exists()
    assert http.get(f"{url}/{stored.json()['id']}").content == PDF
    assert seal_legacy_files(forms_runtime.sessions, hub_app.state.forms_storage) == 0
