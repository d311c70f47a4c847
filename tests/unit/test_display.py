"""How a document's subject is shown to people: sections, labels, German formats, hidden fields."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from govchain.domain.disclosure import disclose
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    declaration_evidence,
    finish_document,
    make_batch,
    new_document,
    salt_document,
)
from govchain.domain.pointers import iter_leaves
from govchain.domain.usecases import UseCase, UseCaseRegistry
from govchain.domain.verification import declaration_of
from govchain.presentation.display import (
    ShownField,
    ShownSection,
    declaration_text,
    document_facts,
    format_date,
    format_datetime,
    shown_sections,
)

USECASES = Path(__file__).resolve().parents[2] / "usecases"
REGISTRY = UseCaseRegistry.load(USECASES)
EXAMPLES = [pytest.param(uc.id, i, id=f"{uc.id}-{i + 1}")
            for uc in REGISTRY for i in range(len(uc.examples))]
ISSUER = IssuerRef(name="Stadt Gelsenkirchen", ags="05513000",
                   account="0x00000000000000000000000000000000000000a1",
                   chain_id=1337, registry="0x00000000000000000000000000000000000000b2")
ANCHOR = AnchorRef(1337, ISSUER.registry, "0x" + "11" * 32, 7, 1_790_000_000)  # 2026-09-21 14:13 UTC
ANCHORED_AT = datetime.fromtimestamp(ANCHOR.timestamp, UTC)  # as the ledger or the record says


def issued(usecase: UseCase, index: int = 0) -> dict[str, Any]:
    """A real issued document (salted, with proof) of an example, as the holder gets it."""
    example = usecase.examples[index]
    start = datetime.fromisoformat(example.get("validFrom", "2026-01-12T10:00:00+01:00"))
    until = example.get("validUntil")
    salted = salt_document(new_document(
        credential_type=usecase.credential_type, usecase_id=usecase.id, subject=example["subject"],
        issuer=ISSUER, valid_from=start,
        valid_until=datetime.fromisoformat(until) if until else None))
    return finish_document(make_batch([salted]), 0, ANCHOR)


def fields_by_path(sections: list[ShownSection]) -> dict[str, ShownField]:
    return {f.path: f for s in sections for f in s.fields}


def all_text(sections: list[ShownSection]) -> str:
    return "\n".join(f"{s.title}\n" + "\n".join(f"{f.label}: {f.value}" for f in s.fields)
                     for s in sections)


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize(("usecase_id", "index"), EXAMPLES)
def test_every_example_is_shown_completely_by_its_template(usecase_id: str, index: int,
                                                           lang: str) -> None:
    usecase = REGISTRY.get(usecase_id)
    subject = usecase.examples[index]["subject"]
    sections = shown_sections(subject, usecase, lang)
    titles = [s.title for s in sections]
    # the templates cover every field of the shipped examples: nothing is left for "Weitere Angaben"
    assert "Weitere Angaben" not in titles and "Further details" not in titles
    template_titles = [s["title"][lang] for s in usecase.display["sections"]]
    assert titles == [t for t in template_titles if t in titles] and titles
    shown = fields_by_path(sections)
    highlight = set(usecase.display["highlight"])
    for section in usecase.display["sections"]:
        assert section["title"][lang] in titles  # every template section has a value in each example
        for spec in section["fields"]:
            present = _present(subject, spec["path"])
            assert (spec["path"] in shown) == present, spec["path"]
            if present:
                field = shown[spec["path"]]
                assert field.label == spec["label"][lang]
                assert field.highlight == (spec["path"] in highlight)
                assert field.value and "None" not in field.value
    text = all_text(sections)
    for pointer, value in iter_leaves(subject):
        if isinstance(value, str) and not _is_code(usecase, pointer, value):
            # strings appear as written, dates in the language's format
            expected = format_date(value, lang) if _is_date(value) else value
            assert expected in text, (pointer, expected)
        elif isinstance(value, int) and not isinstance(value, bool):
            assert str(value) in text, pointer


def _present(subject: dict[str, Any], pointer: str) -> bool:
    node: Any = subject
    for token in pointer.strip("/").split("/"):
        if not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def _is_date(value: str) -> bool:
    return len(value) == 10 and value[4] == "-" and value[7] == "-"


def _is_code(usecase: UseCase, pointer: str, value: str) -> bool:
    """Enum codes and money amounts are shown as labels / formatted amounts, not as written."""
    if pointer.startswith("/zeitfenster/") or pointer.startswith("/gebuehr/"):
        return True
    return any(value in spec.get("values", {}) for s in usecase.display["sections"] for spec in s["fields"])


def test_dog_permit_in_german() -> None:
    usecase = REGISTRY.get("gefaehrlicher-hund")
    shown = fields_by_path(shown_sections(usecase.examples[0]["subject"], usecase))
    assert shown["/halter"].value == "Sandra Kowalczyk, geb. 14.07.1986"
    assert shown["/halter/anschrift"].value == "Ückendorfer Straße 88, 2. OG, 45886 Gelsenkirchen"
    assert shown["/hund/geschlecht"].value == "Rüde"
    assert shown["/hund/geburtsdatum"].value == "02.05.2023"
    assert shown["/kategorie"].value == "Gefährlicher Hund (§ 3 Abs. 2 LHundG NRW)"
    assert shown["/auflagen/leinenpflicht"].value == "ja"
    assert shown["/auflagen/maulkorbpflicht"].value == "nein"
    assert shown["/auflagen/befreiungMaulkorb/datum"].value == "20.11.2025"
    assert shown["/hund/chipnummer"].highlight and shown["/hund/chipnummer"].value == "276098106452137"
    assert not shown["/hund/name"].highlight


def test_dog_permit_in_english() -> None:
    usecase = REGISTRY.get("gefaehrlicher-hund")
    sections = shown_sections(usecase.examples[1]["subject"], usecase, "en")
    assert [s.title for s in sections] == ["Keeper", "Dog", "Permit and conditions"]
    shown = fields_by_path(sections)
    assert shown["/halter"].value == "Heinz-Peter Brandt, born 27 February 1971"
    assert shown["/hund/geschlecht"].value == "female"
    assert shown["/auflagen/maulkorbpflicht"].value == "yes"
    assert shown["/kategorie"].label == "Category"


def test_street_music_lists_zones_and_time_windows_line_by_line() -> None:
    usecase = REGISTRY.get("strassenmusik")
    shown = fields_by_path(shown_sections(usecase.examples[0]["subject"], usecase))
    assert shown["/zonen"].lines == ["Adalbertstraße", "Holzgraben", "Elisenbrunnen – Vorplatz und Arkaden",
                                     "Münsterplatz"]
    assert shown["/zeitfenster"].lines == ["Mo–Sa 09:00–13:00, 14:00–20:00", "So 11:00–20:00"]
    assert shown["/besetzung/instrumente"].lines == ["Akustikgitarre", "Geige", "Gesang"]
    assert shown["/gebuehr"].value == "25,00 EUR"
    assert shown["/regeln/verstaerkerErlaubt"].value == "nein"
    english = fields_by_path(shown_sections(usecase.examples[0]["subject"], usecase, "en"))
    assert english["/zeitfenster"].lines == ["Mon–Sat 09:00–13:00, 14:00–20:00", "Sun 11:00–20:00"]
    assert english["/gebuehr"].value == "EUR 25.00"


def test_landlord_confirmation_lists_every_tenant() -> None:
    usecase = REGISTRY.get("wohnungsgeberbestaetigung")
    shown = fields_by_path(shown_sections(usecase.examples[2]["subject"], usecase))
    assert shown["/meldepflichtigePersonen"].lines == ["Piotr Nowak", "Agnieszka Nowak", "Lena Nowak"]
    assert shown["/art"].value == "Einzug" and shown["/datum"].value == "15.04.2026"
    assert shown["/wohnung"].value == "Cranger Straße 12-14, Erdgeschoss rechts, 45891 Gelsenkirchen"
    assert shown["/wohnungsgeberIstEigentuemer"].value == "ja"
    assert "/eigentuemer" not in shown  # not in this example, so not shown at all


@pytest.mark.parametrize("lang", ["de", "en"])
def test_hidden_fields_and_list_elements_are_left_out(lang: str) -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    doc = disclose(issued(dog), ["/halter/geburtsdatum", "/halter/anschrift", "/auflagen/weitere/0"])
    shown = fields_by_path(shown_sections(doc["credentialSubject"], dog, lang))
    assert shown["/halter"].value == "Sandra Kowalczyk"
    assert "/halter/anschrift" not in shown and "/auflagen/weitere" not in shown
    assert "1986" not in all_text(shown_sections(doc["credentialSubject"], dog, lang))

    music = REGISTRY.get("strassenmusik")
    doc = disclose(issued(music), ["/zeitfenster/2", "/zonen/0", "/zonen/2/beschreibung"])
    shown = fields_by_path(shown_sections(doc["credentialSubject"], music, lang))
    assert shown["/zonen"].lines == ["Holzgraben", "Elisenbrunnen", "Münsterplatz"]
    assert len(shown["/zeitfenster"].lines) == 1 and "11:00" not in shown["/zeitfenster"].value

    landlord = REGISTRY.get("wohnungsgeberbestaetigung")
    doc = disclose(issued(landlord), ["/meldepflichtigePersonen/0", "/eigentuemer"])
    sections = shown_sections(doc["credentialSubject"], landlord, lang)
    shown = fields_by_path(sections)
    assert shown["/meldepflichtigePersonen"].lines == ["Jonas Matthias Becker"]
    assert "/eigentuemer" not in shown and "/eigentuemer/anschrift" not in shown
    assert "Brückmann" not in all_text(sections)


def test_a_section_with_everything_hidden_disappears() -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    doc = disclose(issued(dog), ["/halter"])
    sections = shown_sections(doc["credentialSubject"], dog)
    assert [s.title for s in sections] == ["Hund", "Erlaubnis und Auflagen"]
    music = REGISTRY.get("strassenmusik")
    doc = disclose(issued(music), ["/zeitfenster/0", "/zeitfenster/1", "/zeitfenster/2"])
    assert "/zeitfenster" not in fields_by_path(shown_sections(doc["credentialSubject"], music))


@pytest.mark.parametrize(("lang", "title", "label"), [
    ("de", "Weitere Angaben", "Hund › Gewicht in kg"),
    ("en", "Further details", "Hund › Gewicht in kg"),
])
def test_values_the_template_does_not_show_go_to_a_last_section(lang: str, title: str, label: str) -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    display = copy.deepcopy(dog.display)
    for section in display["sections"]:
        section["fields"] = [f for f in section["fields"]
                             if f["path"] not in ("/hund/gewichtKg", "/auflagen/befreiungMaulkorb/datum")]
    trimmed = replace(dog, display=display)
    sections = shown_sections(dog.examples[0]["subject"], trimmed, lang)
    last = sections[-1]
    assert last.title == title
    assert [(f.path, f.label) for f in last.fields] == [
        ("/hund/gewichtKg", label),
        ("/auflagen/befreiungMaulkorb/datum",
         "Auflagen › Befreiung von der Maulkorbpflicht › Befreit seit")]
    assert last.fields[0].value == "29"
    assert last.fields[1].value == ("20.11.2025" if lang == "de" else "20 November 2025")
    assert not any(f.highlight for f in last.fields)


def test_list_elements_outside_the_template_are_numbered_from_one() -> None:
    landlord = REGISTRY.get("wohnungsgeberbestaetigung")
    display = copy.deepcopy(landlord.display)
    display["sections"][0]["fields"] = [f for f in display["sections"][0]["fields"]
                                        if f["path"] != "/meldepflichtigePersonen"]
    sections = shown_sections(landlord.examples[0]["subject"], replace(landlord, display=display))
    rest = sections[-1]
    assert rest.title == "Weitere Angaben"
    assert [(f.label, f.value) for f in rest.fields][:2] == [
        ("Meldepflichtige Personen › 1. › Familienname", "Yilmaz-Becker"),
        ("Meldepflichtige Personen › 1. › Vornamen", "Derya")]


def test_formats_of_dates_and_times() -> None:
    assert format_date("2026-03-01") == "01.03.2026"
    assert format_date("2026-03-01", "en") == "1 March 2026"
    assert format_date("kein Datum") == "kein Datum"
    # Berlin time, summer and winter
    assert format_datetime("2026-05-04T00:00:00+02:00") == "04.05.2026, 00:00 Uhr"
    assert format_datetime("2026-01-12T09:00:00+00:00") == "12.01.2026, 10:00 Uhr"
    assert format_datetime("2026-01-12T09:00:00Z", "en") == "12 January 2026, 10:00"
    assert format_date("2026-03-01", "fr") == "01.03.2026"  # unknown languages fall back to German


@pytest.mark.parametrize("lang", ["de", "en"])
def test_document_facts(lang: str) -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    doc = issued(dog)
    facts = document_facts(doc, dog, lang, anchored_at=ANCHORED_AT)
    assert facts.title == dog.display["title"][lang]
    assert (facts.issuer_name, facts.issuer_ags) == ("Stadt Gelsenkirchen", "05513000")
    assert facts.valid_from == ("12.01.2026, 10:00 Uhr" if lang == "de" else "12 January 2026, 10:00")
    assert facts.valid_until == ("bis auf Widerruf" if lang == "de" else "until revoked")
    assert facts.issued_at == format_datetime("2026-09-21T14:13:20+00:00", lang)
    assert facts.document_id == doc["id"]
    section = facts.section(lang)
    assert section.title == ("Dokument" if lang == "de" else "Document")
    assert [f.value for f in section.fields][:2] == ["Stadt Gelsenkirchen", "05513000"]

    music = REGISTRY.get("strassenmusik")
    permit = issued(music)
    facts = document_facts(permit, music, lang, anchored_at=ANCHORED_AT)
    assert facts.valid_until == format_datetime("2026-05-11T00:00:00+02:00", lang)
    assert facts.valid_until.startswith("11.05.2026" if lang == "de" else "11 May 2026")
    # hiding fields never touches the envelope, so a shared copy shows the same facts
    assert document_facts(disclose(permit, ["/kuenstler"]), music, lang,
                          anchored_at=ANCHORED_AT) == facts


def test_document_facts_never_show_the_documents_own_anchor() -> None:
    # proof.anchor is outside the hash: a holder can rewrite it, so "Ausgestellt am" comes only
    # from the ledger's answer or the service's record (issue 16, finding 3)
    dog = REGISTRY.get("gefaehrlicher-hund")
    doc = issued(dog)
    doc["proof"]["anchor"]["anchoredAt"] = "2020-01-01T00:00:00+00:00"
    assert document_facts(doc, dog).issued_at is None
    assert document_facts(doc, dog, anchored_at=ANCHORED_AT).issued_at == "21.09.2026, 16:13 Uhr"


def test_facts_of_a_document_without_proof_or_issuer_name() -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    facts = document_facts({"validFrom": "2026-01-12T10:00:00+01:00"}, dog)
    assert (facts.issuer_name, facts.issued_at, facts.document_id) == ("", None, None)
    assert [f.label for f in facts.section().fields] == ["Gültig ab", "Gültig bis"]


# -- declarations -----------------------------------------------------------------------------

CONFIRMATION = REGISTRY.get("wohnungsgeberbestaetigung")


def declared(index: int = 0, submitted_by: tuple[str, str] | None = ("landlord", "vermieter")
             ) -> dict[str, Any]:
    """A landlord's confirmation as the service issues it now: with its declaration evidence."""
    start = datetime.fromisoformat("2026-03-02T09:15:00+01:00")
    evidence = declaration_evidence(declared_by="/wohnungsgeber", received_by=ISSUER,
                                    received_at=start, submitted_by=submitted_by)
    salted = salt_document(new_document(
        credential_type=CONFIRMATION.credential_type, usecase_id=CONFIRMATION.id,
        subject=CONFIRMATION.examples[index]["subject"], issuer=ISSUER, valid_from=start,
        valid_until=None, evidence=[evidence]))
    return finish_document(make_batch([salted]), 0, ANCHOR)


DECLARATION = {
    "de": "Erklärung des Wohnungsgebers Hausverwaltung Rheinblick GmbH, eingereicht über das "
          "Wohnungsgeber-Konto „vermieter“, eingegangen bei Stadt Gelsenkirchen (AGS 05513000) am "
          "02.03.2026, 09:15 Uhr",
    "en": "Declaration of the landlord Hausverwaltung Rheinblick GmbH, submitted through the "
          "landlord account “vermieter”, received by Stadt Gelsenkirchen (AGS 05513000) on "
          "2 March 2026, 09:15",
}


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_landlord_confirmation_reads_as_the_landlords_declaration(lang: str) -> None:
    declaration = declaration_of(declared(), CONFIRMATION)
    assert declaration == {
        "title": {"de": "Erklärung des Wohnungsgebers", "en": "Declaration of the landlord"},
        "declared_by": "Hausverwaltung Rheinblick GmbH",
        "submitted_by": {"role": "landlord", "account": "vermieter"},
        "received_by": {"name": "Stadt Gelsenkirchen", "ags": "05513000"},
        "received_at": "2026-03-02T09:15:00+01:00"}
    assert declaration_text(declaration, lang) == DECLARATION[lang]


def test_a_declaration_entered_by_a_clerk_with_a_hidden_declarant_or_issued_before_evidence() -> None:
    by_clerk = declared(1, ("clerk", "sb.aachen"))
    assert declaration_text(declaration_of(by_clerk, CONFIRMATION)) == (
        "Erklärung des Wohnungsgebers Wilhelm Offermanns, erfasst über das Konto „sb.aachen“ der "
        "Behörde, eingegangen bei Stadt Gelsenkirchen (AGS 05513000) am 02.03.2026, 09:15 Uhr")
    without_name = copy.deepcopy(by_clerk)
    del without_name["credentialSubject"]["wohnungsgeber"]
    assert declaration_text(declaration_of(without_name, CONFIRMATION), "en").startswith(
        "Declaration of the landlord (name hidden), entered through the office's account")
    by_office = declaration_of(declared(submitted_by=None), CONFIRMATION)
    assert by_office is not None and by_office["submitted_by"] is None
    # documents issued before evidence existed: still the landlord's declaration, received by
    # their issuer; who submitted it and when is not known
    assert declaration_text(declaration_of(issued(CONFIRMATION), CONFIRMATION)) == (
        "Erklärung des Wohnungsgebers Hausverwaltung Rheinblick GmbH, eingegangen bei Stadt "
        "Gelsenkirchen (AGS 05513000)")
    dog = REGISTRY.get("gefaehrlicher-hund")
    assert declaration_of(issued(dog), dog) is None  # the office's own permit
