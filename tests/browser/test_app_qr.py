"""The app sign-in page in Chromium: the QR image decodes to the payload the app reads, and
the page moves on by itself once the phone approves."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from devtools.phone_app import PhoneApp
from kit.db import session_scope

pytestmark = pytest.mark.browser


def test_qr_code_decodes_to_the_payload_and_the_page_moves_on(site, page, tmp_path):
    from egate.demo import seed_phone_app_client

    for db in session_scope(site.runtime.sessions):
        seed_phone_app_client(db, site.runtime)
    resident = site.new_resident()
    phone = PhoneApp(site.base_url, tmp_path / "phone.json")
    phone.sign_in_and_bind(resident["hkid"], resident["password"])

    page.goto(site.url("/signin"))
    page.get_by_role("button", name="Sign in with the e-Gateway app").click()
    page.wait_for_selector("#app-qr svg")
    image = Image.open(io.BytesIO(page.locator("#app-qr").screenshot()))
    [barcode] = zxingcpp.read_barcodes(image)
    link = page.locator("#open-app").get_attribute("href")
    assert barcode.text == link
    assert "rid=" in link and resident["hkid"] not in link

    details = phone.view(barcode.text)
    assert details["code"] == page.locator("#short-code").inner_text()
    phone.approve(barcode.text, details["code"])
    page.wait_for_url(site.url("/account"), timeout=15_000)
    assert page.get_by_role("heading", level=1).count() >= 1
