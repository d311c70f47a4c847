"""Use cases as data: loading folders, checking them, and German messages field by field."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.domain import schedule
from govchain.domain.pointers import iter_leaves, parse_pointer
from govchain.domain.usecases import (
    ENV_USECASES,
    FIELD_FORMATS,
    UseCase,
    UseCaseRegistry,
    default_usecases_dir,
)
from govchain.domain.usecases.model import _field_errors
from govchain.errors import ConfigurationError, UnknownUseCaseError, ValidationError

USECASES = Path(__file__).resolve().parents[2] / "usecases"
IDS = ["gefaehrlicher-hund", "strassenmusik", "wohnungsgeberbestaetigung"]


@pytest.fixture(scope="module")
def registry() -> UseCaseRegistry:
    return UseCaseRegistry.load(USECASES)


def subject(registry: UseCaseRegistry, usecase_id: str, i: int = 0) -> dict[str, Any]:
    return copy.deepcopy(registry.get(usecase_id).examples[i]["subject"])


def errors_of(usecase: UseCase, data: object) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        usecase.validate(data)
    return info.value.errors


def _parent(data: Any, pointer: str) -> tuple[Any, str | int]:
    tokens = parse_pointer(pointer)
    node = data
    for t in tokens[:-1]:
        node = node[int(t)] if isinstance(node, list) else node[t]
    return node, int(tokens[-1]) if isinstance(node, list) else tokens[-1]


def set_at(data: Any, pointer: str, value: Any) -> None:
    node, key = _parent(data, pointer)
    node[key] = value


def delete_at(data: Any, pointer: str) -> None:
    node, key = _parent(data, pointer)
    del node[key]


# -- the shipped use cases ----------------------------------------------------------------------

def test_the_three_use_cases_load(registry: UseCaseRegistry) -> None:
    assert sorted(uc.id for uc in registry.all()) == IDS
    assert {uc.credential_type for uc in registry} == {
        "Wohnungsgeberbestaetigung", "GefaehrlicherHundErlaubnis", "StrassenmusikErlaubnis"}
    assert all(uc.id in registry for uc in registry.all())
    assert "gibtsnicht" not in registry


def test_metadata(registry: UseCaseRegistry) -> None:
    dog = registry.get("gefaehrlicher-hund")
    music = registry.get("strassenmusik")
    wgb = registry.get("wohnungsgeberbestaetigung")
    assert dog.default_validity is None and wgb.default_validity is None
    assert music.default_validity == timedelta(days=7)
    assert music.schedule_pointer == "/zeitfenster"
    assert dog.schedule_pointer is None and wgb.schedule_pointer is None
    assert wgb.code_pointer == "/zuordnungsmerkmal"
    assert wgb.submitters == ("landlord", "clerk") and dog.submitters == ("clerk",)
    assert "§ 19" in wgb.legal_basis["de"] and "LHundG" in dog.legal_basis["de"]
    for uc in registry:
        assert set(uc.title) == set(uc.description) == set(uc.legal_basis) == {"de", "en"}
        assert set(uc.issued_by) == {"de", "en"}
        assert uc.directory == USECASES / uc.id


@pytest.mark.parametrize("usecase_id", IDS)
def test_doc_type_is_keccak_of_the_id_and_finds_the_use_case(registry: UseCaseRegistry,
                                                             usecase_id: str) -> None:
    uc = registry.get(usecase_id)
    assert uc.doc_type == keccak(text=usecase_id)
    assert registry.by_doc_type(uc.doc_type) is uc
    assert registry.by_doc_type(bytes(32)) is None


def test_an_unknown_id_names_the_known_ones(registry: UseCaseRegistry) -> None:
    with pytest.raises(UnknownUseCaseError) as info:
        registry.get("katze")
    message = str(info.value)
    assert "Unbekannte Dokumentart 'katze'" in message and "unknown use case" in message
    assert all(i in message for i in IDS)


def _examples() -> Iterator[tuple[str, int]]:
    for usecase_id in IDS:
        for i, _ in enumerate(sorted((USECASES / usecase_id / "examples").glob("*.json"))):
            yield usecase_id, i


@pytest.mark.parametrize("usecase_id, i", list(_examples()))
def test_every_example_validates(registry: UseCaseRegistry, usecase_id: str, i: int) -> None:
    uc = registry.get(usecase_id)
    uc.validate(uc.examples[i]["subject"])
    assert uc.field_errors(uc.examples[i]["subject"]) == []


@pytest.mark.parametrize("usecase_id", IDS)
def test_at_least_two_examples_each(registry: UseCaseRegistry, usecase_id: str) -> None:
    assert len(registry.get(usecase_id).examples) >= 2


# -- broken copies: one entry per offending field, in German ------------------------------------

CHIP = "/hund/chipnummer"
BROKEN: list[tuple[str, int, Callable[[dict[str, Any]], None], list[tuple[str, str]]]] = [
    # (use case, example, how to break it, expected errors)
    ("gefaehrlicher-hund", 0, lambda s: delete_at(s, CHIP),
     [(CHIP, "Chipnummer: Pflichtfeld fehlt")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, CHIP, "27609810645213"),
     [(CHIP, "Chipnummer: muss genau 15 Ziffern haben")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, CHIP, "27609810645213x"),
     [(CHIP, "Chipnummer: muss genau 15 Ziffern haben")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, CHIP, "2" * 40),  # pattern and maxLength
     [(CHIP, "Chipnummer: muss genau 15 Ziffern haben")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, CHIP, 276098106452137),
     [(CHIP, "Chipnummer: muss genau 15 Ziffern haben")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/halter/geburtsdatum", "14.07.1986"),
     [("/halter/geburtsdatum",
       "Geburtsdatum des Halters: muss ein Datum im Format JJJJ-MM-TT sein")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/hund/geburtsdatum", "2023-02-30"),
     [("/hund/geburtsdatum", "Wurfdatum: muss ein Datum im Format JJJJ-MM-TT sein")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/hund/impfpass", "ja"),
     [("/hund/impfpass", "impfpass: unbekanntes Feld")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/auflagen/leinenpflicht", "ja"),
     [("/auflagen/leinenpflicht", "Leinenpflicht: muss ja oder nein sein")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/auflagen/maulkorbpflicht", True),
     [("/auflagen/maulkorbpflicht", "Maulkorbpflicht: muss „nein“ sein, wenn eine Befreiung "
       "von der Maulkorbpflicht eingetragen ist")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/kategorie", "kampfhund"),
     [("/kategorie", "Kategorie nach LHundG NRW: muss einer dieser Werte sein: "
       "„gefaehrlich-rasse“, „gefaehrlich-einzelfall“, „bestimmte-rasse“, „gross“")]),
    ("gefaehrlicher-hund", 0, lambda s: set_at(s, "/hund/gewichtKg", 29.5),
     [("/hund/gewichtKg", "Gewicht in kg: muss eine ganze Zahl sein")]),
    ("gefaehrlicher-hund", 1, lambda s: set_at(s, "/halter/anschrift/postleitzahl", "4589"),
     [("/halter/anschrift/postleitzahl", "Postleitzahl: muss genau 5 Ziffern haben")]),
    ("gefaehrlicher-hund", 1, lambda s: set_at(s, "/hund/name", ""),
     [("/hund/name", "Name des Hundes: darf nicht leer sein")]),
    ("gefaehrlicher-hund", 1, lambda s: set_at(s, "/hund/farbe", "x" * 61),
     [("/hund/farbe", "Fellfarbe: darf höchstens 60 Zeichen haben")]),
    ("gefaehrlicher-hund", 1, lambda s: set_at(s, "/halter", "Brandt"),
     [("/halter", "Halter: muss ein Objekt (Gruppe von Angaben) sein")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: delete_at(s, "/datum"),
     [("/datum", "Datum des Ein- oder Auszugs: Pflichtfeld fehlt")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: set_at(s, "/art", "umzug"),
     [("/art", "Einzug oder Auszug: muss einer dieser Werte sein: „einzug“, „auszug“")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: delete_at(s, "/eigentuemer"),
     [("/eigentuemer", "Eigentümer: Pflichtfeld, wenn der Wohnungsgeber nicht Eigentümer ist")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: set_at(s, "/meldepflichtigePersonen", []),
     [("/meldepflichtigePersonen", "Meldepflichtige Personen: braucht mindestens einen Eintrag")]),
    ("wohnungsgeberbestaetigung", 0,
     lambda s: delete_at(s, "/meldepflichtigePersonen/1/vorname"),
     [("/meldepflichtigePersonen/1/vorname", "Vornamen: Pflichtfeld fehlt")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: set_at(s, "/wohnung/hausnummer", "am Ende"),
     [("/wohnung/hausnummer", "Hausnummer: muss eine Hausnummer wie 12, 12a oder 3-5 sein")]),
    ("wohnungsgeberbestaetigung", 0, lambda s: set_at(s, "/zuordnungsmerkmal", "k7q4"),
     [("/zuordnungsmerkmal",
       "Zuordnungsmerkmal: muss aus 8 bis 16 Ziffern oder Großbuchstaben in Vierergruppen "
       "bestehen (z. B. K7QM-3XRT-9HPA)")]),
    ("wohnungsgeberbestaetigung", 1, lambda s: set_at(s, "/wohnung", "Pontstraße 47"),
     [("/wohnung", "Anschrift der Wohnung: muss ein Objekt (Gruppe von Angaben) sein")]),
    ("wohnungsgeberbestaetigung", 1, lambda s: set_at(s, "/wohnungsgeberIstEigentuemer", None),
     [("/wohnungsgeberIstEigentuemer", "Wohnungsgeber ist Eigentümer: muss ja oder nein sein")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/zeitfenster/0/bis", "08:00"),
     [("/zeitfenster/0/bis", "Bis: muss nach dem Beginn (09:00) liegen; ein Zeitfenster über "
       "Mitternacht wird als zwei Zeitfenster angegeben")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/zeitfenster/2/von", "11 Uhr"),
     [("/zeitfenster/2/von", "Von: muss eine Uhrzeit im Format HH:MM sein")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/zeitfenster/1/tage/0", "montag"),
     [("/zeitfenster/1/tage/0", "Wochentag: muss einer dieser Werte sein: „mo“, „di“, „mi“, "
       "„do“, „fr“, „sa“, „so“")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/zeitfenster/1/tage", ["mo", "mo"]),
     [("/zeitfenster/1/tage", "Wochentage: enthält einen Eintrag doppelt")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/regeln/maxMinutenProStandort", "30"),
     [("/regeln/maxMinutenProStandort",
       "Höchstdauer je Standort (Minuten): muss eine ganze Zahl sein")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/regeln/maxPersonen", 0),
     [("/regeln/maxPersonen", "Höchstzahl an Mitwirkenden: muss mindestens 1 sein")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/gebuehr/betrag", "25"),
     [("/gebuehr/betrag", "Betrag: muss ein Betrag mit zwei Nachkommastellen sein, z. B. 25.00")]),
    ("strassenmusik", 0, lambda s: set_at(s, "/gebuehr/waehrung", "DM"),
     [("/gebuehr/waehrung", "Währung: muss einer dieser Werte sein: „EUR“")]),
    ("strassenmusik", 1, lambda s: set_at(s, "/zonen", []),
     [("/zonen", "Erlaubte Zonen: braucht mindestens einen Eintrag")]),
]


@pytest.mark.parametrize("usecase_id, i, breaks, expected", BROKEN,
                         ids=[f"{u}-{e[0][0]}" for u, _, _, e in BROKEN])
def test_a_broken_copy_names_the_field_and_the_problem(
        registry: UseCaseRegistry, usecase_id: str, i: int,
        breaks: Callable[[dict[str, Any]], None], expected: list[tuple[str, str]]) -> None:
    data = subject(registry, usecase_id, i)
    breaks(data)
    assert errors_of(registry.get(usecase_id), data) == expected


def test_many_broken_fields_give_exactly_one_entry_each(registry: UseCaseRegistry) -> None:
    dog = registry.get("gefaehrlicher-hund")
    data = subject(registry, "gefaehrlicher-hund", 0)
    delete_at(data, "/halter/vorname")  # missing required field
    set_at(data, "/hund/widerristhoeheCm", "46")  # wrong type
    set_at(data, CHIP, "12")  # bad chip number
    set_at(data, "/hund/geburtsdatum", "2023-5-2")  # bad date
    set_at(data, "/farbe", "braun")  # extra field
    delete_at(data, "/erlaubnisnummer")
    with pytest.raises(ValidationError) as info:
        dog.validate(data)
    assert info.value.errors == [
        ("/erlaubnisnummer", "Erlaubnisnummer: Pflichtfeld fehlt"),
        ("/farbe", "farbe: unbekanntes Feld"),
        ("/halter/vorname", "Vornamen: Pflichtfeld fehlt"),
        ("/hund/chipnummer", "Chipnummer: muss genau 15 Ziffern haben"),
        ("/hund/geburtsdatum", "Wurfdatum: muss ein Datum im Format JJJJ-MM-TT sein"),
        ("/hund/widerristhoeheCm", "Widerristhöhe in cm: muss eine ganze Zahl sein"),
    ]
    text = str(info.value)
    assert text.startswith("Ungültige Angaben für „Erlaubnis zum Halten eines gefährlichen Hundes“")
    assert "  /hund/chipnummer: Chipnummer: muss genau 15 Ziffern haben" in text


@pytest.mark.parametrize("data", [None, [], "text", 5])
def test_a_subject_that_is_no_object(registry: UseCaseRegistry, data: object) -> None:
    assert errors_of(registry.get("strassenmusik"), data) == [
        ("", "Straßenmusik-Erlaubnis: muss ein Objekt (Gruppe von Angaben) sein")]


def test_the_window_order_is_only_checked_once_the_windows_are_well_formed(
        registry: UseCaseRegistry) -> None:
    music = registry.get("strassenmusik")
    data = subject(registry, "strassenmusik", 0)
    set_at(data, "/zeitfenster/0/bis", "08:00")
    set_at(data, "/zeitfenster/1/von", "2 Uhr")
    assert errors_of(music, data) == [
        ("/zeitfenster/1/von", "Von: muss eine Uhrzeit im Format HH:MM sein")]


def _wrong_value(value: object) -> object:
    """A value of another JSON type than `value`."""
    if isinstance(value, str):
        return 7
    if isinstance(value, bool):
        return "ja"
    return "sieben"


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_leaf_of_the_wrong_type_gives_one_error_at_that_leaf(registry: UseCaseRegistry,
                                                                 data: st.DataObject) -> None:
    usecase_id, i = data.draw(st.sampled_from(list(_examples())))
    uc = registry.get(usecase_id)
    original = uc.examples[i]["subject"]
    pointer, value = data.draw(st.sampled_from(list(iter_leaves(original))))
    broken = copy.deepcopy(original)
    set_at(broken, pointer, _wrong_value(value))
    errors = uc.field_errors(broken)
    assert [p for p, _ in errors] == [pointer]
    assert errors[0][1].split(": ", 1)[0] != ""  # prefixed with the field's label


# -- the data itself --------------------------------------------------------------------------

def _subschemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, child in node.items():
            yield from _subschemas(child, f"{where}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _subschemas(child, f"{where}/{i}")


@pytest.mark.parametrize("usecase_id", IDS)
def test_schemas_label_every_field_and_bound_every_string(registry: UseCaseRegistry,
                                                          usecase_id: str) -> None:
    schema = registry.get(usecase_id).schema
    for where, node in _subschemas(schema):
        conditional = any(f"/{k}/" in where for k in ("if", "then", "else"))
        if where.endswith("/properties") and not conditional:
            for name, prop in node.items():
                assert name.isascii() and name[0].islower(), f"{where}/{name}"
                assert isinstance(prop.get("title"), str), f"{where}/{name} ohne title"
        if node.get("type") == "string" and "enum" not in node:
            assert 0 < node.get("maxLength", 0) <= 300, f"{where} ohne maxLength"
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, where


@pytest.mark.parametrize("usecase_id", IDS)
def test_the_display_shows_every_top_level_field(registry: UseCaseRegistry,
                                                 usecase_id: str) -> None:
    uc = registry.get(usecase_id)
    paths = [f["path"] for s in uc.display["sections"] for f in s["fields"]]
    assert {f["format"] for s in uc.display["sections"] for f in s["fields"]} <= set(FIELD_FORMATS)
    for name in uc.schema["properties"]:
        assert any(p == f"/{name}" or p.startswith(f"/{name}/") for p in paths), name
    assert uc.display["highlight"]


def test_the_police_see_chip_number_holder_and_conditions(registry: UseCaseRegistry) -> None:
    highlight = registry.get("gefaehrlicher-hund").display["highlight"]
    assert {"/hund/chipnummer", "/halter", "/auflagen/leinenpflicht",
            "/auflagen/maulkorbpflicht"} <= set(highlight)


def test_street_music_presets_fill_a_form(registry: UseCaseRegistry) -> None:
    music = registry.get("strassenmusik")
    assert set(music.presets) == {"05334002", "05315000"}
    aachen = music.presets["05334002"]
    assert aachen["gemeinde"] == "Stadt Aachen"
    zones = [z["name"] for z in aachen["subject"]["zonen"]]
    assert {"Adalbertstraße", "Holzgraben", "Elisenbrunnen", "Münsterplatz"} <= set(zones)
    windows = schedule.parse_windows(aachen["subject"]["zeitfenster"])
    assert schedule.describe(windows) == "Mo-Sa 09:00-13:00, 14:00-20:00; So 11:00-20:00".replace(
        "-", schedule.RANGE)
    rules = aachen["subject"]["regeln"]
    assert rules["verstaerkerErlaubt"] is False
    assert (rules["maxMinutenProStandort"], rules["mindestabstandMeter"]) == (30, 100)
    for preset in music.presets.values():  # a clerk adds performer and number; then it is valid
        form = {**subject(registry, "strassenmusik", 0), **preset["subject"]}
        music.validate(form)


# -- loading folders ----------------------------------------------------------------------------

@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A writable copy of the shipped use cases."""
    target = tmp_path / "usecases"
    shutil.copytree(USECASES, target)
    return target


def edit_json(path: Path, change: Callable[[Any], object]) -> None:
    """Changes the JSON in `path` in place (`change` mutates; what it returns is ignored)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_new_folder_is_a_new_use_case(tree: Path) -> None:
    new = tree / "grosser-hund"
    shutil.copytree(tree / "gefaehrlicher-hund", new)
    edit_json(new / "usecase.json", lambda m: m.update(
        id="grosser-hund", credentialType="GrosserHundAnzeige",
        title={"de": "Anzeige eines großen Hundes", "en": "Large dog notice"}))
    registry = UseCaseRegistry.load(tree)
    assert len(registry) == 4 and "grosser-hund" in registry
    uc = registry.get("grosser-hund")
    assert uc.doc_type == keccak(text="grosser-hund") != registry.get("gefaehrlicher-hund").doc_type
    assert registry.by_doc_type(uc.doc_type) is uc
    assert uc.title["de"] == "Anzeige eines großen Hundes"
    uc.validate(uc.examples[0]["subject"])


def test_hidden_and_underscore_folders_are_skipped(tree: Path) -> None:
    (tree / ".git").mkdir()
    (tree / "_entwurf").mkdir()
    (tree / "README.md").write_text("x")
    assert len(UseCaseRegistry.load(tree)) == 3


def test_the_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_USECASES, raising=False)
    assert default_usecases_dir() == USECASES
    monkeypatch.setenv(ENV_USECASES, str(tmp_path))
    assert default_usecases_dir() == tmp_path


def test_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="fehlt"):
        UseCaseRegistry.load(tmp_path / "nirgends")


def _write(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")
    return write


def _edit(change: Callable[[Any], Any]) -> Callable[[Path], None]:
    return lambda path: edit_json(path, change)


def _schema_of_chip(schema: dict[str, Any]) -> dict[str, Any]:
    chip: dict[str, Any] = schema["properties"]["hund"]["properties"]["chipnummer"]
    return chip


BAD_FOLDERS: list[tuple[str, Callable[[Path], None], str]] = [
    # (file in gefaehrlicher-hund/, how to spoil it, expected words in the message)
    ("schema.json", lambda p: p.unlink(), "Datei fehlt"),
    ("usecase.json", lambda p: p.unlink(), "Datei fehlt"),
    ("display.json", lambda p: p.unlink(), "Datei fehlt"),
    ("display.json", _write("{\"title\": "), "kein gültiges JSON"),
    ("usecase.json", _write("{\"id\": \"a\", \"id\": \"b\"}"), "doppelt"),
    ("schema.json", _write("[]"), "JSON-Objekt"),
    ("schema.json", _edit(lambda s: s.update(type="objekt")), "kein gültiges JSON Schema"),
    ("schema.json", _edit(lambda s: _schema_of_chip(s).update(pattern="^[0-9{15}$")),
     "kein gültiges JSON Schema"),
    ("schema.json", _edit(lambda s: s.update({"$schema": "http://json-schema.org/draft-07/schema#"})),
     "2020-12"),
    ("schema.json", _edit(lambda s: s["properties"]["halter"]["properties"]["anschrift"].update(
        {"$ref": "#/$defs/adresse"})), "#/$defs/adresse"),
    ("examples/02-einzelfall-gelsenkirchen.json",
     _edit(lambda e: e["subject"].pop("kategorie")), "/kategorie: Kategorie nach LHundG NRW"),
    ("examples/02-einzelfall-gelsenkirchen.json", _edit(lambda e: e.update(validFrom="morgen")),
     "/validFrom"),
    ("examples/02-einzelfall-gelsenkirchen.json",
     _edit(lambda e: e.update(validFrom="2026-02-03T09:00:00+01:00",
                              validUntil="2026-02-01T09:00:00+01:00")), "validUntil"),
    ("usecase.json", _edit(lambda m: m.update(id="hund")), "Ordnernamen"),
    ("usecase.json", _edit(lambda m: m.pop("credentialType")), "credentialType"),
    ("usecase.json", _edit(lambda m: m.update(defaultValidity={"tage": 7})), "defaultValidity"),
    ("usecase.json", _edit(lambda m: m.update(defaultValidity={"days": 0})), "größer als null"),
    ("usecase.json", _edit(lambda m: m.update(schedule="/zeiten")), "/zeiten"),
    ("display.json", _edit(lambda d: d["sections"][0]["fields"][1].update(path="/halter/adr")),
     "/halter/adr"),
    ("display.json", _edit(lambda d: d["highlight"].append("/hund/name/x")), "/hund/name/x"),
    ("display.json", _edit(lambda d: d["sections"][0]["fields"][0].update(format="bild")),
     "bild"),
    ("display.json", _edit(lambda d: d["sections"][1]["fields"][2]["values"].pop("huendin")),
     "enum"),
]


@pytest.mark.parametrize("filename, spoil, words", BAD_FOLDERS,
                         ids=[f"{f}-{w}" for f, _, w in BAD_FOLDERS])
def test_a_broken_folder_names_the_file(tree: Path, filename: str,
                                        spoil: Callable[[Path], None], words: str) -> None:
    path = tree / "gefaehrlicher-hund" / filename
    spoil(path)
    with pytest.raises(ConfigurationError) as info:
        UseCaseRegistry.load(tree)
    assert str(path) in str(info.value)
    assert words in str(info.value)


def test_a_schema_its_examples_no_longer_fit_names_the_example(tree: Path) -> None:
    edit_json(tree / "gefaehrlicher-hund" / "schema.json",
              lambda s: _schema_of_chip(s).update(pattern="^[0-9]{16}$"))
    with pytest.raises(ConfigurationError) as info:
        UseCaseRegistry.load(tree)
    assert str(info.value) == (
        f"{tree / 'gefaehrlicher-hund' / 'examples' / '01-staffordshire-gelsenkirchen.json'}: "
        "Beispiel passt nicht zum Schema: /hund/chipnummer: Chipnummer: muss genau 15 Ziffern "
        "haben")


@pytest.mark.parametrize("spoil, words", [
    (lambda p: p.rename(p.with_name("05334003.json")), "Dateinamen"),
    (_edit(lambda p: p["subject"]["zeitfenster"][0].update(bis="08:00")),
     "/zeitfenster/0/bis: Bis: muss nach dem Beginn (09:00) liegen"),
    (_edit(lambda p: p["subject"].update(gebuehr={"betrag": 25, "waehrung": "EUR"})),
     "/gebuehr/betrag"),
    (_edit(lambda p: p.update(ags="5334002")), "/ags"),
])
def test_a_broken_preset_names_the_file(tree: Path, spoil: Callable[[Path], None],
                                        words: str) -> None:
    path = tree / "strassenmusik" / "presets" / "05334002.json"
    spoil(path)
    with pytest.raises(ConfigurationError) as info:
        UseCaseRegistry.load(tree)
    assert "presets/0533400" in str(info.value) and words in str(info.value)


def test_two_use_cases_cannot_share_a_credential_type(tree: Path) -> None:
    shutil.copytree(tree / "strassenmusik", tree / "strassenmusik-koeln")
    edit_json(tree / "strassenmusik-koeln" / "usecase.json",
              lambda m: m.update(id="strassenmusik-koeln"))
    with pytest.raises(ConfigurationError, match="StrassenmusikErlaubnis"):
        UseCaseRegistry.load(tree)


# -- the fast validator ---------------------------------------------------------------------------

def _mutations(value: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(pointer, replacement) for every node: wrong types, empty, out-of-format values."""
    for bad in ("", "x" * 300, "2026-13-45", "25:99", "no-at-sign", -1, 0, 1.5, 10 ** 9, True,
                None, [], {}, ["x"], {"x": 1}):
        yield pointer, bad
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _mutations(child, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _mutations(child, f"{pointer}/{i}")


def _replaced(value: Any, pointer: str, new: Any) -> Any:
    if not pointer:
        return new
    copy_ = json.loads(json.dumps(value))
    *parents, last = pointer.lstrip("/").split("/")
    node = copy_
    for token in parents:
        node = node[int(token)] if isinstance(node, list) else node[token]
    if isinstance(node, list):
        node[int(last)] = new
    else:
        node[last] = new
    return copy_


def _removals(value: Any) -> Iterator[Any]:
    """Copies of `value` with one object key removed, for every key at any depth."""
    for pointer, _ in _mutations(value):
        parent, _, key = pointer.rpartition("/")
        if not pointer:
            continue
        broken = json.loads(json.dumps(value))
        node = broken
        for token in [t for t in parent.split("/") if t]:
            node = node[int(token)] if isinstance(node, list) else node[token]
        if isinstance(node, dict) and key in node:
            del node[key]
            yield broken


@pytest.mark.parametrize("usecase_id", ["wohnungsgeberbestaetigung", "gefaehrlicher-hund", "strassenmusik"])
def test_fast_validator_gives_exactly_the_python_validators_answer(usecase_id: str) -> None:
    """jsonschema-rs may only say "valid" where jsonschema says so too, and field_errors with
    the fast gate equals the pure-Python answer; every node of every example is replaced by
    wrong types and formats, and every key removed."""
    uc = UseCaseRegistry.load(default_usecases_dir()).get(usecase_id)
    tried = refused = 0
    for example in uc.examples:
        subject = example["subject"]
        candidates = [_replaced(subject, p, bad) for p, bad in _mutations(subject)]
        candidates += list(_removals(subject))
        for candidate in candidates:
            tried += 1
            slow = _field_errors(uc._validator, uc.schema, uc.schedule_pointer, candidate)
            if uc._fast_validator.is_valid(candidate):
                assert not list(uc._validator.iter_errors(candidate)), candidate
            else:
                refused += 1
            assert uc.field_errors(candidate) == slow
    assert tried > 500 and refused > tried // 2


# -- consistency rules between fields (usecase.json "consistency") ------------------------------

def test_a_street_music_permit_keeps_to_its_own_rules() -> None:
    uc = UseCaseRegistry.load(USECASES).get("strassenmusik")
    subject = copy.deepcopy(uc.examples[0]["subject"])
    assert subject["regeln"]["maxPersonen"] == 5
    subject["besetzung"]["personen"] = 12
    subject["besetzung"]["instrumente"] += [" schlagzeug", "Blechblasinstrumente"]
    errors = dict(uc.field_errors(subject))
    assert errors["/besetzung/personen"].startswith("Anzahl der Mitwirkenden: höchstens 5 ")
    assert "Sondernutzungssatzung" in errors["/besetzung/personen"]
    n = len(uc.examples[0]["subject"]["besetzung"]["instrumente"])
    assert "„ schlagzeug“ ist nicht erlaubt" in errors[f"/besetzung/instrumente/{n}"]
    assert f"/besetzung/instrumente/{n + 1}" in errors
    assert len(errors) == 3
    with pytest.raises(ValidationError, match="Ungültige Angaben"):
        uc.validate(subject)
    subject["besetzung"]["personen"] = 5  # the limit itself is allowed
    subject["besetzung"]["instrumente"] = ["Gesang"]
    assert uc.field_errors(subject) == []


@pytest.mark.parametrize("rule", [
    {"rule": "atMost", "value": "/besetzung/instrumente", "limit": "/regeln/maxPersonen"},
    {"rule": "atMost", "value": "/besetzung/personen", "limit": "/regeln/gibtsnicht"},
    {"rule": "noneOf", "values": "/besetzung/personen", "forbidden": "/regeln/verboteneInstrumente"},
])
def test_a_consistency_rule_must_name_fields_of_the_right_kind(tree: Path,
                                                               rule: dict[str, Any]) -> None:
    basis = {"de": "Satzung", "en": "bylaw"}
    edit_json(tree / "strassenmusik" / "usecase.json",
              lambda m: m.update(consistency=[{**rule, "basis": basis}]))
    with pytest.raises(ConfigurationError, match="consistency"):
        UseCaseRegistry.load(tree)
