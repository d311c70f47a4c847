"""The PDF certificate: its QR code opens the link, its text shows the fields, its attachment is the JSON."""

from __future__ import annotations

import json
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from test_display import (  # the same issued examples (rootdir on sys.path)
    ANCHORED_AT,
    CONFIRMATION,
    DECLARATION,
    EXAMPLES,
    REGISTRY,
    declared,
    issued,
)

from govchain.domain.disclosure import disclose
from govchain.domain.security import format_link_code, new_link_token
from govchain.domain.usecases import UseCase
from govchain.presentation.display import format_date, shown_sections
from govchain.presentation.pdf import ATTACHMENT_NAME, render_certificate, verify_page_url

BASE = "http://127.0.0.1:8765"


def read_pdf(data: bytes) -> tuple[str, list[str], dict[str, bytes], int]:
    """(text of all pages, QR codes found on page 1, attachments by name, number of pages)."""
    pdf = pdfium.PdfDocument(data)
    try:
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        image = pdf[0].render(scale=2).to_pil()
        codes = [b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
        attachments = {}
        for i in range(pdf.count_attachments()):
            attachment = pdf.get_attachment(i)
            attachments[attachment.get_name()] = bytes(attachment.get_data())
        return text, codes, attachments, len(pdf)
    finally:
        pdf.close()


def flat(text: str) -> str:
    """Text with all whitespace collapsed: a value may wrap in its table cell."""
    return " ".join(text.split())


def certificate(usecase: UseCase, document: dict[str, Any], lang: str = "de") -> tuple[bytes, str, str]:
    token = new_link_token()
    url = f"{BASE}/v/{token}"
    code = format_link_code(token)
    return render_certificate(document, usecase, verify_url=url, link_code=code, lang=lang,
                              anchored_at=ANCHORED_AT), url, code


@pytest.mark.parametrize("lang", ["de", "en"])
@pytest.mark.parametrize(("usecase_id", "index"), EXAMPLES)
def test_certificate_of_every_example(usecase_id: str, index: int, lang: str) -> None:
    usecase = REGISTRY.get(usecase_id)
    document = issued(usecase, index)
    data, url, code = certificate(usecase, document, lang)
    assert data.startswith(b"%PDF-")
    text, codes, attachments, _ = read_pdf(data)

    assert codes == [url]  # the QR code on page 1 opens exactly the verification link
    content = flat(text)
    assert "Stadt Gelsenkirchen" in content and "05513000" in content
    assert code in content
    check = ("Prüfen: QR-Code scannen oder Code auf" if lang == "de" else "Verify: scan the QR code")
    assert check in content and f"{BASE}/verify" in content
    assert flat(usecase.display["title"][lang]) in content
    for section in shown_sections(document["credentialSubject"], usecase, lang):
        assert section.title in content
        for field in section.fields:
            for line in field.lines:
                assert flat(line) in content, (field.path, line)
    # the JSON document travels inside the PDF, unchanged
    assert list(attachments) == [ATTACHMENT_NAME]
    assert json.loads(attachments[ATTACHMENT_NAME].decode("utf-8")) == document


def test_key_fields_and_dates_of_a_dog_permit_in_german() -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    document = issued(dog, 0)
    data, _, _ = certificate(dog, document)
    content = flat(read_pdf(data)[0])
    for expected in ("Erlaubnis zum Halten eines gefährlichen Hundes", "Sandra Kowalczyk, geb. 14.07.1986",
                     "276098106452137", "GE-32-2026-0147", "Rüde", "Maulkorbpflicht nein",
                     "Gültig ab 12.01.2026, 10:00 Uhr", "Gültig bis bis auf Widerruf",
                     "Ausgestellt am 21.09.2026, 16:13 Uhr", "„govchain-dokument.json“", document["id"]):
        assert expected in content, expected


@pytest.mark.parametrize("lang", ["de", "en"])
def test_a_landlord_confirmation_is_printed_as_the_landlords_declaration(lang: str) -> None:
    data, _, _ = certificate(CONFIRMATION, declared(), lang)
    content = flat(read_pdf(data)[0])
    assert DECLARATION[lang] in content
    # the date on the certificate is the anchor's, not an issue date of the office
    assert ("Verankert am" if lang == "de" else "Anchored on") in content
    assert ("Ausgestellt am" if lang == "de" else "Issued on") not in content


def test_hidden_fields_are_not_printed_and_the_attachment_is_the_shared_copy() -> None:
    dog = REGISTRY.get("gefaehrlicher-hund")
    shared = disclose(issued(dog, 0), ["/halter/geburtsdatum", "/halter/anschrift"])
    data, url, _ = certificate(dog, shared)
    text, codes, attachments, _ = read_pdf(data)
    content = flat(text)
    assert codes == [url]
    assert "Sandra Kowalczyk" in content and "276098106452137" in content
    assert format_date("1986-07-14") not in content and "Ückendorfer" not in content
    assert json.loads(attachments[ATTACHMENT_NAME]) == shared


def test_a_long_document_continues_on_the_next_page_with_the_qr_code_on_the_first() -> None:
    music = REGISTRY.get("strassenmusik")
    document = issued(music, 0)
    subject = document["credentialSubject"]
    subject["regeln"]["hinweise"] = [f"Hinweis {i}: " + "Rücksicht auf Anwohner und Geschäfte. " * 6
                                     for i in range(10)]
    data = render_certificate(document, music, verify_url=f"{BASE}/v/X", link_code="X")
    text, codes, _, pages = read_pdf(data)
    assert pages >= 2 and codes == [f"{BASE}/v/X"]
    assert "Hinweis 9:" in text and "Seite 2 von" in text


def test_the_same_document_gives_the_same_pdf() -> None:
    music = REGISTRY.get("strassenmusik")
    document = issued(music, 1)
    first = render_certificate(document, music, verify_url=f"{BASE}/v/A", link_code="A",
                              anchored_at=ANCHORED_AT)
    assert render_certificate(document, music, verify_url=f"{BASE}/v/A", link_code="A",
                              anchored_at=ANCHORED_AT) == first


@pytest.mark.parametrize(("url", "page"), [
    ("https://govchain.example/v/ABC", "https://govchain.example/verify"),
    ("https://stadt.example/govchain/v/ABC", "https://stadt.example/govchain/verify"),
    ("http://127.0.0.1:8000/v/ABC?lang=en", "http://127.0.0.1:8000/verify"),
])
def test_where_a_person_types_the_code(url: str, page: str) -> None:
    assert verify_page_url(url) == page
