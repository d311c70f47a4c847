#!/usr/bin/env python3
"""Screenshots for the README, taken from a real `govchain serve` in headless Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

writes verification-valid.png (the page a QR code opens, at 360 px like a phone) and
issue-form.png (the clerk's form for a dog permit, filled with the first example). Uses the same
harness as the browser tests (tests/support): a fresh home in a temporary directory, set up
with the command line, the system's Chromium, nothing downloaded.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the harnesses (tests/support)

from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir
from support.browser import (
    DESKTOP,
    PHONE,
    chromium,
    fill_form,
    login,
    missing_browser,
    page_screenshot,
    set_viewport,
    wait_css,
)
from support.serve import running_service

ROOT = Path(__file__).resolve().parents[1]
DOG = "gefaehrlicher-hund"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    reason = missing_browser()
    if reason:
        print(f"Kein Browser: {reason}", file=sys.stderr)
        return 2
    subject = copy.deepcopy(UseCaseRegistry.load(default_usecases_dir()).get(DOG).examples[0]["subject"])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="govchain-screenshots-") as tmp, \
            running_service(Path(tmp) / "home") as service, chromium() as driver:
        issued = service.issue(DOG, subject)
        url = service.link(issued["id"], hide=["/halter/geburtsdatum"])

        set_viewport(driver, *PHONE)
        driver.get(url)
        status = wait_css(driver, "#verification-result").get_attribute("data-status")
        if status != "VALID":
            print(f"Prüfseite zeigt {status}, nicht VALID", file=sys.stderr)
            return 1
        page_screenshot(driver, args.out / "verification-valid.png", PHONE[0], max_height=1250)

        set_viewport(driver, *DESKTOP)
        clerk = service.account("clerk")
        login(driver, service.base_url, clerk.username, clerk.password)
        driver.get(service.url(f"/documents/new/{DOG}"))
        wait_css(driver, "#issue-form")
        fill_form(driver, "#issue-form", subject)
        driver.execute_script("document.activeElement.blur()")
        page_screenshot(driver, args.out / "issue-form.png", DESKTOP[0], max_height=1700)
    for name in ("verification-valid.png", "issue-form.png"):
        print(args.out / name)
    print(f"{time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
