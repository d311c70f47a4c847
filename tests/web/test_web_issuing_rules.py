"""The clerk's pages offer and accept only what the municipality is admitted for; dates outside
every plausible range are a field error, never a server error; failed anchors show in the list."""

from __future__ import annotations

import pytest
from web_kit import DOG, KOELN, MUSIC, Site, csrf_of, example, login, post_form, text_of

from govchain import services
from govchain.domain.subject_fields import raw_from_subject
from govchain.entrypoints.http.web import issuing
from govchain.pipeline.anchoring import Anchoring
from govchain.pipeline.batches import anchor_now


def _stored(site: Site) -> int:
    with site.uow() as uow:
        return uow.documents.count()


def test_the_form_offers_and_takes_only_admitted_usecases(site: Site) -> None:
    koeln = login(site, "sb.koeln")  # Köln is admitted for dog permits only
    choose = koeln.get("/documents/new").text
    assert f'href="/documents/new/{DOG}"' in choose
    assert f'href="/documents/new/{MUSIC}"' not in choose
    form = koeln.get(f"/documents/new/{MUSIC}")
    assert form.status_code == 403
    assert "Stadt Köln ist für „Straßenmusik-Erlaubnis“ nicht zugelassen" in text_of(form.text)
    # a post with a valid CSRF token but to a use case the form never offered: refused
    own_form = koeln.get(f"/documents/new/{DOG}").text
    before = _stored(site)
    raw = raw_from_subject(site.ctx.usecases.get(MUSIC), example(site, MUSIC))
    forged = koeln.post(f"/documents/new/{MUSIC}", data={**raw, "csrf_token": csrf_of(own_form)})
    assert forged.status_code == 403
    assert _stored(site) == before


@pytest.mark.parametrize("field, value", [
    ("__valid_until", "9999-12-31"), ("__valid_from", "0001-01-01"),
    ("__valid_from", "1990-01-01"), ("__valid_until", "2990-01-01"),
])
def test_an_implausible_validity_date_is_shown_at_its_input(site: Site, field: str,
                                                            value: str) -> None:
    browser = login(site, "sb.aachen")
    raw = raw_from_subject(site.ctx.usecases.get(DOG), example(site, DOG))
    before = _stored(site)
    response = post_form(browser, f"/documents/new/{DOG}", f"/documents/new/{DOG}",
                         {**raw, field: value})
    assert response.status_code == 422, response.text
    assert 'href="#valid-' in response.text
    assert _stored(site) == before


def test_failed_documents_show_in_the_list_with_a_filter(site: Site,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    app = site.app_client.app
    running: Anchoring = app.state.anchoring  # type: ignore[attr-defined]
    running.stop()
    app.state.anchoring = Anchoring(site.ctx, app.state.engine)  # type: ignore[attr-defined]
    monkeypatch.setattr(issuing, "ANCHOR_WAIT_SECONDS", 0.2)
    try:
        koeln = login(site, "sb.koeln")
        raw = raw_from_subject(site.ctx.usecases.get(DOG), example(site, DOG))
        issued = post_form(koeln, f"/documents/new/{DOG}", f"/documents/new/{DOG}", raw)
        assert issued.status_code == 200
        with site.uow() as uow:
            (record,) = uow.documents.list(ags=KOELN, state="pending").items
        assert record.account is not None
        # accepted while admitted; the type is withdrawn before the anchor is sent
        services.set_doc_types(site.ctx, KOELN, [MUSIC])
        anchor_now(site.ctx, app.state.engine, record.account)  # type: ignore[attr-defined]
        listing = koeln.get("/documents").text
        assert 'id="failed-notice" data-failed="1"' in listing
        assert "1 Dokument(e) konnten nicht verankert werden" in text_of(listing)
        failed = koeln.get("/documents", params={"status": "failed"}).text
        assert f'data-document-id="{record.id}"' in failed
        assert "Verankerung fehlgeschlagen" in text_of(failed)
        assert 'id="failed-notice"' not in failed
        aachen = login(site, "sb.aachen").get("/documents").text
        assert 'id="failed-notice"' not in aachen  # another municipality's failures are not shown
    finally:
        services.set_doc_types(site.ctx, KOELN, [DOG])
        worker = Anchoring(site.ctx, app.state.engine,  # type: ignore[attr-defined]
                           app.state.settings.anchoring)  # type: ignore[attr-defined]
        app.state.anchoring = worker  # type: ignore[attr-defined]
        worker.start()
