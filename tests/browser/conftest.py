"""One real `govchain serve` and one headless Chromium for the whole browser suite.

The service's home is set up with the command line as the README shows (init, registry admit,
users add); test data that is not itself under test (documents to look at, a revoked one) is made
through the REST API, which is quicker than clicking. Without Chromium the suite is skipped, unless
the environment variable CI is set: then it fails, so a CI machine cannot pass by skipping.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_kit import Web, need_browser
from selenium.webdriver.remote.webdriver import WebDriver

from support.browser import DESKTOP, chromium, enable_downloads, set_viewport
from support.serve import ServeProcess, running_service


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    need_browser()
    home = tmp_path_factory.mktemp("browser") / "home"
    with running_service(home) as running:
        yield running


@pytest.fixture(scope="session")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="session")
def session_driver(service: ServeProcess, downloads: Path) -> Iterator[WebDriver]:
    with chromium() as driver:
        enable_downloads(driver, downloads)
        yield driver


@pytest.fixture(scope="session")
def web(session_driver: WebDriver, service: ServeProcess) -> Web:
    """The session's browser; each test signs in as it needs."""
    return Web(session_driver, service)


@pytest.fixture(autouse=True)
def _desktop_width(web: Web) -> None:
    """Every test starts at desktop width, whatever the test before did."""
    set_viewport(web.driver, *DESKTOP)

