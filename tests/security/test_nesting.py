"""Deeply nested JSON through every entry that parses JSON, in separate processes, so that a crash
fails the test instead of killing the runner.

Importing py_ecc (via the eth libraries) raises the recursion limit to 100,000, so json's own
RecursionError came only after the C stack had overflowed: one anonymous request of 200 KB killed
`govchain serve`, and `govchain verify FILE` died with SIGSEGV (exit 139). Each entry must refuse
100,000 and 1,000,000 levels (arrays, objects, and inside an otherwise valid document) with a
clear answer, and the service must live on.

One real `govchain serve` answers the HTTP entries: the API (verify anonymously, issue and bulk
as a clerk) and the verification page (paste and upload, with its CSRF token). Its body limits
are raised so that even 1,000,000 levels reach the parser. The command line runs as processes
of its own: `govchain verify` as the reported case, the other commands (disclose, issue, revoke,
issue-bulk) in one further interpreter that runs each command in turn (one start instead of one
per command), so a crash there fails the test too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from support.serve import (
    AACHEN,
    ServeProcess,
    govchain_command,
    running_service,
    service_env,
)

DOG = "gefaehrlicher-hund"
DEPTHS = (100_000, 1_000_000)
SHAPES = ("arrays", "objects", "arrays in the subject", "objects in the subject")
LIMIT = 16 * 1024 * 1024  # above the largest body here (6 MB), so the parser meets each one
TOO_DEEP = "Zu tief verschachteltes JSON"
MARKER = '"__deep__"'


def deep(shape: str, depth: int) -> str:
    if "arrays" in shape:
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def with_deep(value: dict[str, Any], where: Callable[[dict[str, Any]], dict[str, Any]],
              shape: str, depth: int) -> str:
    """`value` as JSON text, or the nesting alone when the shape is not inside a document."""
    if "subject" not in shape:
        return deep(shape, depth)
    copy = json.loads(json.dumps(value))
    where(copy)["nested"] = "__deep__"
    text = json.dumps(copy)
    assert text.count(MARKER) == 1
    return text.replace(MARKER, deep(shape, depth))


def example_subject() -> dict[str, Any]:
    from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir

    subject: dict[str, Any] = UseCaseRegistry.load(default_usecases_dir()).get(DOG).examples[0][
        "subject"]
    return subject


class Entry:
    def __init__(self, service: ServeProcess, document: dict[str, Any], token: str) -> None:
        self.service = service
        self.document = document
        self.clerk = {"Authorization": f"Bearer {token}"}

    def alive(self) -> None:
        assert self.service.alive, f"govchain serve died:\n{self.service.log()[-2000:]}"
        answer = requests.get(self.service.url("/api/v1/healthz"), timeout=30)
        assert answer.status_code == 200

    def post_json(self, path: str, body: str, headers: dict[str, str] | None = None
                  ) -> requests.Response:
        return requests.post(self.service.url(path), data=body.encode(), timeout=120,
                             headers={"Content-Type": "application/json", **(headers or {})})

    def page_form(self, session: requests.Session) -> str:
        html = session.get(self.service.url("/verify"), timeout=30).text
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert found, "verification page without a CSRF token"
        return found.group(1)


@pytest.fixture(scope="module")
def entry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entry]:
    home = tmp_path_factory.mktemp("nesting") / "home"
    with running_service(home, env={"GOVCHAIN_MAX_BODY_BYTES": str(LIMIT),
                                    "GOVCHAIN_MAX_REQUEST_BYTES": str(2 * LIMIT)}) as service:
        issued = service.issue(DOG, example_subject())
        clerk = service.account("clerk")
        token = requests.post(service.url("/api/v1/auth/token"), timeout=60, data={
            "username": clerk.username, "password": clerk.password}).json()["access_token"]
        yield Entry(service, issued["document"], token)


def _refused(answer: requests.Response, *, page: bool = False) -> None:
    assert answer.status_code == 400, (answer.status_code, answer.text[:300])
    text = answer.text if page else answer.json()["detail"]
    assert TOO_DEEP in text, text[:300]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_api_verify_anonymous(entry: Entry, shape: str, depth: int) -> None:
    body = with_deep(entry.document, lambda d: d["credentialSubject"], shape, depth)
    _refused(entry.post_json("/api/v1/verify", body))
    entry.alive()


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_api_issue_as_clerk(entry: Entry, shape: str, depth: int) -> None:
    request = {"usecase": DOG, "subject": example_subject()}
    body = with_deep(request, lambda r: r["subject"], shape, depth)
    _refused(entry.post_json("/api/v1/documents", body, entry.clerk))
    entry.alive()


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", SHAPES)
def test_api_bulk_issue_as_clerk(entry: Entry, shape: str, depth: int) -> None:
    request = {"usecase": DOG, "items": [{"subject": example_subject()}]}
    body = with_deep(request, lambda r: r["items"][0]["subject"], shape, depth)
    _refused(entry.post_json("/api/v1/documents/bulk", body, entry.clerk))
    entry.alive()


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("how", ["paste", "upload"])
def test_verification_page(entry: Entry, shape: str, depth: int, how: str) -> None:
    text = with_deep(entry.document, lambda d: d["credentialSubject"], shape, depth)
    with requests.Session() as browser:
        token = entry.page_form(browser)
        files: dict[str, tuple[str | None, str, str]] = (
            {"document_json": (None, text, "text/plain")} if how == "paste"
            else {"document_file": ("dokument.json", text, "application/json")})
        answer = browser.post(entry.service.url("/verify"), data={"csrf_token": token},
                              files=files, timeout=120)
    _refused(answer, page=True)
    entry.alive()


def test_a_shallow_document_still_verifies(entry: Entry) -> None:
    answer = entry.post_json("/api/v1/verify", json.dumps(entry.document))
    assert answer.status_code == 200 and answer.json()["status"] == "VALID"


# -- the command line -----------------------------------------------------------------------------

def _files(folder: Path, depth: int) -> dict[str, Path]:
    """Deep files of each kind the command line reads, at `depth`."""
    document = json.loads((Path(__file__).parents[2] / "usecases" / DOG / "examples").glob(
        "*.json").__next__().read_text())
    files = {
        "top": deep("arrays", depth),
        "document": with_deep({"credentialSubject": document["subject"]},
                              lambda d: d["credentialSubject"], "objects in the subject", depth),
        "subject": with_deep(document, lambda d: d["subject"], "arrays in the subject", depth),
        # JSON Lines: the deep line is refused like any bad line; the others are still read
        "bulk.jsonl": deep("objects", depth) + "\n" + "[" * depth + "\n",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = folder / (name if "." in name else f"{name}.json")
        paths[name].write_text(text, encoding="utf-8")
    return paths


def test_govchain_verify_refuses_with_exit_2(tmp_path: Path) -> None:
    (deep_file,) = [_files(tmp_path, 100_000)["top"]]
    home = tmp_path / "home"
    proc = subprocess.run([*govchain_command(), "--home", str(home), "verify", str(deep_file)],
                          env=service_env(home), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert TOO_DEEP in proc.stderr and "Traceback" not in proc.stderr


_RUN_COMMANDS = textwrap.dedent("""
    import json, sys
    from click.testing import CliRunner
    from govchain.entrypoints.cli import main
    print(json.dumps({"recursion_limit": sys.getrecursionlimit()}), flush=True)
    for args in json.loads(sys.argv[1]):
        print(json.dumps({"start": args}), flush=True)
        result = CliRunner().invoke(main, args)
        print(json.dumps({"args": args, "exit": result.exit_code, "stderr": result.stderr,
                          "exception": repr(result.exception)}), flush=True)
""")


@pytest.mark.parametrize("depth", DEPTHS)
def test_every_command_reading_json_refuses(tmp_path: Path, depth: int) -> None:
    files = {k: str(v) for k, v in _files(tmp_path, depth).items()}
    home, out = str(tmp_path / "home"), str(tmp_path / "out.json")
    commands = {  # args: exit code
        ("verify", files["document"]): 2,
        ("verify", "--json", files["top"]): 2,
        ("disclose", files["document"], "--hide", "/halter/name", "--out", out): 2,
        ("issue", "--ags", AACHEN, "--usecase", DOG, "--subject", files["subject"],
         "--out", out): 2,
        ("revoke", files["document"]): 2,
        ("suspend", files["top"]): 2,
        # per line, as every bad line of a bulk file: reported, exit 1 (nothing to issue here)
        ("issue-bulk", files["bulk.jsonl"], "--ags", AACHEN, "--usecase", DOG, "--out",
         str(tmp_path / "out.jsonl")): 1,
    }
    argv = [["--home", home, *args] for args in commands]
    proc = subprocess.run([sys.executable, "-c", _RUN_COMMANDS, json.dumps(argv)],
                          env=service_env(Path(home)), capture_output=True, text=True,
                          timeout=600)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, (proc.returncode, lines[-1:], proc.stderr[-2000:])
    # The premise: the eth libraries have raised the limit past what the C stack holds.
    assert lines[0]["recursion_limit"] >= 100_000
    results = [line for line in lines if "exit" in line]
    assert len(results) == len(commands)
    for result, expected in zip(results, commands.values(), strict=True):
        assert result["exit"] == expected, result
        assert TOO_DEEP in result["stderr"], result
        assert "Traceback" not in result["stderr"], result
    bulk = results[-1]["stderr"]
    assert f"Zeile 1: {TOO_DEEP}" in bulk and f"Zeile 2: {TOO_DEEP}" in bulk
    assert not Path(out).exists()
