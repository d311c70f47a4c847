"""What a person sees of a document: labelled, formatted fields by section, from the use case's display.json.

Shared by the web pages, the PDF certificate and anything else that shows a document to people. The
subject may have been through selective disclosure: a hidden field is a missing key, a hidden list
element is ``None``; both are simply not shown. Every disclosed value the display template does not
cover ends up in a last section "Weitere Angaben" / "Further details", so nothing disclosed is lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from govchain.domain import timefmt
from govchain.domain.pointers import escape_token, iter_leaves, parse_pointer, resolve_pointer
from govchain.domain.schedule import days_text
from govchain.domain.timefmt import BERLIN
from govchain.domain.usecases import UseCase, schema_title

LANGUAGES = ("de", "en")
RANGE = "\N{EN DASH}"  # ranges of days and hours, German typography

_WORDS: dict[str, dict[str, str]] = {
    "de": {"yes": "ja", "no": "nein", "born": "geb.", "more": "Weitere Angaben", "daily": "täglich",
           "document": "Dokument", "issuer": "Ausgestellt von", "ags": "Gemeindeschlüssel (AGS)",
           "issued": "Ausgestellt am", "valid_from": "Gültig ab", "valid_until": "Gültig bis",
           "until_revoked": "bis auf Widerruf", "id": "Dokumentnummer"},
    "en": {"yes": "yes", "no": "no", "born": "born", "more": "Further details", "daily": "daily",
           "document": "Document", "issuer": "Issued by", "ags": "Municipality key (AGS)",
           "issued": "Issued on", "valid_from": "Valid from", "valid_until": "Valid until",
           "until_revoked": "until revoked", "id": "Document number"},
}
_DAYS = ("mo", "di", "mi", "do", "fr", "sa", "so")
_DAY_LABELS = {"de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
               "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_PERSON_KEYS = ("vorname", "name", "geburtsdatum")
_ADDRESS_KEYS = ("strasse", "hausnummer", "zusatz", "postleitzahl", "ort")
_MONEY_KEYS = ("betrag", "waehrung")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_HIDDEN = object()


@dataclass(frozen=True)
class ShownField:
    """One labelled value. A list (several tenants, zones, time windows) has one line per entry,
    separated by newlines; ``lines`` gives them as a list for templates."""

    path: str  # JSON Pointer in credentialSubject
    label: str
    value: str
    highlight: bool

    @property
    def lines(self) -> list[str]:
        return self.value.split("\n")


@dataclass(frozen=True)
class ShownSection:
    title: str
    fields: list[ShownField]


@dataclass(frozen=True)
class DocumentFacts:
    """The facts about a document outside its subject, formatted for people (None when absent)."""

    title: str  # the use case's display title
    issuer_name: str
    issuer_ags: str
    issued_at: str | None  # anchoring time (date and time, Berlin)
    valid_from: str | None
    valid_until: str  # "bis auf Widerruf" / "until revoked" when the document has none
    document_id: str | None

    def section(self, lang: str = "de") -> ShownSection:
        """The facts as a section "Dokument" / "Document", for pages that list everything alike."""
        w = _WORDS[_lang(lang)]
        rows = [("/issuer/name", w["issuer"], self.issuer_name), ("/issuer/ags", w["ags"], self.issuer_ags),
                ("/proof/anchor/anchoredAt", w["issued"], self.issued_at),
                ("/validFrom", w["valid_from"], self.valid_from),
                ("/validUntil", w["valid_until"], self.valid_until), ("/id", w["id"], self.document_id)]
        return ShownSection(w["document"], [ShownField(path, label, value, False)
                                            for path, label, value in rows if value])


# -- formatting single values -----------------------------------------------------------------

def _lang(lang: str) -> str:
    return lang if lang in LANGUAGES else "de"


def _text(labels: Mapping[str, str], lang: str) -> str:
    return labels.get(lang) or labels["de"]


def format_date(value: str, lang: str = "de") -> str:
    """'2026-07-14' as '14.07.2026' (de) or '14 July 2026' (en); other text unchanged."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return value
    if _lang(lang) == "de":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_datetime(value: str, lang: str = "de") -> str:
    """An ISO date-time as Berlin time: '02.03.2026, 09:15 Uhr' (de), '2 March 2026, 09:15' (en)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BERLIN)
    if _lang(lang) == "de":
        return timefmt.de(moment)
    local = moment.astimezone(BERLIN)
    return f"{format_date(local.date().isoformat(), lang)}, {local:%H:%M}"


def _scalar(value: object, lang: str, values: Mapping[str, Mapping[str, str]] | None = None, *,
            dates: bool = False) -> str:
    """A value as text; `dates` also formats date-shaped strings (where no template says "text")."""
    w = _WORDS[lang]
    if isinstance(value, bool):
        return w["yes"] if value else w["no"]
    if isinstance(value, str):
        if values and value in values:
            return _text(values[value], lang)
        if not dates:
            return value
        if _DATE.match(value):
            return format_date(value, lang)
        if _DATE_TIME.match(value):
            return format_datetime(value, lang)
        return value
    if isinstance(value, float) and lang == "de":
        return str(value).replace(".", ",")
    if value is None:
        return ""
    return str(value)


# -- formats of display.json ------------------------------------------------------------------
# Each formatter gets the value and its pointer and returns the text plus the leaf pointers it
# used; leaves no field used go to "Weitere Angaben".

Used = list[str]
Formatter = Callable[[Any, str, str, Mapping[str, Mapping[str, str]] | None], tuple[str, Used]]


def _all_leaves(value: Any, pointer: str) -> Used:
    return [p for p, v in iter_leaves(value, pointer) if v not in ({}, [])]


def _fmt_text(value: Any, pointer: str, lang: str,
              values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    if isinstance(value, Mapping):  # e.g. a zone: "Elisenbrunnen – Vorplatz und Arkaden"
        parts = [_scalar(v, lang, values) for v in value.values() if not isinstance(v, Mapping | list)]
        return f" {RANGE} ".join(p for p in parts if p), _all_leaves(value, pointer)
    if isinstance(value, list):
        return _fmt_list(value, pointer, lang, values)
    return _scalar(value, lang, values), [pointer]


def _fmt_date(value: Any, pointer: str, lang: str,
              values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    if isinstance(value, str):
        return (format_date(value, lang) if _DATE.match(value) else format_datetime(value, lang)), [pointer]
    return _fmt_text(value, pointer, lang, values)


def _fmt_person(value: Any, pointer: str, lang: str,
                values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    if not isinstance(value, Mapping):
        return _fmt_text(value, pointer, lang, values)
    name = " ".join(str(value[k]) for k in ("vorname", "name") if isinstance(value.get(k), str))
    born = value.get("geburtsdatum")
    text = name
    if isinstance(born, str):
        born_text = f"{_WORDS[lang]['born']} {format_date(born, lang)}"
        text = f"{name}, {born_text}" if name else born_text
    used = [f"{pointer}/{k}" for k in _PERSON_KEYS if isinstance(value.get(k), str)]
    return text, used


def _fmt_address(value: Any, pointer: str, lang: str,
                 values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    if not isinstance(value, Mapping):
        return _fmt_text(value, pointer, lang, values)

    def part(key: str) -> str:
        v = value.get(key)
        return v if isinstance(v, str) else ""

    street = " ".join(p for p in (part("strasse"), part("hausnummer")) if p)
    town = " ".join(p for p in (part("postleitzahl"), part("ort")) if p)
    text = ", ".join(p for p in (street, part("zusatz"), town) if p)
    return text, [f"{pointer}/{k}" for k in _ADDRESS_KEYS if part(k)]


def _fmt_money(value: Any, pointer: str, lang: str,
               values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    if not isinstance(value, Mapping):
        return _fmt_text(value, pointer, lang, values)
    amount, currency = value.get("betrag"), value.get("waehrung")
    amount_text = str(amount) if isinstance(amount, str | int | float) else ""
    if amount_text and lang == "de":
        amount_text = amount_text.replace(".", ",")
    currency_text = currency if isinstance(currency, str) else ""
    text = (f"{amount_text} {currency_text}" if lang == "de" else f"{currency_text} {amount_text}").strip()
    return text, [f"{pointer}/{k}" for k in _MONEY_KEYS if isinstance(value.get(k), str | int | float)]


def _fmt_list(value: Any, pointer: str, lang: str, values: Mapping[str, Mapping[str, str]] | None,
              item: str = "text") -> tuple[str, Used]:
    if not isinstance(value, list):
        return _FORMATTERS[item](value, pointer, lang, values)
    lines: list[str] = []
    used: Used = []
    for i, element in enumerate(value):
        if element is None:  # a hidden element keeps its place but shows nothing
            continue
        text, element_used = _FORMATTERS[item](element, f"{pointer}/{i}", lang, values)
        if text:
            lines.append(text)
            used += element_used
    return "\n".join(lines), used


def _fmt_timewindows(value: Any, pointer: str, lang: str,
                     values: Mapping[str, Mapping[str, str]] | None) -> tuple[str, Used]:
    """One line per set of weekdays: 'Mo–Sa 09:00–13:00, 14:00–20:00' (hidden windows left out)."""
    if not isinstance(value, list):
        return _fmt_text(value, pointer, lang, values)
    groups: dict[str, list[str]] = {}
    used: Used = []
    for i, window in enumerate(value):
        if not isinstance(window, Mapping):
            continue
        days = window.get("tage")
        day_text = _days_text(days, lang) if isinstance(days, list) else "?"
        von, bis = window.get("von"), window.get("bis")
        hours = f"{von if isinstance(von, str) else '?'}{RANGE}{bis if isinstance(bis, str) else '?'}"
        groups.setdefault(day_text, []).append(hours)
        used += _all_leaves(window, f"{pointer}/{i}")
    return "\n".join(f"{days} {', '.join(hours)}" for days, hours in groups.items()), used


def _days_text(days: Sequence[object], lang: str) -> str:
    indexes = sorted({_DAYS.index(d) for d in days if isinstance(d, str) and d in _DAYS})
    return days_text(indexes, _DAY_LABELS[lang], _WORDS[lang]["daily"]) or "?"


_FORMATTERS: dict[str, Formatter] = {
    "text": _fmt_text,
    "date": _fmt_date,
    "boolean": _fmt_text,  # ja/nein (yes/no) like any boolean
    "person": _fmt_person,
    "address": _fmt_address,
    "money": _fmt_money,
    "timewindows": _fmt_timewindows,
    "list": _fmt_list,
}


# -- the sections -----------------------------------------------------------------------------

def shown_sections(subject: Mapping[str, Any], usecase: UseCase, lang: str = "de") -> list[ShownSection]:
    """The subject's disclosed fields as the use case's display template arranges them.

    Fields that are hidden (missing, or ``None`` list elements) are left out, and so is a section
    with nothing left. Disclosed values that no template field shows come last, in a section
    "Weitere Angaben" / "Further details", labelled with the schema's titles.
    """
    lang = _lang(lang)
    display = usecase.display
    highlight = set(display.get("highlight", ()))
    used: set[str] = set()
    sections: list[ShownSection] = []
    for section in display["sections"]:
        fields: list[ShownField] = []
        for spec in section["fields"]:
            value = _lookup(subject, spec["path"])
            if value is _HIDDEN or value is None or value == {} or value == []:
                continue  # hidden, or emptied by hiding: nothing the hash covers to show
            fmt, values = spec["format"], spec.get("values")
            if fmt == "list":
                text, field_used = _fmt_list(value, spec["path"], lang, values, spec.get("item", "text"))
            else:
                text, field_used = _FORMATTERS[fmt](value, spec["path"], lang, values)
            used.update(field_used)
            if text:
                fields.append(ShownField(spec["path"], _text(spec["label"], lang), text,
                                         spec["path"] in highlight))
        if fields:
            sections.append(ShownSection(_text(section["title"], lang), fields))
    rest = [ShownField(pointer, _leftover_label(usecase, pointer), _scalar(value, lang, dates=True), False)
            for pointer, value in iter_leaves(dict(subject))
            if pointer not in used and value not in ({}, [])]
    if rest:
        sections.append(ShownSection(_WORDS[lang]["more"], rest))
    return sections


def _lookup(subject: Mapping[str, Any], pointer: str) -> Any:
    try:
        return resolve_pointer(subject, pointer)
    except LookupError:
        return _HIDDEN


def _leftover_label(usecase: UseCase, pointer: str) -> str:
    """'Eigentümer › Anschrift › Straße' from the schema's titles (list positions counted from 1)."""
    parts: list[str] = []
    prefix = ""
    for token in parse_pointer(pointer):
        prefix += "/" + escape_token(token)
        if token.isdigit():
            parts.append(f"{int(token) + 1}.")
            continue
        title = schema_title(usecase.schema, prefix)
        parts.append(title or token)
    return " › ".join(parts)


# -- document-level facts ---------------------------------------------------------------------

def document_facts(document: Mapping[str, Any], usecase: UseCase, lang: str = "de", *,
                   anchored_at: datetime | None = None) -> DocumentFacts:
    """Issuer, anchoring time and validity of an issued (or disclosed) document, formatted.

    The anchoring time is `anchored_at` as the ledger (a verification result) or the service's own
    record says; never the document's ``proof.anchor``, which its hash does not cover.
    """
    lang = _lang(lang)
    issuer = document.get("issuer")
    issuer = issuer if isinstance(issuer, Mapping) else {}
    anchored = anchored_at.isoformat() if anchored_at is not None else None
    valid_from, valid_until = document.get("validFrom"), document.get("validUntil")
    doc_id = document.get("id")
    return DocumentFacts(
        title=_text(usecase.display["title"], lang),
        issuer_name=str(issuer.get("name", "")),
        issuer_ags=str(issuer.get("ags", "")),
        issued_at=format_datetime(anchored, lang) if isinstance(anchored, str) else None,
        valid_from=format_datetime(valid_from, lang) if isinstance(valid_from, str) else None,
        valid_until=(format_datetime(valid_until, lang) if isinstance(valid_until, str)
                     else _WORDS[lang]["until_revoked"]),
        document_id=str(doc_id) if isinstance(doc_id, str) else None,
    )


# -- declarations -----------------------------------------------------------------------------

_DECLARATION_WORDS: dict[str, dict[str, str]] = {
    "de": {"hidden": "(Name verborgen)", "landlord": "eingereicht über das Wohnungsgeber-Konto „{}“",
           "clerk": "erfasst über das Konto „{}“ der Behörde", "received": "eingegangen bei {} (AGS {})",
           "at": "am {}"},
    "en": {"hidden": "(name hidden)", "landlord": "submitted through the landlord account “{}”",
           "clerk": "entered through the office's account “{}”", "received": "received by {} (AGS {})",
           "at": "on {}"},
}


def declaration_text(declaration: Mapping[str, Any], lang: str = "de") -> str:
    """One sentence from verification.declaration_of: 'Erklärung des Wohnungsgebers Vonovia SE,
    eingereicht über das Wohnungsgeber-Konto „vermieter“, eingegangen bei Stadt Aachen (AGS
    05334002) am 29.11.2026, 04:40 Uhr' — so nobody reads a landlord's words as the office's."""
    lang = _lang(lang)
    w = _DECLARATION_WORDS[lang]
    title = declaration.get("title")
    parts = [f"{_text(title, lang) if isinstance(title, Mapping) else ''} "
             f"{declaration.get('declared_by') or w['hidden']}".strip()]
    submitted = declaration.get("submitted_by")
    if isinstance(submitted, Mapping):
        template = w["clerk"] if submitted.get("role") == "clerk" else w["landlord"]
        parts.append(template.format(submitted.get("account", "")))
    received = declaration.get("received_by")
    if isinstance(received, Mapping):
        text = w["received"].format(received.get("name", ""), received.get("ags", ""))
        at = declaration.get("received_at")
        if isinstance(at, str):
            text += " " + w["at"].format(format_datetime(at, lang))
        parts.append(text)
    return ", ".join(parts)
