"""The clerk's work through the pages: the generated issue form, the document page, revocation with
a confirmation step, verification links, downloads, and the public pages that show the result."""

from __future__ import annotations

import json
import re

import pytest
from web_kit import (
    AACHEN,
    DOG,
    MUSIC,
    Site,
    csrf_of,
    example,
    login,
    post_form,
    status_of_page,
    text_of,
)

from govchain.domain.subject_fields import raw_from_subject
from govchain.entrypoints.http.web import clerk


def _issue(site: Site, usecase: str, subject: dict[str, object]) -> tuple[str, str]:
    """Issues through the form; (document id, document page HTML)."""
    browser = login(site, "sb.aachen")
    raw = raw_from_subject(site.ctx.usecases.get(usecase), subject)
    response = post_form(browser, f"/documents/new/{usecase}", f"/documents/new/{usecase}", raw,
                         follow_redirects=False)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.endswith("?issued=1")
    page = browser.get(location)
    assert page.status_code == 200
    return location.split("/")[2].split("?")[0], page.text


def test_every_shipped_usecase_gets_a_form_from_its_schema(site: Site) -> None:
    browser = login(site, "sb.aachen")
    choose = browser.get("/documents/new")
    for usecase in site.ctx.usecases:
        assert f'href="/documents/new/{usecase.id}"' in choose.text
        form = browser.get(f"/documents/new/{usecase.id}")
        assert form.status_code == 200
        html = form.text
        assert f'data-usecase="{usecase.id}"' in html
        # every input has a label, every label points at an input that exists
        ids = re.findall(r'<(?:input|select|textarea)[^>]* id="([^"]+)"', html)
        labelled = re.findall(r'<label for="([^"]+)"', html)
        assert sorted(ids) == sorted(labelled)
        assert len(set(ids)) == len(ids)
    dog = browser.get(f"/documents/new/{DOG}").text
    assert 'type="date"' in dog and 'name="/halter/geburtsdatum"' in dog
    assert '<select id="f-hund-geschlecht" name="/hund/geschlecht"' in dog
    assert "Rüde" in dog and 'type="checkbox" id="f-auflagen-leinenpflicht"' in dog
    assert '<fieldset class="group" id="f-halter-anschrift"' in dog
    assert 'name="__add__" value="/auflagen/weitere"' in dog
    music = browser.get(f"/documents/new/{MUSIC}").text
    # weekdays as a group of check boxes inside each time window row; zones as rows
    assert 'name="/zeitfenster/0/tage" value="mo"' in music and "Montag" in music
    assert 'name="__add__" value="/zonen"' in music
    # Aachen has a preset for street music: its zones are filled in already
    preset = site.ctx.usecases.get(MUSIC).presets[AACHEN]["subject"]
    assert preset["zonen"][0]["name"] in music


def test_add_and_remove_rows_without_javascript(site: Site) -> None:
    browser = login(site, "sb.aachen")
    url = f"/documents/new/{MUSIC}"
    page = browser.get(url)
    count = int(re.search(r'name="__count__/zonen" value="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    raw = {"csrf_token": csrf_of(page.text), "__count__/zonen": str(count),
           "/zonen/0/name": "Markt", "/kuenstler/name": "Beispiel", "__add__": "/zonen"}
    added = browser.post(url, data=raw)
    assert added.status_code == 200
    assert f'name="__count__/zonen" value="{count + 1}"' in added.text
    assert f'name="/zonen/{count}/name"' in added.text
    assert 'value="Beispiel"' in added.text  # what was typed stays
    assert 'id="error-summary"' not in added.text  # adding a row is not a submission
    raw = {"csrf_token": csrf_of(added.text), "__count__/zonen": "2", "/zonen/0/name": "Markt",
           "/zonen/1/name": "Dom", "__remove__": "/zonen/0"}
    removed = browser.post(url, data=raw)
    assert 'name="__count__/zonen" value="1"' in removed.text
    assert 'name="/zonen/0/name" type="text" value="Dom"' in removed.text


def test_field_errors_are_german_next_to_their_inputs_and_keep_what_was_typed(site: Site) -> None:
    browser = login(site, "sb.aachen")
    subject = example(site, DOG)
    subject["hund"]["chipnummer"] = "12345"
    del subject["halter"]["name"]
    raw = raw_from_subject(site.ctx.usecases.get(DOG), subject)
    response = post_form(browser, f"/documents/new/{DOG}", f"/documents/new/{DOG}", raw)
    assert response.status_code == 422
    html = response.text
    assert 'id="error-summary"' in html and 'href="#f-hund-chipnummer"' in html
    assert 'href="#f-halter-name"' in html
    chip = re.search(r'<input id="f-hund-chipnummer"[^>]*>', html)
    assert chip and 'aria-invalid="true"' in chip.group(0) and "f-hund-chipnummer-error" in chip.group(0)
    assert 'value="12345"' in chip.group(0)
    assert re.search(r'id="f-hund-chipnummer-error">.*muss genau 15 Ziffern haben', html)
    assert re.search(r'id="f-halter-name-error">.*Pflichtfeld fehlt', html)
    assert f'value="{subject["hund"]["name"]}"' in html
    with site.uow() as uow:
        assert uow.documents.list(ags=AACHEN, search="12345").total == 0  # nothing issued


def test_issue_document_page_revoke_with_confirmation_and_verification_link(site: Site) -> None:
    subject = example(site, DOG)
    document_id, html = _issue(site, DOG, subject)
    assert 'id="issued-notice"' in html
    assert status_of_page(html) == "VALID"
    assert subject["hund"]["chipnummer"] in html and 'data-event="anchored"' in html
    browser = login(site, "sb.aachen")
    # the JSON download is the anchored document
    downloaded = browser.get(f"/documents/{document_id}/json")
    assert downloaded.headers["content-disposition"].startswith("attachment")
    document = downloaded.json()
    assert document["id"] == document_id
    # a verification link with a hidden field
    page = browser.get(f"/documents/{document_id}")
    assert 'value="/halter/geburtsdatum"' in page.text
    created = browser.post(f"/documents/{document_id}/links", data={
        "csrf_token": csrf_of(page.text), "hide": ["/halter/geburtsdatum"], "expires": ""})
    assert created.status_code == 200 and created.headers["referrer-policy"] == "no-referrer"
    url = re.search(r'id="created-link-url" rel="noreferrer">([^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    token = url.rsplit("/", 1)[1]
    public = site.browser()
    valid = public.get(f"/v/{token}")
    assert valid.status_code == 200 and status_of_page(valid.text) == "VALID"
    assert valid.headers["cache-control"] == "no-store" and valid.headers["x-robots-tag"] == "noindex"
    assert valid.headers["referrer-policy"] == "no-referrer"
    words = text_of(valid.text)
    assert "GÜLTIG" in words and "Stadt Aachen" in words and AACHEN in words
    assert subject["hund"]["chipnummer"] in words
    assert subject["halter"]["geburtsdatum"] not in valid.text  # hidden
    hidden = re.search(r'id="result-hidden">(\d+) Angaben? verborgen', valid.text)
    assert hidden is not None and int(hidden.group(1)) >= 1  # the page says something is hidden
    assert 'id="highlights"' in valid.text
    # revoke: the first post only asks
    confirm = post_form(browser, f"/documents/{document_id}", f"/documents/{document_id}/status",
                        {"action": "revoke", "reason": "4"})
    assert confirm.status_code == 200 and 'id="confirm-submit"' in confirm.text
    assert "Verstoß gegen Auflagen" in confirm.text
    assert status_of_page(public.get(f"/v/{token}").text) == "VALID"
    done = browser.post(f"/documents/{document_id}/status", data={
        "csrf_token": csrf_of(confirm.text), "action": "revoke", "reason": "4", "confirmed": "yes"})
    assert done.status_code == 200 and 'id="changed-notice"' in done.text
    assert status_of_page(done.text) == "REVOKED" and 'data-event="revoked"' in done.text
    revoked = public.get(f"/v/{token}")
    assert status_of_page(revoked.text) == "REVOKED"
    assert "WIDERRUFEN" in text_of(revoked.text) and "Verstoß gegen Auflagen" in revoked.text
    # withdrawing the link: the page then says so
    page = browser.get(f"/documents/{document_id}")
    link_id = re.search(r'data-link-id="([0-9a-f]+)" data-link-state="active"', page.text).group(1)  # type: ignore[union-attr]
    withdrawn = browser.post(f"/links/{link_id}/withdraw", data={"csrf_token": csrf_of(page.text)})
    assert 'id="withdrawn-notice"' in withdrawn.text
    after = public.get(f"/v/{token}")
    assert status_of_page(after.text) == "INVALID" and "zurückgezogen" in after.text
    # a withdrawn link does not read like a forgery
    assert "PRÜFLINK ZURÜCKGEZOGEN" in text_of(after.text) and "UNGÜLTIG" not in text_of(after.text)
    unknown = public.get("/v/" + "0" * 24)
    assert status_of_page(unknown.text) == "INVALID" and "PRÜFLINK UNBEKANNT" in text_of(unknown.text)


def test_suspend_and_reinstate(site: Site) -> None:
    document_id, _ = _issue(site, DOG, example(site, DOG, 1))
    browser = login(site, "sb.aachen")
    for action, expected in (("suspend", "SUSPENDED"), ("reinstate", "VALID")):
        confirm = post_form(browser, f"/documents/{document_id}", f"/documents/{document_id}/status",
                            {"action": action, "reason": "6"})
        assert f'name="action" value="{action}"' in confirm.text
        done = browser.post(f"/documents/{document_id}/status", data={
            "csrf_token": csrf_of(confirm.text), "action": action, "reason": "6", "confirmed": "yes"})
        assert status_of_page(done.text) == expected


def test_fields_that_are_never_hidden_are_not_offered_and_refused_if_posted(site: Site) -> None:
    # issue 16, finding 2: gefaehrlicher-hund/usecase.json neverHidden
    document_id, _ = _issue(site, DOG, example(site, DOG))
    browser = login(site, "sb.aachen")
    page = browser.get(f"/documents/{document_id}")
    offered = set(re.findall(r'name="hide" value="([^"]+)"', page.text))
    assert "/halter/geburtsdatum" in offered and "/hund/name" in offered
    assert not offered & {"/hund", "/hund/chipnummer", "/kategorie", "/auflagen",
                          "/auflagen/leinenpflicht", "/erlaubnisnummer"}
    refused = browser.post(f"/documents/{document_id}/links", data={
        "csrf_token": csrf_of(page.text), "hide": ["/hund/chipnummer"], "expires": ""})
    assert refused.status_code == 400
    assert "Chipnummer" in text_of(refused.text) and "immer sichtbar" in text_of(refused.text)
    assert 'id="created-link-url"' not in refused.text


def test_pdf_download_carries_a_working_verification_link(site: Site) -> None:
    document_id, html = _issue(site, MUSIC, example(site, MUSIC))
    assert status_of_page(html) == "VALID"
    browser = login(site, "sb.aachen")
    response = post_form(browser, f"/documents/{document_id}", f"/documents/{document_id}/pdf", {})
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    with site.uow() as uow:
        links = uow.links.for_document(document_id)
        record = uow.documents.get(document_id)
    assert len(links) == 1 and record is not None
    assert links[0].expires_at == record.valid_until  # the link ends with the permit


def test_street_music_page_says_whether_it_is_valid_now_and_where(site: Site) -> None:
    subject = example(site, MUSIC)
    document_id, html = _issue(site, MUSIC, subject)
    assert 'id="schedule-now" data-inside="true"' in html
    assert subject["zonen"][0]["name"] in html
    document = login(site, "sb.aachen").get(f"/documents/{document_id}/json").json()
    checked = post_form(site.browser(), "/verify", "/verify", {"document_json": json.dumps(document)})
    assert status_of_page(checked.text) == "VALID"
    assert "Jetzt innerhalb der erlaubten Zeiten" in checked.text


def test_document_list_pages(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    _issue(site, DOG, example(site, DOG, 1))
    _issue(site, DOG, example(site, DOG, 2))
    monkeypatch.setattr(clerk, "PAGE_SIZE", 1)
    browser = login(site, "sb.aachen")
    first = browser.get("/documents", params={"usecase": DOG})
    assert 'id="page-next"' in first.text and 'id="page-prev"' not in first.text
    ids = set(re.findall(r'data-document-id="([^"]+)"', first.text))
    second = browser.get("/documents", params={"usecase": DOG, "page": 2})
    assert 'id="page-prev"' in second.text and len(ids) == 1
    assert set(re.findall(r'data-document-id="([^"]+)"', second.text)).isdisjoint(ids)
    dated = browser.get("/documents", params={"usecase": DOG, "page": 2, "date_from": "2000-01-01"})
    assert set(re.findall(r'data-document-id="([^"]+)"', dated.text)).isdisjoint(ids)
    assert len(re.findall(r'data-document-id="([^"]+)"', dated.text)) == 1


def test_document_list_filters_and_search(site: Site) -> None:
    dog = example(site, DOG, 2)
    document_id, _ = _issue(site, DOG, dog)
    browser = login(site, "sb.aachen")
    listed = browser.get("/documents")
    assert document_id in listed.text
    found = browser.get("/documents", params={"q": dog["hund"]["chipnummer"]})
    assert document_id in found.text and 'id="document-count"' in found.text
    assert document_id not in browser.get("/documents", params={"usecase": MUSIC}).text
    assert document_id not in browser.get("/documents", params={"status": "revoked"}).text
    assert document_id in browser.get("/documents", params={"status": "active", "usecase": DOG}).text
    assert document_id not in browser.get("/documents", params={"date_to": "2000-01-01"}).text
    in_range = browser.get("/documents", params={"date_from": "2000-01-01", "date_to": "2999-12-31"})
    assert document_id in in_range.text


def test_a_clerk_of_another_municipality_sees_nothing(site: Site) -> None:
    document_id, _ = _issue(site, DOG, example(site, DOG))
    cologne = login(site, "sb.koeln")
    assert cologne.get(f"/documents/{document_id}").status_code == 404
    assert cologne.get(f"/documents/{document_id}/json").status_code == 404
    assert document_id not in cologne.get("/documents").text
    refused = post_form(cologne, "/documents", f"/documents/{document_id}/status",
                        {"action": "revoke", "reason": "1", "confirmed": "yes"})
    assert refused.status_code == 404
