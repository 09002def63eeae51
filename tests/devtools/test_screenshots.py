"""The screenshot tour's journeys open pages that exist (the tour itself runs Chromium for a
minute and more: `scripts/screenshots.py`, not the suite)."""

from __future__ import annotations

from dataclasses import replace

from starlette.testclient import TestClient

from devtools.screenshots import JOURNEYS
from egate.app import create_app


def test_every_page_a_journey_opens_by_address_exists(runtime):
    demo = replace(
        runtime,
        settings=runtime.settings.model_copy(update={"demo": True, "issuer": "http://127.0.0.1:8000"}),
    )
    paths = {path for journey in JOURNEYS for path in journey.paths}
    assert {"/signin", "/demo/mailbox", "/forms/officer"} <= paths
    with TestClient(create_app(demo), base_url="http://127.0.0.1:8000") as client:
        for path in sorted(paths):
            answer = client.get(path, follow_redirects=False)
            # a page, the way to one (sign-in first), or the hub saying it is not registered yet
            # (the tour's `egate serve --demo` registers it): anything but "no such page"
            assert answer.status_code not in (404, 405), path
