"""No secret in any log: a full run (CLI set-up, users with passwords, an API key, logins, issuing,
sharing, verifying with the key, revoking, withdrawing, a landlord's submission) with every logger
at DEBUG, in process (caplog) and as a real `govchain serve` process (its stdout and stderr), is
searched for every password, API key, bearer token, link token, the keystore passphrase, the
private keys and the token key. What /metrics shows after the run (in process and from the
`serve` process) is searched for the same, and for the subjects' personal data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from fastapi.testclient import TestClient

from govchain.adapters.context import Context
from govchain.domain.security import format_link_code
from govchain.entrypoints.cli import main
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings

AACHEN = "05334002"
PASSPHRASE = "Schlüsselspeicher-Passphrase 7f3a91c2"
PASSWORDS = {"meier": "Meiers geheimes Passwort 4711", "vermieter": "Vermieter-Passwort 0815!",
             "landesamt": "Registrar-Passwort 9 9 9 9"}
WRONG_PASSWORD = "Meiers geheimes Passwort 4712"  # a typo of a real password is a secret too
DOG = "gefaehrlicher-hund"
LANDLORD_USECASE = "wohnungsgeberbestaetigung"
API_KEY = re.compile(r"gck_[A-Za-z0-9_-]{20,}")


@dataclass
class Secrets:
    values: set[str] = field(default_factory=set)

    def add(self, *values: str) -> None:
        for v in values:
            assert len(v) >= 8, v
            self.values.add(v)

    def found_in(self, text: str) -> list[str]:
        return sorted(v for v in self.values if v in text)


@dataclass
class Run:
    home: Path
    secrets: Secrets
    logs: dict[str, str]
    metrics: dict[str, str] = field(default_factory=dict)  # /metrics after the run


def _cli(home: Path, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(main, ["--home", str(home), *args], input=input,
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output  # 1: a verification that is not VALID
    return result.output


def _example(usecase: str) -> dict[str, Any]:
    from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir

    subject: dict[str, Any] = UseCaseRegistry.load(default_usecases_dir()).get(
        usecase).examples[0]["subject"]
    return subject


def _key_material(home: Path, secrets: Secrets) -> None:
    ctx = Context(home=home)
    try:
        infos = ctx.keys.keys()
        for info in infos:
            key = ctx.keys.unlock(info.address).key
            secrets.add(key.hex(), "0x" + key.hex())
    finally:
        ctx.close()
    token_key = (home / "secrets" / "token-key").read_bytes()
    secrets.add(token_key.hex())


def _flow(http: Any, secrets: Secrets, api_key: str, base: str = "") -> None:
    """The service's whole life over HTTP; `http` is a TestClient or a requests.Session."""
    def login(username: str, password: str) -> Any:
        return http.post(f"{base}/api/v1/auth/token",
                         data={"username": username, "password": password})

    assert login("meier", WRONG_PASSWORD).status_code == 401
    tokens = {}
    for username, password in PASSWORDS.items():
        r = login(username, password)
        assert r.status_code == 200, r.text
        tokens[username] = r.json()["access_token"]
        secrets.add(tokens[username])
    clerk = {"Authorization": f"Bearer {tokens['meier']}"}
    landlord = {"Authorization": f"Bearer {tokens['vermieter']}"}
    assert http.get(f"{base}/api/v1/auth/me", headers=clerk).status_code == 200

    r = http.post(f"{base}/api/v1/documents?wait=true", headers=clerk,
                  json={"usecase": DOG, "subject": _example(DOG)})
    assert r.status_code in (200, 201, 202), r.text
    doc_id = r.json()["id"]
    r = http.post(f"{base}/api/v1/documents/{doc_id}/links", headers=clerk,
                  json={"hide": ["/halter/geburtsdatum"]})
    assert r.status_code == 201, r.text
    link = r.json()
    token = link["url"].rsplit("/", 1)[1]
    secrets.add(token, format_link_code(token), link["url"])

    keyed = {"X-API-Key": api_key}
    r = http.get(f"{base}/api/v1/verify/{token}", headers=keyed)
    assert r.status_code == 200 and r.json()["document"] is not None
    shared = r.json()["document"]
    assert http.post(f"{base}/api/v1/verify", headers=keyed, json=shared).status_code == 200
    assert http.get(f"{base}/api/v1/verify/{token}").status_code == 200
    assert http.get(f"{base}/v/{token}").status_code in (200, 404)
    assert http.post(f"{base}/api/v1/verify", headers={"X-API-Key": api_key[:-1] + "x"},
                     json=shared).status_code == 401

    r = http.post(f"{base}/api/v1/documents", headers=landlord,
                  json={"usecase": LANDLORD_USECASE, "municipality": AACHEN,
                        "subject": _example(LANDLORD_USECASE)})
    assert r.status_code in (201, 202), r.text
    landlord_link = (r.json().get("link") or {}).get("url")
    if landlord_link:
        landlord_token = landlord_link.rsplit("/", 1)[1]
        secrets.add(landlord_token, landlord_link)
        assert http.get(f"{base}/api/v1/verify/{landlord_token}").status_code == 200

    assert http.post(f"{base}/api/v1/documents/{doc_id}/revoke", headers=clerk,
                     json={"reason": "4"}).status_code == 200
    assert http.delete(f"{base}/api/v1/links/{link['id']}", headers=clerk).status_code == 204
    assert http.get(f"{base}/api/v1/verify/{token}").json()["result"]["status"] == "INVALID"
    registrar = {"Authorization": f"Bearer {tokens['landesamt']}"}
    assert http.get(f"{base}/api/v1/registry/municipalities", headers=registrar).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    home = tmp_path_factory.mktemp("secrets-home")
    secrets = Secrets()
    secrets.add(PASSPHRASE, WRONG_PASSWORD, *PASSWORDS.values())
    logs: dict[str, str] = {}
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    handler = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        # -- the CLI, in process, with every logger at DEBUG ----------------------------------
        outputs = [
            _cli(home, "init"),
            _cli(home, "registry", "admit", "--ags", AACHEN, "--name", "Stadt Aachen",
                 "--usecase", DOG, "--usecase", LANDLORD_USECASE),
            _cli(home, "users", "add", "--role", "clerk", "--username", "meier",
                 "--municipality", AACHEN, "--password-stdin", input=PASSWORDS["meier"]),
            _cli(home, "users", "add", "--role", "landlord", "--username", "vermieter",
                 "--password-stdin", input=PASSWORDS["vermieter"]),
            _cli(home, "users", "add", "--role", "registrar", "--username", "landesamt",
                 "--password-stdin", input=PASSWORDS["landesamt"]),
        ]
        created = _cli(home, "apikeys", "create", "--name", "Polizei NRW")
        match = API_KEY.search(created)
        assert match, created
        api_key = match.group(0)
        secrets.add(api_key)
        subject = home / "subject.json"
        subject.write_text(json.dumps(_example(DOG)), encoding="utf-8")
        permit = home / "permit.json"
        outputs += [
            _cli(home, "issue", "--ags", AACHEN, "--usecase", DOG, "--subject", str(subject),
                 "--out", str(permit)),
            _cli(home, "verify", str(permit)),
            _cli(home, "revoke", str(permit), "--reason", "4"),
            _cli(home, "registry", "show"),
        ]
        logs["cli output (without the one-time key display)"] = "\n".join(outputs)

        # -- the API in process (TestClient), every logger at DEBUG ---------------------------
        settings = Settings(home=home)
        metrics: dict[str, str] = {}
        with TestClient(create_app(settings)) as client:
            _flow(client, secrets, api_key)
            # /metrics answers callers on the loopback interface only
            scraper = TestClient(client.app, client=("127.0.0.1", 50000))
            metrics["in process"] = _scrape(scraper.get, "")
        logs["logging records in process"] = handler.text()
        _key_material(home, secrets)

        # -- a real `govchain serve` process: everything it prints ----------------------------
        port = _free_port()
        env = {**os.environ, "GOVCHAIN_KEY_PASSPHRASE": PASSPHRASE, "PYTHONUNBUFFERED": "1"}
        out_file = home / "serve.out"
        with out_file.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "govchain", "--home", str(home), "serve", "--port",
                 str(port)], stdout=out, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(f"{base}/api/v1/healthz", timeout=2).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert proc.poll() is None, out_file.read_text(errors="replace")
                assert time.monotonic() < deadline, "govchain serve did not start"
                time.sleep(0.1)
            with requests.Session() as session:
                _flow(session, secrets, api_key, base)
            metrics["govchain serve"] = _scrape(requests.get, base)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        logs["govchain serve stdout and stderr"] = out_file.read_text(errors="replace")
        yield Run(home, secrets, logs, metrics)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        mp.undo()


def _scrape(get: Any, base: str) -> str:
    answer = get(f"{base}/metrics")
    assert answer.status_code == 200, answer.text
    text: str = answer.text
    return text


def _personal_data() -> set[str]:
    """The words of the subjects the run issued (five characters and more)."""
    from govchain.domain.pointers import iter_leaves

    return {v for usecase in (DOG, LANDLORD_USECASE) for _, v in iter_leaves(_example(usecase))
            if isinstance(v, str) and len(v) >= 5 and re.search(r"[^\W\d_]", v)}


# The test's own HTTP client (TestClient uses httpx) logs the URLs it requests; those are the
# caller's logs, not the service's. Every other logger in the process counts.
CLIENT_LOGGERS = ("httpx", "httpcore")


class _Collect(logging.Handler):
    """Every record of every logger but the test client's, formatted with its arguments and any
    traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.client_lines = 0
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] in CLIENT_LOGGERS:
            self.client_lines += 1
            return
        self.lines.append(self.format(record))

    def text(self) -> str:
        return "\n".join(self.lines)


def test_the_run_logged_something_and_knows_its_secrets(run: Run) -> None:
    # The search below is only worth something if there were logs and secrets to look for.
    assert len(run.secrets.values) >= 15
    assert run.logs["logging records in process"].count("\n") > 20
    assert "GET /api/v1" in run.logs["govchain serve stdout and stderr"] or \
        "Uvicorn running" in run.logs["govchain serve stdout and stderr"]


@pytest.mark.parametrize("where", ["cli output (without the one-time key display)",
                                   "logging records in process"])
def test_no_secret_in_cli_output_or_in_process_logs(run: Run, where: str) -> None:
    assert not run.secrets.found_in(run.logs[where]), where


def test_no_secret_in_what_govchain_serve_prints(run: Run) -> None:
    text = run.logs["govchain serve stdout and stderr"]
    leaked = run.secrets.found_in(text)
    lines = [line for line in text.splitlines() if any(s in line for s in leaked)]
    assert not leaked, "\n".join(lines[:10])


@pytest.mark.parametrize("where", ["in process", "govchain serve"])
def test_no_secret_or_personal_data_in_the_metrics(run: Run, where: str) -> None:
    text = run.metrics[where]
    # worth searching: the run's issuing, verifying and requests are in it
    assert re.search(r'govchain_documents_accepted_total\{ags="05334002",usecase=', text)
    assert 'govchain_verifications_total{status="VALID"}' in text
    assert 'route="/api/v1/verify/{token}"' in text
    personal = _personal_data()
    assert len(personal) >= 10
    leaked = run.secrets.found_in(text) + sorted(v for v in personal if v in text)
    assert not leaked, leaked[:5]


def test_no_secret_in_the_database_or_home_files_in_clear(run: Run) -> None:
    # Passwords, API keys, bearer and link tokens never reach the disk in a usable form.
    in_clear = {s for s in run.secrets.values
                if s in (PASSPHRASE, WRONG_PASSWORD, *PASSWORDS.values()) or s.startswith("gck_")
                or s.startswith("v1.") or re.fullmatch(r"[0-9A-Z]{24}", s)}
    for path in run.home.rglob("*"):
        if path.is_file() and path.name not in ("serve.out",):
            blob = path.read_bytes()
            found = sorted(s for s in in_clear if s.encode() in blob)
            assert not found, f"{path.relative_to(run.home)}: {found[:3]}"
