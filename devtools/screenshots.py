"""Screenshots of the main journeys for the README's quick tour (docs/screenshots/).

Starts `egate serve --demo` on a fresh data directory and a free port, adds a department
officer, and drives Debian's Chromium through Playwright (never a downloaded browser) through
each journey in English and Traditional Chinese at 320 px and 1280 px. Every picture is the
viewport only, named ``<step>-<language>-<width>.png`` so that a run replaces the same files.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep-data]

The journeys are data (:data:`JOURNEYS`): each names the pages it opens by address, which a
test checks against the app, so that a renamed page fails in the suite, not in a later run.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"  # Debian's package, as in tests/conftest.py
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LANGUAGES = ("en", "zh-HK")
# Chromium's locale: the browser's own parts (a date field's dd/mm/yyyy) as in Hong Kong.
BROWSER_LOCALES = {"en": "en-GB", "zh-HK": "zh-HK"}
VIEWPORTS = {320: 640, 1280: 800}  # width: height (CSS px)
OFFICER = ("officer.chan", "CHAN Siu Fong", "harbour lanterns glow at dusk 2025")
START_TIMEOUT_SECONDS = 180


@dataclass(frozen=True)
class Gateway:
    """A running `egate serve --demo` and the demo credentials its banner printed."""

    base_url: str
    resident: tuple[str, str]  # identity card number, password
    officer: tuple[str, str]  # user name, password

    def url(self, path: str) -> str:
        return self.base_url + path


@dataclass
class Tour:
    """One pass through the journeys: a language, a width, where the pictures go."""

    gateway: Gateway
    language: str
    width: int
    out_dir: Path
    taken: list[Path]

    def shot(self, page: Page, step: str) -> None:
        page.wait_for_load_state("networkidle")
        path = self.out_dir / f"{step}-{self.language}-{self.width}.png"
        save_png(page.screenshot(), path)
        self.taken.append(path)


@dataclass(frozen=True)
class Journey:
    name: str
    paths: tuple[str, ...]  # the pages it opens by address (the rest it reaches by clicking)
    run: Callable[[Tour, Page, Page], None]  # the tour, the resident's page, the officer's


def sign_in(tour: Tour, page: Page) -> None:
    page.goto(tour.gateway.url(f"/signin?lang={tour.language}"))
    tour.shot(page, "01-sign-in")
    identifier, password = tour.gateway.resident
    page.locator("#identifier").fill(identifier)
    page.locator("#password").fill(password)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url("**/account")
    tour.shot(page, "02-account")


def fill_a_form(tour: Tour, page: Page) -> None:
    """The forms hub: sign in through the provider, prefill from the identity (the provider's
    consent page), answer, submit, the receipt."""
    page.goto(tour.gateway.url("/forms/auth/login?next=/forms/"))
    page.wait_for_url("**/forms/")
    tour.shot(page, "03-forms")
    page.locator("form[action$='/start/public-toilet-fault-report'] button").click()
    page.locator("a[href$='/prefill']").click()
    page.locator("form[action$='/prefill'] button[type=submit]").click()
    page.locator("button[name=decision][value=approve]").wait_for()
    tour.shot(page, "04-consent")
    page.locator("button[name=decision][value=approve]").click()
    page.wait_for_url("**/edit?notice=prefilled")
    page.locator("#toilet_location").fill("Kowloon Park public toilet near Haiphong Road")
    page.locator("#district").select_option("yau-tsim-mong")
    page.locator("#fault_type-1").check()
    page.locator("#description").fill("The toilet in the second cubicle is blocked.")
    tour.shot(page, "05-form")
    page.locator("button[name=action][value=submit]").click()
    page.wait_for_url("**/receipt")
    tour.shot(page, "06-receipt")


def disclosures(tour: Tour, page: Page) -> None:
    page.goto(tour.gateway.url("/account/disclosures"))
    page.locator("table").first.evaluate("table => table.scrollIntoView({block: 'start'})")  # the record
    tour.shot(page, "07-disclosures")


def mailbox(tour: Tour, page: Page) -> None:
    """A password reset sends a code; the demo mailbox shows it."""
    page.goto(tour.gateway.url("/reset"))
    page.locator("#identifier").fill(tour.gateway.resident[0])
    page.locator("form[action='/reset'] button[type=submit]").click()
    page.locator(".demo-mailbox-link a").click()
    page.wait_for_url("**/demo/mailbox")
    tour.shot(page, "08-mailbox")


def officer_queue(tour: Tour, page: Page) -> None:
    page.goto(tour.gateway.url(f"/forms/auth/login?next=/forms/officer&lang={tour.language}"))
    username, password = tour.gateway.officer
    page.locator("#identifier").fill(username)
    page.locator("#password").fill(password)
    page.locator("form:has(#password) button[type=submit]").click()
    page.wait_for_url("**/forms/officer")
    tour.shot(page, "09-officer-queue")


JOURNEYS = (
    Journey("sign-in", ("/signin", "/account"), lambda tour, page, _officer: sign_in(tour, page)),
    Journey("form", ("/forms/auth/login", "/forms/"), lambda tour, page, _officer: fill_a_form(tour, page)),
    Journey("disclosures", ("/account/disclosures",), lambda tour, page, _officer: disclosures(tour, page)),
    Journey("mailbox", ("/reset", "/demo/mailbox"), lambda tour, page, _officer: mailbox(tour, page)),
    Journey("officer", ("/forms/officer",), lambda tour, _page, officer: officer_queue(tour, officer)),
)


def save_png(png: bytes, path: Path) -> None:
    """A palette PNG: pages are flat colours and text, so 256 colours look the same at a
    fraction of the size."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def newcomer_environment(data_dir: Path) -> dict[str, str]:
    """What a newcomer has: no EGATE_* of ours but the data directory."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("EGATE_")}
    env["EGATE_DATA_DIR"] = str(data_dir)
    return env


def banner_value(banner: str, label: str) -> str:
    found = re.search(rf"{re.escape(label)}:\s+(\S+)", banner)
    if found is None:
        raise RuntimeError(f"the demo banner names no {label!r}:\n{banner}")
    return found.group(1)


@contextmanager
def served_demo(data_dir: Path) -> Iterator[Gateway]:
    port, env = free_port(), newcomer_environment(data_dir)
    command = [sys.executable, "-m", "egate.cli", "serve", "--demo", "--port", str(port)]
    log = data_dir / "serve.log"  # a file, not a pipe: nobody has to keep reading it
    with log.open("w") as output:
        # Our own command line with fixed arguments (S603: nothing here comes from outside).
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)  # noqa: S603
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready(base_url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("egate serve --demo did not start:\n" + log.read_text())
            time.sleep(0.3)
        banner = log.read_text()
        username, name, password = OFFICER
        created = subprocess.run(  # noqa: S603 - our own command line, fixed arguments
            [sys.executable, "-m", "egate.cli", "staff", "create", "--username", username, "--name", name]
            + ["--department", "FEHD", "--role", "officer", "--password-stdin"],
            input=password + "\n",
            env=env,
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise RuntimeError(f"egate staff create failed: {created.stderr}")
        resident = (banner_value(banner, "identity card number"), banner_value(banner, "password"))
        yield Gateway(base_url, resident, (username, password))
    finally:
        process.terminate()
        process.wait(timeout=30)


def ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/health/ready").status_code == 200
    except httpx.TransportError:
        return False


def take(browser: Browser, gateway: Gateway, out_dir: Path) -> list[Path]:
    taken: list[Path] = []
    for language in LANGUAGES:
        for width, height in VIEWPORTS.items():
            tour = Tour(gateway, language, width, out_dir, taken)
            viewport = {"width": width, "height": height}
            locale = BROWSER_LOCALES[language]
            resident = browser.new_context(viewport=viewport, locale=locale)  # type: ignore[arg-type]
            officer = browser.new_context(viewport=viewport, locale=locale)  # type: ignore[arg-type]
            try:
                resident_page, officer_page = resident.new_page(), officer.new_page()
                for journey in JOURNEYS:
                    journey.run(tour, resident_page, officer_page)
            finally:
                resident.close()
                officer.close()
            print(f"  {language} at {width} px: {len(taken)} pictures so far", flush=True)
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--keep-data", action="store_true", help="keep the demo's data directory")
    args = parser.parse_args(argv)
    if not shutil.which(CHROMIUM):
        print(f"{CHROMIUM} is missing: apt-get install chromium (no browser is downloaded)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="egate-screenshots-"))
    try:
        with served_demo(data_dir) as gateway, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                taken = take(browser, gateway, args.out)
            finally:
                browser.close()
    finally:
        if not args.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
    print(f"wrote {len(taken)} screenshots into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
