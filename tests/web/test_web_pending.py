"""Issuing while the anchoring worker is behind: the page says "wird verankert…" and reloads itself
until the document is anchored; links and the certificate wait for the anchor."""

from __future__ import annotations

import re

import pytest
from web_kit import DOG, Site, csrf_of, example, login, post_form, status_of_page

from govchain.domain.subject_fields import raw_from_subject
from govchain.entrypoints.http.web import issuing
from govchain.pipeline.anchoring import Anchoring


def test_a_document_still_pending_shows_a_self_reloading_page(site: Site,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    app = site.app_client.app
    running: Anchoring = app.state.anchoring  # type: ignore[attr-defined]
    running.stop()
    idle = Anchoring(site.ctx, app.state.engine)  # type: ignore[attr-defined]  # never started
    app.state.anchoring = idle  # type: ignore[attr-defined]
    monkeypatch.setattr(issuing, "ANCHOR_WAIT_SECONDS", 0.2)
    try:
        browser = login(site, "sb.aachen")
        raw = raw_from_subject(site.ctx.usecases.get(DOG), example(site, DOG))
        response = post_form(browser, f"/documents/new/{DOG}", f"/documents/new/{DOG}", raw)
        assert response.status_code == 200
        html = response.text
        assert 'id="anchoring-state" data-state="pending"' in html
        assert '<meta http-equiv="refresh" content="3">' in html
        assert 'id="download-pdf"' not in html and 'id="link-form"' not in html
        document_id = re.search(r'id="document-id">([^<]+)<', html).group(1)  # type: ignore[union-attr]
        refused = browser.post(f"/documents/{document_id}/pdf", data={"csrf_token": csrf_of(html)})
        assert refused.status_code == 400
    finally:
        worker = Anchoring(site.ctx, app.state.engine, site.app_client.app.state.settings.anchoring)  # type: ignore[attr-defined]
        app.state.anchoring = worker  # type: ignore[attr-defined]
        worker.start()
    assert worker.wait([document_id], timeout=15.0)
    anchored = browser.get(f"/documents/{document_id}")
    assert "http-equiv" not in anchored.text and status_of_page(anchored.text) == "VALID"
    worker.stop()
