"""What may be issued at all, refused before anything is stored: types a municipality is not
admitted for, suspended municipalities (finding 4), implausible and extreme dates (finding 7);
and a batch the ledger refused anyway shows in /readyz."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.tokens import issue_token
from govchain.pipeline.anchoring import Anchoring
from govchain.pipeline.batches import anchor_now
from govchain.settings import Settings
from support.databases import fresh_database

AACHEN = "05334002"  # admitted for every type
KOELN = "05315000"  # admitted only for street music, as in the finding
BONN = "05314000"  # admitted for every type, then suspended
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8)
DOG = "gefaehrlicher-hund"
MUSIC = "strassenmusik"
CONFIRMATION = "wohnungsgeberbestaetigung"
ALL = [DOG, MUSIC, CONFIRMATION]
YEAR_9999 = "9999-12-31T23:59:59-14:00"
YEAR_1 = "0001-01-01T00:00:00+14:00"


@dataclass(frozen=True)
class World:
    client: TestClient
    clerk: dict[str, str]  # Aachen
    koeln: dict[str, str]
    bonn: dict[str, str]
    landlord: dict[str, str]

    @property
    def ctx(self) -> Context:
        ctx: Context = self.client.app.state.context  # type: ignore[attr-defined]
        return ctx

    @property
    def engine(self) -> Engine:
        engine: Engine = self.client.app.state.engine  # type: ignore[attr-defined]
        return engine

    def stored(self) -> int:
        """Documents in the database: what a refused request must not change."""
        with UnitOfWork(self.engine) as uow:
            return uow.documents.count()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    home: Path = tmp_path_factory.mktemp("issuing-rules")
    databases: Any = fresh_database("sqlite", tmp_path_factory.mktemp("db"))  # a generator
    next(databases)
    settings = Settings(home=home, public_base_url="https://pruefen.example.de")
    try:
        with TestClient(create_app(settings)) as client:
            ctx: Context = client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", ALL)
            services.admit_municipality(ctx, KOELN, "Stadt Köln", [MUSIC])
            services.admit_municipality(ctx, BONN, "Bundesstadt Bonn", ALL)
            services.suspend_municipality(ctx, BONN)
            key: bytes = client.app.state.token_key  # type: ignore[attr-defined]

            def user(username: str, role: str, ags: str | None = None) -> dict[str, str]:
                with UnitOfWork(client.app.state.engine) as uow:  # type: ignore[attr-defined]
                    added = uow.users.add(
                        username=username, role=role,  # type: ignore[arg-type]
                        password_hash=hash_password("unbenutzt-im-test", hasher=CHEAP),
                        municipality_ags=ags, display_name=username)
                    uow.commit()
                token = issue_token(key, user_id=added.id, role=added.role,
                                    at=datetime.now(UTC), ttl=timedelta(hours=1))
                return {"Authorization": f"Bearer {token}"}

            yield World(client, clerk=user("sb.aachen", "clerk", AACHEN),
                        koeln=user("sb.koeln", "clerk", KOELN),
                        bonn=user("sb.bonn", "clerk", BONN),
                        landlord=user("vermieter", "landlord"))
    finally:
        databases.close()
        mp.undo()


def subject(world: World, usecase: str, index: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = copy.deepcopy(world.ctx.usecases.get(usecase).examples[index]["subject"])
    if usecase == CONFIRMATION:
        found.pop("zuordnungsmerkmal", None)  # the office gives it
    return found


def issue(world: World, headers: dict[str, str], usecase: str = DOG, **extra: Any) -> Response:
    body = {"usecase": usecase, "subject": subject(world, usecase), **extra}
    response: Response = world.client.post("/api/v1/documents", json=body, headers=headers)
    return response


def bulk(world: World, headers: dict[str, str], items: list[dict[str, Any]],
         usecase: str = DOG) -> Response:
    response: Response = world.client.post("/api/v1/documents/bulk", headers=headers,
                                           json={"usecase": usecase, "items": items})
    return response


# -- finding 4: only what the registry admits -------------------------------------------------

def test_a_clerk_cannot_issue_a_type_the_municipality_is_not_admitted_for(world: World) -> None:
    before = world.stored()
    refused = issue(world, world.koeln, DOG)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"] == \
        "Stadt Köln ist für „Erlaubnis zum Halten eines gefährlichen Hundes“ nicht zugelassen"
    refused = bulk(world, world.koeln, [{"subject": subject(world, DOG)}] * 3)
    assert refused.status_code == 403 and "nicht zugelassen" in refused.json()["detail"]
    assert world.stored() == before
    # what Köln is admitted for it issues
    assert issue(world, world.koeln, MUSIC).status_code == 202


def test_a_landlord_cannot_submit_to_a_municipality_not_admitted_for_it(world: World) -> None:
    before = world.stored()
    refused = issue(world, world.landlord, CONFIRMATION, municipality=KOELN)
    assert refused.status_code == 403, refused.text
    assert refused.json() == {"detail": "Stadt Köln ist für „Wohnungsgeberbestätigung“ nicht "
                                        "zugelassen"}  # and no Zuordnungsmerkmal
    unknown = issue(world, world.landlord, CONFIRMATION, municipality="05999999")
    assert unknown.status_code == 403 and "nicht zugelassen" in unknown.json()["detail"]
    malformed = issue(world, world.landlord, CONFIRMATION, municipality="Köln")
    assert malformed.status_code == 400 and "AGS" in malformed.json()["detail"]
    assert world.stored() == before
    accepted = issue(world, world.landlord, CONFIRMATION, municipality=AACHEN)
    assert accepted.status_code == 201 and accepted.json()["landlordCode"]


def test_a_suspended_municipality_neither_issues_nor_receives(world: World) -> None:
    before = world.stored()
    for response in (issue(world, world.bonn, DOG),
                     bulk(world, world.bonn, [{"subject": subject(world, DOG)}]),
                     issue(world, world.landlord, CONFIRMATION, municipality=BONN)):
        assert response.status_code == 403, response.text
        assert response.json()["detail"] == ("Bundesstadt Bonn ist derzeit gesperrt und kann "
                                             "keine Dokumente ausstellen oder entgegennehmen")
        assert "landlordCode" not in response.json()
    assert world.stored() == before


# -- finding 7: plausible dates, per item -----------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("validFrom", YEAR_9999), ("validFrom", YEAR_1), ("validUntil", YEAR_9999),
    ("validUntil", YEAR_1), ("validFrom", "1990-01-01T00:00:00+01:00"),
    ("validFrom", "2999-01-01T00:00:00+01:00"),
])
def test_an_extreme_date_is_a_field_error_not_a_database_error(world: World, field: str,
                                                                value: str) -> None:
    before = world.stored()
    refused = issue(world, world.clerk, DOG, **{field: value})
    assert refused.status_code == 422, refused.text
    assert [e["loc"] for e in refused.json()["detail"]] == [f"/{field}"]
    refused = issue(world, world.clerk, MUSIC, **{field: value})  # default validity: 7 days
    assert refused.status_code == 422, refused.text
    assert world.stored() == before


def test_validity_limits_come_from_the_use_case(world: World) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    old = (now - timedelta(days=60)).isoformat()
    # a dog permit may be issued for one granted two months ago; a street-music permit not
    assert issue(world, world.clerk, DOG, validFrom=old).status_code == 202
    refused = issue(world, world.clerk, MUSIC, validFrom=old)
    assert refused.status_code == 422
    assert refused.json()["detail"] == [{"loc": "/validFrom", "msg": "Gültig ab: darf höchstens "
                                         "31 Tage vor dem Ausstellen liegen"}]
    long = issue(world, world.clerk, MUSIC, validFrom=now.isoformat(),
                 validUntil=(now + timedelta(days=400)).isoformat())
    assert long.status_code == 422 and long.json()["detail"][0]["loc"] == "/validUntil"


def test_a_subject_date_in_an_implausible_year_is_a_field_error(world: World) -> None:
    dog = subject(world, DOG)
    dog["halter"]["geburtsdatum"] = "0001-01-01"
    refused = world.client.post("/api/v1/documents", json={"usecase": DOG, "subject": dog},
                                headers=world.clerk)
    assert refused.status_code == 422
    assert refused.json()["detail"] == [{"loc": "/halter/geburtsdatum", "msg": (
        "Geburtsdatum des Halters: das Jahr muss zwischen 1900 und 2100 liegen")}]


def test_a_street_music_permit_for_more_performers_than_its_rules_allow_is_refused(
        world: World) -> None:
    music = subject(world, MUSIC)
    music["besetzung"]["personen"] = 12  # the preset of Aachen allows 5
    before = world.stored()
    refused = world.client.post("/api/v1/documents", json={"usecase": MUSIC, "subject": music},
                                headers=world.clerk)
    assert refused.status_code == 422
    (problem,) = refused.json()["detail"]
    assert problem["loc"] == "/besetzung/personen"
    assert problem["msg"].startswith("Anzahl der Mitwirkenden: höchstens 5 ")
    assert "Sondernutzungssatzung" in problem["msg"]
    assert world.stored() == before  # nothing stored


def test_one_extreme_date_in_a_bulk_request_refuses_only_that_item(world: World) -> None:
    before = world.stored()
    items: list[dict[str, Any]] = [{"subject": subject(world, DOG, i % 3)} for i in range(120)]
    items[37] = {**items[37], "validFrom": YEAR_9999}
    items[80] = {**items[80], "validFrom": YEAR_1}
    answer = bulk(world, world.clerk, items)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [r["index"] for r in body["rejected"]] == [37, 80]
    assert all(r["errors"][0]["loc"] == "/validFrom" for r in body["rejected"])
    assert len(body["accepted"]) == 118 and world.stored() == before + 118


@pytest.mark.parametrize("value", [1700000000, 1.7e9, "1700000000", "2026-05-01",
                                   "2026-05-01T10:30:00", True])
def test_a_number_or_a_date_without_zone_is_never_taken_as_a_time(world: World,
                                                                   value: object) -> None:
    before = world.stored()
    assert issue(world, world.clerk, DOG, validFrom=value).status_code == 422
    assert issue(world, world.clerk, DOG, validUntil=value).status_code == 422
    assert bulk(world, world.clerk, [{"subject": subject(world, DOG), "validFrom": value}]
                ).status_code == 422
    assert world.stored() == before


def test_a_link_expiry_is_a_time_with_zone_within_a_century(world: World) -> None:
    issued = world.client.post("/api/v1/documents?wait=true", headers=world.clerk, json={
        "usecase": DOG, "subject": subject(world, DOG)})
    assert issued.status_code == 201, issued.text
    links = f"/api/v1/documents/{issued.json()['id']}/links"
    for value in (1900000000, "1900000000"):
        assert world.client.post(links, json={"expiresAt": value},
                                 headers=world.clerk).status_code == 422
    far = world.client.post(links, json={"expiresAt": YEAR_9999}, headers=world.clerk)
    assert far.status_code == 400 and "100 Jahre" in far.json()["detail"]
    soon = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    assert world.client.post(links, json={"expiresAt": soon},
                             headers=world.clerk).status_code == 201


# -- a batch the ledger refuses all the same shows ---------------------------------------------

def test_a_failed_batch_shows_in_readyz_and_leaves_the_service_ready(world: World) -> None:
    app = world.client.app
    running: Anchoring = app.state.anchoring  # type: ignore[attr-defined]
    running.stop()
    app.state.anchoring = Anchoring(world.ctx, world.engine)  # type: ignore[attr-defined]
    try:
        quiet = world.client.get("/api/v1/readyz").json()["checks"]["anchoring"]["failed"]
        accepted = issue(world, world.clerk, DOG)
        assert accepted.status_code == 202
        with UnitOfWork(world.engine) as uow:
            record = uow.documents.get(accepted.json()["id"])
        assert record is not None and record.account is not None
        # Accepted while admitted; the Land authority withdraws the type before the anchor.
        services.set_doc_types(world.ctx, AACHEN, [MUSIC, CONFIRMATION])
        assert anchor_now(world.ctx, world.engine, record.account) == 0
        ready = world.client.get("/api/v1/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        failed = ready.json()["checks"]["anchoring"]["failed"]
        assert failed["hours"] == 24
        assert failed["batches"] == quiet["batches"] + 1
        assert failed["documents"] == quiet["documents"] + 1
        assert failed["lastError"] and failed["lastAt"]
        listed = world.client.get("/api/v1/documents", params={"state": "failed"},
                                  headers=world.clerk).json()
        assert accepted.json()["id"] in [d["id"] for d in listed["items"]]
    finally:
        services.set_doc_types(world.ctx, AACHEN, ALL)
        worker = Anchoring(world.ctx, world.engine,
                           app.state.settings.anchoring)  # type: ignore[attr-defined]
        app.state.anchoring = worker  # type: ignore[attr-defined]
        worker.start()
