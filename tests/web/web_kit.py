"""Helpers of the page tests: the real service (embedded chain, SQLite) driven through its pages as a
browser would, with forms, cookies, CSRF tokens and redirects."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings
from support.databases import fresh_database

AACHEN = "05334002"
KOELN = "05315000"
BASE_URL = "https://pruefen.example.de"
PASSWORD = "ein langes Passwort"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8)
DOG = "gefaehrlicher-hund"
MUSIC = "strassenmusik"
LANDLORD_USECASE = "wohnungsgeberbestaetigung"


@dataclass(frozen=True)
class Site:
    """The running service and the people who use it."""

    app_client: TestClient
    home: Path

    @property
    def ctx(self) -> Context:
        ctx: Context = self.app_client.app.state.context  # type: ignore[attr-defined]
        return ctx

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.app_client.app.state.engine)  # type: ignore[attr-defined]

    def browser(self) -> TestClient:
        """A fresh browser (own cookie jar) on the same app, over https like the base URL."""
        return TestClient(self.app_client.app, base_url="https://testserver")


def make_site(tmp_path_factory: pytest.TempPathFactory, usecases_dir: Path | None = None,
              **settings: Any) -> Iterator[Site]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    home = tmp_path_factory.mktemp("web-home")
    databases = fresh_database("sqlite", tmp_path_factory.mktemp("web-db"))
    next(databases)
    try:
        with TestClient(create_app(Settings(home=home, public_base_url=BASE_URL,
                                            usecases=usecases_dir, **settings)),
                        base_url="https://testserver") as client:
            site = Site(client, home)
            services.admit_municipality(site.ctx, AACHEN, "Stadt Aachen",
                                        [uc.id for uc in site.ctx.usecases.all()])
            services.admit_municipality(site.ctx, KOELN, "Stadt Köln", [DOG])
            with site.uow() as uow:
                for username, role, ags in [("sb.aachen", "clerk", AACHEN),
                                            ("sb.koeln", "clerk", KOELN),
                                            ("registratur", "registrar", None),
                                            ("vermieter", "landlord", None),
                                            ("vermieterin", "landlord", None)]:
                    uow.users.add(username=username, role=role,  # type: ignore[arg-type]
                                  password_hash=hash_password(PASSWORD, hasher=CHEAP),
                                  municipality_ags=ags, display_name=username)
                uow.commit()
            yield site
    finally:
        databases.close()
        mp.undo()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "page without a CSRF token"
    return found.group(1)


def login(site: Site, username: str, password: str = PASSWORD) -> TestClient:
    browser = site.browser()
    page = browser.get("/login")
    assert page.status_code == 200
    response = browser.post("/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_of(page.text)})
    assert response.status_code == 200, response.text  # followed the redirect to the role's home
    return browser


def post_form(browser: TestClient, page_url: str, action: str, data: dict[str, Any],
              **kwargs: Any) -> Response:
    """Opens `page_url` for its CSRF token, then posts `data` to `action`."""
    page = browser.get(page_url)
    assert page.status_code == 200, page.text
    return browser.post(action, data={**data, "csrf_token": csrf_of(page.text)}, **kwargs)


def example(site: Site, usecase: str, index: int = 0) -> dict[str, Any]:
    subject: dict[str, Any] = copy.deepcopy(site.ctx.usecases.get(usecase).examples[index]["subject"])
    if "zeitfenster" in subject:  # usable at any hour the test happens to run
        subject["zeitfenster"] = [{"tage": ["mo", "di", "mi", "do", "fr", "sa", "so"],
                                   "von": "00:00", "bis": "24:00"}]
    return subject


def text_of(html: str) -> str:
    """The visible words of a page, tags removed, whitespace collapsed."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without))).strip()


def status_of_page(html: str) -> str:
    found = re.search(r'id="verification-result" data-status="([A-Z_]+)"', html)
    assert found, "page without a verification result"
    return found.group(1)
