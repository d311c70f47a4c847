"""The registrar's pages for the service's own accounts (/registry/users): disable and enable
users, set a new password, end sessions, revoke API keys — each behind a confirmation and a CSRF
token, audited, and effective for the other person's browser at once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_kit import AACHEN, CHEAP, PASSWORD, Site, csrf_of, login, post_form, text_of

from govchain import services
from govchain.adapters.db import AuditRecord
from govchain.domain.security import hash_password
from govchain.entrypoints.cli.base import cli_who

NEW_PASSWORD = "ein-ganz-neues-passwort"


def add_clerk(site: Site, username: str) -> int:
    with site.uow() as uow:
        user = uow.users.add(username=username, role="clerk", municipality_ags=AACHEN,
                             password_hash=hash_password(PASSWORD, hasher=CHEAP),
                             display_name=username)
        uow.commit()
        return user.id


def signed_in(browser: TestClient) -> bool:
    """Whether the browser's session still counts: the clerk's list, or a redirect to login."""
    code: int = browser.get("/documents", follow_redirects=False).status_code
    assert code in (200, 303)
    return code == 200


def confirm(browser: TestClient, page_url: str, action: str,
            fields: dict[str, str] | None = None) -> str:
    """Posts the button's form, checks that only the confirmation came back, and confirms."""
    question = post_form(browser, page_url, action, dict(fields or {}))
    assert question.status_code == 200 and 'id="confirm-form"' in question.text, question.text
    assert "users." not in text_of(question.text)  # every action has its words
    done = browser.post(action, data={**(fields or {}), "confirmed": "yes",
                                      "csrf_token": csrf_of(question.text)})
    assert done.status_code == 200, done.text
    page: str = done.text
    return page


def audit_of(site: Site, action: str, target: str) -> list[AuditRecord]:
    with site.uow() as uow:
        return uow.audit.list(action=action, target=target).items


def test_only_the_registrar_sees_the_accounts(site: Site) -> None:
    registrar = login(site, "registratur")
    page = registrar.get("/registry/users")
    assert page.status_code == 200
    assert 'href="/registry/users"' in page.text  # in the navigation
    assert 'data-user="sb.aachen"' in page.text and 'data-user="vermieter"' in page.text
    assert "Benutzerkonten und API-Schlüssel" in page.text
    with site.uow() as uow:
        clerk = uow.users.by_username("sb.aachen")
    assert clerk is not None
    for lang, title in (("en", "User accounts and API keys"), ("de", "Benutzerkonten und API")):
        for url in ("/registry/users", f"/registry/users/{clerk.id}"):
            shown = text_of(registrar.get(f"{url}?lang={lang}").text)
            assert "users." not in shown and "nav." not in shown, shown  # no key left untranslated
        assert title in text_of(registrar.get(f"/registry/users?lang={lang}").text)
    for who in ("sb.aachen", "vermieter"):
        assert login(site, who).get("/registry/users").status_code == 403
    anonymous = site.browser().get("/registry/users", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_disabling_needs_confirmation_and_ends_the_users_session_at_once(site: Site) -> None:
    user_id = add_clerk(site, "sb.gesperrt")
    clerk = login(site, "sb.gesperrt")
    assert signed_in(clerk)
    registrar = login(site, "registratur")
    question = post_form(registrar, "/registry/users", f"/registry/users/{user_id}/disable", {})
    assert 'id="confirm-form"' in question.text and "sb.gesperrt" in question.text
    assert signed_in(clerk)  # nothing happened before the confirmation
    done = confirm(registrar, "/registry/users", f"/registry/users/{user_id}/disable")
    assert 'id="users-done"' in done and f'id="user-{user_id}" data-user="sb.gesperrt" ' \
        'data-active="false"' in done
    assert not signed_in(clerk)
    refused = site.browser()
    page = refused.get("/login")
    assert refused.post("/login", data={"username": "sb.gesperrt", "password": PASSWORD,
                                        "csrf_token": csrf_of(page.text)}).status_code == 401
    done = confirm(registrar, "/registry/users", f"/registry/users/{user_id}/enable")
    assert 'data-user="sb.gesperrt" data-active="true"' in done
    assert signed_in(login(site, "sb.gesperrt"))
    (entry,) = audit_of(site, "user.disable", f"user:{user_id}")
    assert entry.detail["via"] == "web" and entry.actor_kind == "user"
    assert len(audit_of(site, "user.enable", f"user:{user_id}")) == 1


def test_the_registrar_cannot_disable_their_own_account(site: Site) -> None:
    registrar = login(site, "registratur")
    with site.uow() as uow:
        me = uow.users.by_username("registratur")
    assert me is not None
    page = registrar.get("/registry/users")
    assert f'id="disable-{me.id}"' not in page.text
    refused = registrar.post(f"/registry/users/{me.id}/disable",
                             data={"confirmed": "yes", "csrf_token": csrf_of(page.text)})
    assert refused.status_code == 400 and 'id="users-error"' in refused.text
    assert registrar.get("/registry/users").status_code == 200


def test_new_password_ends_the_sessions_and_replaces_the_old_one(site: Site) -> None:
    user_id = add_clerk(site, "sb.vergessen")
    clerk = login(site, "sb.vergessen")
    registrar = login(site, "registratur")
    page_url = f"/registry/users/{user_id}"
    action = f"{page_url}/password"
    mismatch = post_form(registrar, page_url, action,
                         {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 422 and "stimmen nicht überein" in mismatch.text
    short = post_form(registrar, page_url, action, {"password": "kurz", "password_repeat": "kurz"})
    assert short.status_code == 422 and "mindestens 12 Zeichen" in text_of(short.text)
    assert signed_in(clerk)
    done = post_form(registrar, page_url, action,
                     {"password": NEW_PASSWORD, "password_repeat": NEW_PASSWORD})
    assert done.status_code == 200 and 'id="users-done"' in done.text
    assert 'id="no-sessions"' in done.text
    assert not signed_in(clerk)
    assert signed_in(login(site, "sb.vergessen", NEW_PASSWORD))
    (entry,) = audit_of(site, "user.reset-password", f"user:{user_id}")
    assert entry.detail["via"] == "web" and NEW_PASSWORD not in repr(entry.detail)


def test_sessions_are_listed_and_ended_one_or_all(site: Site) -> None:
    user_id = add_clerk(site, "sb.mobil")
    phone, desk = login(site, "sb.mobil"), login(site, "sb.mobil")
    registrar = login(site, "registratur")
    page_url = f"/registry/users/{user_id}"
    page = registrar.get(page_url)
    sessions = [int(s) for s in re.findall(r'id="session-(\d+)"', page.text)]
    assert len(sessions) == 2 and "testclient" in page.text
    # the newest login is the desk's: end the phone's
    done = confirm(registrar, page_url, f"{page_url}/end-sessions", {"session": str(sessions[0])})
    assert f'id="session-{sessions[0]}"' not in done and f'id="session-{sessions[1]}"' in done
    assert not signed_in(phone) and signed_in(desk)
    done = confirm(registrar, page_url, f"{page_url}/end-sessions")
    assert 'id="no-sessions"' in done and not signed_in(desk)
    ended = sorted(audit_of(site, "user.end-sessions", f"user:{user_id}"), key=lambda e: e.id)
    assert [e.detail["sessionsEnded"] for e in ended] == [[sessions[0]], [sessions[1]]]


def test_a_revoked_api_key_is_refused_at_once(site: Site) -> None:
    with site.uow() as uow:
        record, key = services.create_api_key(uow, cli_who(), "Ordnungsamt Aachen", via="test")
        uow.commit()
    api = site.browser()
    document = {"id": "urn:uuid:00000000-0000-4000-8000-000000000000"}
    assert api.post("/api/v1/verify", json=document, headers={"X-API-Key": key}).status_code == 200
    registrar = login(site, "registratur")
    page = registrar.get("/registry/users")
    assert "Ordnungsamt Aachen" in page.text and key not in page.text
    done = confirm(registrar, "/registry/users", f"/registry/api-keys/{record.id}/revoke")
    assert f'id="api-key-{record.id}" data-active="false"' in done
    assert api.post("/api/v1/verify", json=document, headers={"X-API-Key": key}).status_code == 401
    (entry,) = audit_of(site, "apikey.revoke", f"api_key:{record.id}")
    assert entry.detail["via"] == "web"


def test_changes_without_a_csrf_token_are_refused(site: Site) -> None:
    user_id = add_clerk(site, "sb.csrf")
    registrar = login(site, "registratur")
    registrar.get("/registry/users")
    for action in (f"/registry/users/{user_id}/disable", f"/registry/users/{user_id}/password"):
        refused = registrar.post(action, data={"confirmed": "yes", "password": NEW_PASSWORD,
                                               "password_repeat": NEW_PASSWORD})
        assert refused.status_code == 403
    with site.uow() as uow:
        user = uow.users.by_id(user_id)
    assert user is not None and user.active
    assert registrar.get("/registry/users/999999").status_code == 404
    page = registrar.get("/registry/users")
    unknown = registrar.post(f"/registry/users/{user_id}/delete",
                             data={"csrf_token": csrf_of(page.text)})
    assert unknown.status_code == 404
