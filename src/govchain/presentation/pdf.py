"""The printable certificate: an A4 PDF with the document's disclosed fields and a QR code to verify it.

The QR code opens the verification link; the link's code is printed beside it for people who type
it in instead. The JSON document itself travels inside the PDF as a file attachment, so the paper's
digital form can be checked without a link too. Pure Python (fpdf2, segno); the committed DejaVu
Sans font carries the German characters the PDF core fonts lack.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import segno
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from govchain.domain.usecases import UseCase
from govchain.domain.verification import declaration_of
from govchain.presentation.display import declaration_text, document_facts, shown_sections

ATTACHMENT_NAME = "govchain-dokument.json"
FONT = "DejaVuSans"
_MARGIN = 18.0  # mm
_QR_SIZE = 42.0  # mm: scans from a phone at arm's length, also after a photocopy
_INK = (20, 20, 20)
_MUTED = (85, 85, 85)
_ACCENT = (0, 70, 130)
_HIGHLIGHT_FILL = (232, 240, 250)

_WORDS: dict[str, dict[str, str]] = {
    "de": {
        "code": "Prüfcode",
        "check": "Prüfen: QR-Code scannen oder Code auf {url} eingeben",
        "issued": "Ausgestellt am", "valid_from": "Gültig ab", "valid_until": "Gültig bis",
        "anchored": "Verankert am",
        "id": "Dokumentnummer", "ags": "Gemeindeschlüssel",
        "legal": "Rechtsgrundlage",
        "footer": ("Die Echtheit dieses Dokuments ist in einem Register der Kommunen in NRW verankert. "
                   "Die maschinenlesbare Fassung ist als Datei „{name}“ in dieses PDF eingebettet."),
        "page": "Seite {n} von {total}",
        "attachment": "Das Dokument als JSON, prüfbar mit govchain verify",
    },
    "en": {
        "code": "Verification code",
        "check": "Verify: scan the QR code or enter the code at {url}",
        "issued": "Issued on", "valid_from": "Valid from", "valid_until": "Valid until",
        "anchored": "Anchored on",
        "id": "Document number", "ags": "Municipality key",
        "legal": "Legal basis",
        "footer": ("The authenticity of this document is anchored in a register of the municipalities "
                   "of NRW. Its machine-readable form is embedded in this PDF as the file „{name}“."),
        "page": "Page {n} of {total}",
        "attachment": "The document as JSON, verifiable with govchain verify",
    },
}


def verify_page_url(verify_url: str) -> str:
    """Where a person types the code: the /verify page of the server that made the link."""
    parts = urlsplit(verify_url)
    path = parts.path
    prefix = path[:path.rfind("/v/")] if "/v/" in path else ""
    return f"{parts.scheme}://{parts.netloc}{prefix}/verify" if parts.netloc else "/verify"


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """The QR code of `url` as PNG (error correction Q: a smudged or folded print still scans)."""
    out = io.BytesIO()
    segno.make(url, error="q", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


class _Certificate(FPDF):
    def __init__(self, lang: str, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._lang = lang
        self._footer_text = footer_text
        fonts = resources.files("govchain.presentation") / "fonts"
        with resources.as_file(fonts / "DejaVuSans.ttf") as regular:
            self.add_font(FONT, "", regular)
        with resources.as_file(fonts / "DejaVuSans-Bold.ttf") as bold:
            self.add_font(FONT, "B", bold)
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(True, margin=24)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-20)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*_MUTED)
        self.multi_cell(0, 3.6, self._footer_text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        page = _WORDS[self._lang]["page"].format(n=self.page_no(), total="{nb}")
        self.cell(0, 4, page, align="R")


def render_certificate(document: Mapping[str, Any], usecase: UseCase, *, verify_url: str,
                       link_code: str, lang: str = "de", anchored_at: datetime | None = None
                       ) -> bytes:
    """The certificate of an issued (or disclosed) document as PDF bytes.

    Shows the municipality, the use case's title, the issue and validity dates, a QR code that
    opens `verify_url` with `link_code` beside it, then every disclosed field by section (display
    template first, "Weitere Angaben" last). The document's JSON is attached as a file.
    `anchored_at` comes from the service's record of the anchor (never from ``proof.anchor``,
    which the hash does not cover).
    """
    lang = lang if lang in _WORDS else "de"
    w = _WORDS[lang]
    facts = document_facts(document, usecase, lang, anchored_at=anchored_at)
    pdf = _Certificate(lang, w["footer"].format(name=ATTACHMENT_NAME))
    pdf.set_lang("de-DE" if lang == "de" else "en-GB")
    pdf.set_title(f"{facts.title} – {facts.issuer_name}".strip(" –"))
    pdf.set_author(facts.issuer_name or "govchain")
    pdf.set_creator("govchain")
    anchored = anchored_at
    if anchored is not None:  # the same document gives the same PDF bytes
        pdf.set_creation_date(anchored)
    pdf.add_page()
    width = pdf.epw

    # who issued it and what it is
    pdf.set_text_color(*_ACCENT)
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(width, 7, facts.issuer_name or "–", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9.5)
    pdf.set_text_color(*_MUTED)
    issued_by = usecase.issued_by.get(lang) or usecase.issued_by["de"]
    pdf.multi_cell(width, 5, f"{issued_by} · {w['ags']} {facts.issuer_ags}", align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(5)
    pdf.set_text_color(*_INK)
    pdf.set_font(FONT, "B", 18)
    pdf.multi_cell(width, 8.5, facts.title, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*_MUTED)
    legal = usecase.legal_basis.get(lang) or usecase.legal_basis["de"]
    pdf.multi_cell(width, 4.5, f"{w['legal']}: {legal}", align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    declaration = declaration_of(document, usecase)
    if declaration is not None:  # the landlord's words, received by the office: not its own
        pdf.ln(2)
        pdf.set_font(FONT, "B", 10)
        pdf.set_text_color(*_INK)
        pdf.multi_cell(width, 5, declaration_text(declaration, lang), align="L",
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    # the QR code with the code beside it, and the dates
    top = pdf.get_y()
    pdf.set_draw_color(*_ACCENT)
    pdf.set_line_width(0.4)
    box_height = _QR_SIZE + 6
    pdf.rect(_MARGIN, top, width, box_height)
    pdf.image(io.BytesIO(qr_png(verify_url)), x=_MARGIN + 3, y=top + 3, w=_QR_SIZE, h=_QR_SIZE,
              link=verify_url, alt_text=verify_url)
    text_x = _MARGIN + _QR_SIZE + 8
    text_w = width - _QR_SIZE - 11
    pdf.set_xy(text_x, top + 4)
    pdf.set_text_color(*_MUTED)
    pdf.set_font(FONT, "", 9)
    pdf.cell(text_w, 5, w["code"], new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(text_w, 7, link_code, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.multi_cell(text_w, 4.5, w["check"].format(url=verify_page_url(verify_url)), align="L",
                   new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(2)
    dates = [(w["anchored"] if declaration else w["issued"], facts.issued_at),
             (w["valid_from"], facts.valid_from),
             (w["valid_until"], facts.valid_until), (w["id"], facts.document_id)]
    for label, value in dates:
        if value:
            pdf.set_x(text_x)
            pdf.set_font(FONT, "", 8.5)
            pdf.set_text_color(*_MUTED)
            pdf.cell(32, 4.4, label)
            pdf.set_text_color(*_INK)
            pdf.multi_cell(text_w - 32, 4.4, value, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(_MARGIN, max(pdf.get_y(), top + box_height) + 6)

    # the disclosed fields, by section
    subject = document.get("credentialSubject")
    for section in shown_sections(subject if isinstance(subject, Mapping) else {}, usecase, lang):
        if pdf.will_page_break(20):
            pdf.add_page()
        pdf.set_font(FONT, "B", 11.5)
        pdf.set_text_color(*_ACCENT)
        pdf.cell(width, 7, section.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*_ACCENT)
        pdf.set_line_width(0.3)
        pdf.line(_MARGIN, pdf.get_y(), _MARGIN + width, pdf.get_y())
        pdf.ln(1.5)
        pdf.set_text_color(*_INK)
        pdf.set_font(FONT, "", 9.5)
        with pdf.table(col_widths=(0.36, 0.64), first_row_as_headings=False, borders_layout="NONE",
                       text_align="LEFT", v_align="TOP", line_height=4.8, padding=(1.2, 1.5),
                       width=width) as table:
            for field in section.fields:
                style = FontFace(emphasis="BOLD", fill_color=_HIGHLIGHT_FILL) if field.highlight else None
                row = table.row(style=style)
                row.cell(field.label)
                row.cell(field.value)
        pdf.ln(3)

    pdf.embed_file(bytes=json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"),
                   basename=ATTACHMENT_NAME, mime_type="application/json", desc=w["attachment"],
                   modification_date=anchored)
    return bytes(pdf.output())

