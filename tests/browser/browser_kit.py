"""Helpers of the browser suite: whether it can run, the browser on the service (who is signed in,
axe at both widths)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from govchain.domain.usecases import UseCase, UseCaseRegistry, default_usecases_dir
from support.browser import (
    DESKTOP,
    PHONE,
    clear_cookies,
    format_violations,
    horizontal_overflow,
    login,
    missing_browser,
    run_axe,
    set_viewport,
)
from support.serve import ServeProcess

USECASES = UseCaseRegistry.load(default_usecases_dir())


def need_browser() -> None:
    """Skips the test without Chromium, unless the environment variable CI is set: then it
    fails, so a CI machine cannot pass by skipping."""
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"Browser-Tests in CI ohne Browser: {reason}")
    pytest.skip(reason)


@dataclass
class Web:
    """The browser on the service, with who is signed in."""

    driver: WebDriver
    service: ServeProcess
    signed_in: str | None = None

    def open(self, path: str) -> None:
        self.driver.get(self.service.url(path))

    def login(self, role: str) -> None:
        if self.signed_in == role:
            return
        account = self.service.account(role)
        login(self.driver, self.service.base_url, account.username, account.password)
        self.signed_in = role

    def logout(self) -> None:
        clear_cookies(self.driver)
        self.signed_in = None

    def axe(self, where: str, widths: tuple[int, ...] = (DESKTOP[0], PHONE[0])) -> list[str]:
        """axe-core's WCAG 2.1 AA violations of the page as it is now, and content wider than the
        viewport, at each width."""
        problems = []
        for width in widths:
            set_viewport(self.driver, width)
            violations = run_axe(self.driver)
            if violations:
                problems.append(format_violations(violations, f"{where} bei {width} px "
                                                              f"({self.driver.current_url})"))
            layout = int(self.driver.execute_script("return document.documentElement.clientWidth"))
            if layout > width:  # without <meta name=viewport> a phone lays the page out at 980 px
                problems.append(f"{where} bei {width} px: Seite wird {layout} px breit gesetzt")
            overflow = horizontal_overflow(self.driver)
            if overflow:  # a phone user would have to scroll sideways to read the page
                problems.append(f"{where} bei {width} px: waagerechtes Scrollen durch " + ", ".join(overflow))
        set_viewport(self.driver, *DESKTOP)
        return problems


def example(usecase_id: str, index: int = 0) -> dict[str, Any]:
    """A copy of a shipped example subject (without the code the office assigns)."""
    usecase: UseCase = USECASES.get(usecase_id)
    subject: dict[str, Any] = copy.deepcopy(usecase.examples[index]["subject"])
    if usecase.code_pointer:
        subject.pop(usecase.code_pointer.strip("/"), None)
    return subject
