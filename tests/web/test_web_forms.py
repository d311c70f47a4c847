"""Forms generated from JSON Schemas: every shipped example survives the round trip through the form,
types come back right, and a new use-case folder gets a working form with no code change."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from web_kit import AACHEN, Site, csrf_of, login, make_site, post_form, status_of_page

from govchain.domain.subject_fields import COUNT_PREFIX, raw_from_subject, subject_from_form
from govchain.domain.timefmt import BERLIN
from govchain.domain.usecases import UseCase, UseCaseRegistry, default_usecases_dir
from govchain.entrypoints.http.web.forms import apply_row_buttons, build_form
from govchain.entrypoints.http.web.i18n import Translator

SHIPPED = UseCaseRegistry.load(default_usecases_dir())
EXAMPLES = [(uc, i) for uc in SHIPPED for i in range(len(uc.examples))]


def _skip(usecase: UseCase) -> tuple[str, ...]:
    return (usecase.code_pointer,) if usecase.code_pointer else ()


@pytest.mark.parametrize(("usecase", "index"), EXAMPLES, ids=lambda v: getattr(v, "id", str(v)))
def test_every_example_survives_the_form(usecase: UseCase, index: int) -> None:
    subject = json.loads(json.dumps(usecase.examples[index]["subject"]))
    if usecase.code_pointer:
        subject.pop(usecase.code_pointer.strip("/"), None)
    raw = raw_from_subject(usecase, subject)
    assert subject_from_form(usecase, raw, skip=_skip(usecase)) == subject
    form = build_form(usecase, Translator("de"), raw, skip=_skip(usecase))
    assert not form.errors
    # the form shows each posted text again
    shown = {i.pointer: i for i in form.inputs()}
    for name, values in raw.items():
        if not name.startswith(COUNT_PREFIX) and name in shown and shown[name].kind not in (
                "checkbox", "checkboxes", "select"):
            assert shown[name].value == values[0]


def test_types_come_back_from_the_text_of_a_form() -> None:
    music = SHIPPED.get("strassenmusik")
    raw: dict[str, list[str]] = {
        "/besetzung/personen": [" 3 "], "/regeln/verstaerkerErlaubt": ["true"],
        "/regeln/einmalTaeglichJeStandort": ["false"], "/regeln/maxPersonen": ["drei"],
        COUNT_PREFIX + "/zeitfenster": ["2"], "/zeitfenster/0/tage": ["mo", "sa"],
        "/zeitfenster/0/von": ["09:00"], "/zeitfenster/0/bis": ["13:00"],
        "/zeitfenster/1/von": [""], "/zeitfenster/1/bis": [""],  # an empty row is dropped
        COUNT_PREFIX + "/besetzung/instrumente": ["2"], "/besetzung/instrumente/0": ["Geige"],
        "/besetzung/instrumente/1": [""], "/gebuehr/waehrung": ["EUR"],
    }
    subject: dict[str, Any] = subject_from_form(music, raw)
    assert subject["besetzung"] == {"personen": 3, "instrumente": ["Geige"]}
    assert subject["regeln"]["verstaerkerErlaubt"] is True
    assert subject["regeln"]["einmalTaeglichJeStandort"] is False
    assert subject["regeln"]["aufbautenErlaubt"] is False  # required check box left unticked
    assert subject["regeln"]["maxPersonen"] == "drei"  # kept as typed: the schema says what is wrong
    assert subject["zeitfenster"] == [{"tage": ["mo", "sa"], "von": "09:00", "bis": "13:00"}]
    assert subject["zonen"] == []  # no rows at all: "needs at least one entry"
    errors = dict(music.field_errors(subject))
    assert errors["/regeln/maxPersonen"].endswith("muss eine ganze Zahl sein")
    assert errors["/zonen"].endswith("braucht mindestens einen Eintrag")
    # an optional group left empty disappears instead of failing its required fields
    dog = SHIPPED.get("gefaehrlicher-hund")
    raw = {"/auflagen/befreiungMaulkorb/datum": [""], "/auflagen/befreiungMaulkorb/grund": [""]}
    assert "befreiungMaulkorb" not in subject_from_form(dog, raw).get("auflagen", {})


def test_errors_land_next_to_their_inputs_and_in_the_summary() -> None:
    landlord = SHIPPED.get("wohnungsgeberbestaetigung")
    raw = {"/wohnungsgeberIstEigentuemer": [""], COUNT_PREFIX + "/meldepflichtigePersonen": ["1"]}
    subject = subject_from_form(landlord, raw)
    errors = landlord.field_errors(subject)
    form = build_form(landlord, Translator("de"), raw, errors)
    by_pointer = {i.pointer: i for i in form.inputs()}
    assert by_pointer["/datum"].error and "Pflichtfeld" in by_pointer["/datum"].error
    # an untouched row is dropped, so the list itself lacks an entry: its first input is linked
    anchors = {anchor: message for anchor, _, message in form.errors}
    assert "mindestens einen Eintrag" in anchors["f-meldepflichtigePersonen-0-name"]
    # the owner is required once the landlord is not the owner: the group carries the message
    assert any(anchor == "f-eigentuemer-name" for anchor, _, _ in form.errors)
    assert len(form.errors) == len(errors)


def test_row_buttons_add_and_remove_rows() -> None:
    raw = {COUNT_PREFIX + "/zonen": ["3"], "/zonen/0/name": ["A"], "/zonen/1/name": ["B"],
           "/zonen/2/name": ["C"], "/zonen/2/beschreibung": ["c"], "__remove__": ["/zonen/1"]}
    assert apply_row_buttons(raw)
    assert raw == {COUNT_PREFIX + "/zonen": ["2"], "/zonen/0/name": ["A"], "/zonen/1/name": ["C"],
                   "/zonen/1/beschreibung": ["c"]}
    raw["__add__"] = ["/zonen"]
    assert apply_row_buttons(raw) and raw[COUNT_PREFIX + "/zonen"] == ["3"]
    assert not apply_row_buttons(raw)


def test_english_labels_come_from_the_display_file() -> None:
    dog = SHIPPED.get("gefaehrlicher-hund")
    inputs = {i.pointer: i for i in build_form(dog, Translator("en")).inputs()}
    assert inputs["/hund/chipnummer"].label == "Microchip number"
    assert [o.label for o in inputs["/hund/geschlecht"].options][1:] == ["male", "female"]
    german = {i.pointer: i for i in build_form(dog, Translator("de")).inputs()}
    assert german["/hund/chipnummer"].label == "Chipnummer"


# -- a new use-case folder ----------------------------------------------------------------------

NEW_USECASE = "angelschein"


def _write(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


def _new_usecase_folder(root: Path) -> None:
    folder = root / NEW_USECASE
    (folder / "examples").mkdir(parents=True)
    text = {"de": "Fischereischein", "en": "Fishing licence"}
    _write(folder / "usecase.json", {
        "id": NEW_USECASE, "title": text, "description": text, "legalBasis": text, "issuedBy": text,
        "credentialType": "Fischereischein", "defaultValidity": {"days": 365}})
    _write(folder / "schema.json", {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "additionalProperties": False, "required": ["inhaber", "art", "gewaesser", "jugend"],
        "properties": {
            "inhaber": {"type": "object", "title": "Inhaber", "additionalProperties": False,
                        "required": ["name", "geburtsdatum"],
                        "properties": {"name": {"type": "string", "title": "Name", "minLength": 1},
                                       "geburtsdatum": {"type": "string", "format": "date",
                                                        "title": "Geburtsdatum"}}},
            "art": {"type": "string", "enum": ["friedfisch", "raubfisch"], "title": "Art"},
            "jugend": {"type": "boolean", "title": "Jugendfischereischein"},
            "ruten": {"type": "integer", "title": "Ruten", "minimum": 1, "maximum": 3},
            "gewaesser": {"type": "array", "title": "Gewässer", "minItems": 1,
                          "items": {"type": "object", "title": "Gewässer", "required": ["name"],
                                    "additionalProperties": False,
                                    "properties": {"name": {"type": "string", "title": "Gewässername",
                                                            "minLength": 1},
                                                   "strecke": {"type": "string",
                                                               "title": "Strecke"}}}}}})
    _write(folder / "display.json", {
        "title": text, "highlight": ["/inhaber"],
        "sections": [{"title": {"de": "Inhaber", "en": "Holder"}, "fields": [
            {"path": "/inhaber", "label": {"de": "Inhaber", "en": "Holder"}, "format": "person"},
            {"path": "/gewaesser", "label": {"de": "Gewässer", "en": "Waters"}, "format": "list",
             "item": "text"}]}]})
    _write(folder / "examples" / "01.json", {"subject": {
        "inhaber": {"name": "Petri", "geburtsdatum": "1990-04-01"}, "art": "friedfisch",
        "jugend": False, "gewaesser": [{"name": "Wurm"}]}})


@pytest.fixture(scope="module")
def site_with_new_usecase(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("usecases")
    for folder in default_usecases_dir().iterdir():
        if folder.is_dir():
            shutil.copytree(folder, root / folder.name)
    _new_usecase_folder(root)
    yield from make_site(tmp_path_factory, usecases_dir=root)


def test_a_new_usecase_folder_gets_its_form_with_no_code_change(site_with_new_usecase: Site) -> None:
    site = site_with_new_usecase
    browser = login(site, "sb.aachen")
    assert f'href="/documents/new/{NEW_USECASE}"' in browser.get("/documents/new").text
    form = browser.get(f"/documents/new/{NEW_USECASE}")
    html = form.text
    for expected in ('name="/inhaber/name"', 'type="date"', '<select id="f-art" name="/art"',
                     'type="checkbox" id="f-jugend"', 'type="number"', 'name="__add__" value="/gewaesser"',
                     'name="/gewaesser/0/strecke"'):
        assert expected in html, expected
    response = browser.post(f"/documents/new/{NEW_USECASE}", data={
        "csrf_token": csrf_of(html), "/inhaber/name": "Petri", "/inhaber/geburtsdatum": "1990-04-01",
        "/art": "raubfisch", "/jugend": "true", "/ruten": "2", COUNT_PREFIX + "/gewaesser": "2",
        "/gewaesser/0/name": "Rur", "/gewaesser/0/strecke": "Düren bis Jülich",
        "/gewaesser/1/name": "", "/gewaesser/1/strecke": "",
        "__valid_from": datetime.now(BERLIN).date().isoformat(),  # within the default limits
        "__valid_until": ""})
    assert response.status_code == 200, response.text
    assert status_of_page(response.text) in ("VALID", "NOT_YET_VALID", "EXPIRED")
    with site.uow() as uow:
        (record,) = uow.documents.list(ags=AACHEN, usecase=NEW_USECASE).items
    assert record.subject == {"inhaber": {"name": "Petri", "geburtsdatum": "1990-04-01"},
                              "art": "raubfisch", "jugend": True, "ruten": 2,
                              "gewaesser": [{"name": "Rur", "strecke": "Düren bis Jülich"}]}
    errors = post_form(browser, f"/documents/new/{NEW_USECASE}", f"/documents/new/{NEW_USECASE}",
                       {"/ruten": "9"})
    assert errors.status_code == 422 and "Ruten: darf höchstens 3 sein" in errors.text


def test_numbers_accept_a_decimal_comma_but_never_nan(tmp_path: Path) -> None:
    _new_usecase_folder(tmp_path)
    schema_file = tmp_path / NEW_USECASE / "schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    schema["properties"]["gewicht"] = {"type": "number", "title": "Gewicht"}
    _write(schema_file, schema)
    usecase = UseCaseRegistry.load(tmp_path).get(NEW_USECASE)
    assert subject_from_form(usecase, {"/gewicht": ["2,5"]})["gewicht"] == 2.5
    for text in ("nan", "inf", "1e500"):
        assert subject_from_form(usecase, {"/gewicht": [text]})["gewicht"] == text
    (field,) = [i for i in build_form(usecase, Translator("de")).inputs() if i.pointer == "/gewicht"]
    assert field.kind == "number" and field.step == "any"
