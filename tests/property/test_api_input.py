"""Property tests of the public endpoints with bad input: malformed JSON, wrong types, huge and deeply
nested bodies, real documents with parts replaced by anything. The answer is always a clear 4xx
(or a 200 verification result saying INVALID), never a 5xx, and it comes quickly.

Deep nesting is refused above strictjson.MAX_DEPTH and duplicate member names anywhere, on /verify
and on the bodies FastAPI parses for a model.

The app is built as in tests/api (real embedded chain, SQLite, lifespan run by TestClient); rate
limits are out of the way here (test_limits.py covers them).
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govchain import services
from govchain.adapters.context import Context
from govchain.domain import strictjson
from govchain.entrypoints.http.app import create_app
from govchain.settings import Settings

AACHEN = "05334002"
PASSPHRASE = "test passphrase – not a secret"
MAX_BODY = 64 * 1024
SLOW = 5.0  # seconds; anything slower counts as a hang
SETTINGS = settings(max_examples=80, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


class Api:
    def __init__(self, client: TestClient, document: dict[str, Any]) -> None:
        self.client = client
        self.document = document
        self.paths = {getattr(r, "path", "") for r in client.app.routes}  # type: ignore[attr-defined]

    def send(self, method: str, url: str, **kw: Any) -> Any:
        start = time.monotonic()
        response = self.client.request(method, url, **kw)
        elapsed = time.monotonic() - start
        assert elapsed < SLOW, f"{method} {url} took {elapsed:.1f} s"
        assert response.status_code < 500, (response.status_code, response.text[:300])
        return response


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    home: Path = tmp_path_factory.mktemp("api-input-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    settings_ = Settings(home=home, max_body_bytes=MAX_BODY, public_rate_per_minute=10**6,
                         login_max_failures=10**6)
    try:
        with TestClient(create_app(settings_)) as client:
            ctx: Context = client.app.state.context  # type: ignore[attr-defined]
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", ["gefaehrlicher-hund"])
            uc = ctx.usecases.get("gefaehrlicher-hund")
            (doc,) = services.issue_documents(ctx, AACHEN, uc.id, [
                services.IssueRequest(subject=uc.examples[0]["subject"])])
            answer = client.post("/api/v1/verify", json=doc)
            assert answer.status_code == 200 and answer.json()["status"] == "VALID"
            yield Api(client, doc)
    finally:
        mp.undo()


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=50))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=30)


def out_of_jcs_range(value: Any) -> bool:
    """A number RFC 8785 cannot represent: an integer beyond ±(2**53 - 1), or not finite."""
    if isinstance(value, dict):
        return any(out_of_jcs_range(v) for v in value.values())
    if isinstance(value, list):
        return any(out_of_jcs_range(v) for v in value)
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > 2**53 - 1
    if isinstance(value, float):
        return not math.isfinite(value)
    return False


@SETTINGS
@given(number=st.one_of(st.integers().filter(lambda i: abs(i) >= 2**53),
                        st.sampled_from(["1e400", "-1e999", "NaN", "Infinity", "-Infinity"])),
       where=st.sampled_from(["subject", "issuer", "status", "salts"]))
def test_verify_refuses_numbers_outside_json_range(api: Api, number: int | str,
                                                   where: str) -> None:
    doc = copy.deepcopy(api.document)
    target = {"subject": doc["credentialSubject"], "issuer": doc["issuer"],
              "status": doc["credentialStatus"], "salts": doc["proof"]["salts"]}[where]
    target["x"] = "__number__"
    body = json.dumps(doc).replace('"__number__"', str(number))
    r = api.send("POST", "/api/v1/verify", content=body,
                 headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert "RFC 8785" in r.json()["detail"]


def nested(depth: int, opener: str, closer: str, leaf: str = "1") -> str:
    return opener * depth + leaf + closer * depth


# -- POST /verify -----------------------------------------------------------------------------

@SETTINGS
@given(body=st.binary(max_size=2000))
def test_verify_with_arbitrary_bytes(api: Api, body: bytes) -> None:
    r = api.send("POST", "/api/v1/verify", content=body,
                 headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:  # bytes that happen to be a JSON object: a result, never VALID
        assert r.json()["status"] == "INVALID"


@SETTINGS
@given(value=json_values)
def test_verify_with_any_json_value(api: Api, value: Any) -> None:
    r = api.send("POST", "/api/v1/verify", content=json.dumps(value),
                 headers={"content-type": "application/json"})
    if out_of_jcs_range(value):  # no issued document can hold such a number
        assert r.status_code == 400 and "RFC 8785" in r.json()["detail"]
    elif isinstance(value, dict):
        assert r.status_code == 200 and r.json()["status"] == "INVALID"
    else:
        assert r.status_code == 400 and "JSON-Objekt" in r.json()["detail"]


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


@SETTINGS
@given(data=st.data())
def test_verify_with_parts_of_a_real_document_replaced(api: Api, data: st.DataObject) -> None:
    doc = copy.deepcopy(api.document)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from([p for p in _paths(doc) if p]))
        node: Any = doc
        try:
            for key in where[:-1]:
                node = node[key]
            if data.draw(st.booleans()) or isinstance(node, list):
                node[where[-1]] = data.draw(json_values)
            else:
                del node[where[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed that part
    # Encoded here: httpx refuses NaN and infinities, which a hostile client can still send.
    r = api.send("POST", "/api/v1/verify", content=json.dumps(doc),
                 headers={"Content-Type": "application/json"})
    if out_of_jcs_range(doc):
        assert r.status_code == 400 and "RFC 8785" in r.json()["detail"]
        return
    assert r.status_code == 200
    assert r.json()["status"] in ("INVALID", "VALID")  # VALID only if nothing covered changed
    if r.json()["status"] == "VALID":
        assert doc["credentialSubject"] == api.document["credentialSubject"]


# How deep the marker sits in a document: the nesting put there adds to it.
DEPTH_OF = {"body": 0, "subject": 2, "issuer": 2, "salts": 3, "path": 3, "hidden": 3}


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(depth=st.sampled_from([10, 60, 61, 62, 63, 64, 65, 500, 990, 1_000, 5_000, 20_000]),
       where=st.sampled_from(["body", "subject", "issuer", "salts", "path", "hidden"]),
       kind=st.sampled_from(["object", "array"]))
def test_verify_with_deeply_nested_bodies(api: Api, depth: int, where: str, kind: str) -> None:
    opener, closer = ('{"a":', "}") if kind == "object" else ("[", "]")
    inner = nested(depth, opener, closer)
    if where == "body":
        body = inner
    else:
        marker = '"__deep__"'
        doc = copy.deepcopy(api.document)
        if where == "subject":
            doc["credentialSubject"]["x"] = "__deep__"
        elif where == "issuer":
            doc["issuer"]["x"] = "__deep__"
        elif where == "salts":
            doc["proof"]["salts"]["/x"] = "__deep__"
        elif where == "path":
            doc["proof"]["path"].append("__deep__")
        else:
            doc["proof"]["hidden"].append("__deep__")
        body = json.dumps(doc).replace(marker, inner)
    r = api.send("POST", "/api/v1/verify", content=body,
                 headers={"content-type": "application/json"})
    if len(body) > MAX_BODY:
        assert r.status_code == 413
    elif DEPTH_OF[where] + depth > strictjson.MAX_DEPTH:  # refused before parsing
        assert r.status_code == 400 and "Zu tief verschachteltes JSON" in r.json()["detail"]
    else:
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            assert r.json()["status"] == "INVALID"


def _object_paths(value: Any) -> list[tuple[str | int, ...]]:
    """Where `value` holds a JSON object that has members."""
    return [p for p in _paths(value) if isinstance(_at(value, p), dict) and _at(value, p)]


def _at(value: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def with_duplicate(value: dict[str, Any], data: st.DataObject) -> str:
    """`value` as JSON text with one member name of one of its objects given twice."""
    where = data.draw(st.sampled_from(_object_paths(value)))
    doc = copy.deepcopy(value)
    node = _at(doc, where)
    name = data.draw(st.sampled_from(sorted(node)))
    node["__duplicate__"] = data.draw(json_values.filter(lambda v: not out_of_jcs_range(v)))
    text = json.dumps(doc)
    assert text.count('"__duplicate__":') == 1
    return text.replace('"__duplicate__":', json.dumps(name) + ":")


@SETTINGS
@given(data=st.data())
def test_verify_refuses_duplicate_member_names_anywhere(api: Api, data: st.DataObject) -> None:
    body = with_duplicate(api.document, data)
    r = api.send("POST", "/api/v1/verify", content=body,
                 headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Doppelter Schlüssel" in r.json()["detail"], r.text


@SETTINGS
@given(data=st.data(), path=st.sampled_from(["/api/v1/documents", "/api/v1/documents/bulk"]))
def test_issue_bodies_with_duplicate_member_names(api: Api, data: st.DataObject,
                                                  path: str) -> None:
    subject = api.document["credentialSubject"]
    request: dict[str, Any] = {"usecase": "gefaehrlicher-hund", "subject": subject}
    if path.endswith("bulk"):
        request = {"usecase": "gefaehrlicher-hund", "items": [{"subject": subject}]}
    r = api.send("POST", path, content=with_duplicate(request, data),
                 headers={"content-type": "application/json"})
    # Read before anyone is asked for a login: a clear 400, whoever sends it.
    assert r.status_code == 400 and "Doppelter Schlüssel" in r.json()["detail"], r.text


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(depth=st.sampled_from([10, 62, 63, 64, 65, 1_000, 20_000, 100_000]),
       kind=st.sampled_from(["object", "array"]),
       path=st.sampled_from(["/api/v1/documents", "/api/v1/documents/bulk",
                             "/api/v1/documents/x/links", "/api/v1/registry/municipalities"]))
def test_json_bodies_of_every_route_with_deep_nesting(api: Api, depth: int, kind: str,
                                                     path: str) -> None:
    """Bodies FastAPI parses for a model go through strictjson too (no body limit of /verify
    here: 100,000 levels reach the parser; tests/security/test_nesting.py goes to 1,000,000 in
    a separate process)."""
    opener, closer = ('{"a":', "}") if kind == "object" else ("[", "]")
    body = json.dumps({"usecase": "gefaehrlicher-hund", "subject": {"x": "__deep__"}}).replace(
        '"__deep__"', nested(depth, opener, closer))
    r = api.send("POST", path, content=body, headers={"content-type": "application/json"})
    if 2 + depth > strictjson.MAX_DEPTH:
        assert r.status_code == 400 and "Zu tief verschachteltes JSON" in r.json()["detail"]
    else:
        assert 400 <= r.status_code < 500


@settings(max_examples=10, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size=st.integers(MAX_BODY + 1, 4 * MAX_BODY), declared=st.booleans())
def test_verify_refuses_huge_bodies(api: Api, size: int, declared: bool) -> None:
    body = b'{"x": "' + b"a" * size + b'"}'
    if declared:
        r = api.send("POST", "/api/v1/verify", content=body,
                     headers={"content-type": "application/json"})
    else:  # streamed without a content-length: read only up to the limit
        r = api.send("POST", "/api/v1/verify", content=iter([body[i:i + 8192] for i in range(
            0, len(body), 8192)]), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "Bytes" in r.json()["detail"]


def test_verify_refuses_a_lying_content_length(api: Api) -> None:
    r = api.send("POST", "/api/v1/verify", content=b"{}",
                 headers={"content-type": "application/json", "content-length": str(10**12)})
    assert r.status_code in (400, 413)


# -- the other public endpoints ---------------------------------------------------------------

@SETTINGS
@given(token=st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t and t not in (".", "..")))
def test_verify_link_with_any_token(api: Api, token: str) -> None:
    for path in ("/api/v1/verify/{}", "/v/{}"):
        if path.format("{token}") not in api.paths:
            continue
        r = api.send("GET", path.format(token))
        assert r.status_code in (200, 400, 404, 422), r.text
        if r.status_code == 200 and path.startswith("/api"):
            assert r.json()["result"]["status"] == "INVALID"
            assert r.json()["document"] is None


@SETTINGS
@given(form=st.dictionaries(st.sampled_from(["username", "password", "grant_type", "scope",
                                             "client_id", "x"]),
                            st.one_of(st.text(max_size=200), st.integers().map(str)), max_size=6),
       as_json=st.booleans())
def test_login_with_any_form(api: Api, form: dict[str, str], as_json: bool) -> None:
    if as_json:
        r = api.send("POST", "/api/v1/auth/token", json=form)
    else:
        r = api.send("POST", "/api/v1/auth/token", data=form)
    assert r.status_code in (401, 422), r.text


@SETTINGS
@given(body=st.binary(max_size=500), content_type=st.sampled_from([
    "application/x-www-form-urlencoded", "multipart/form-data", "multipart/form-data; boundary=x",
    "text/plain", "application/json"]))
def test_login_with_malformed_bodies(api: Api, body: bytes, content_type: str) -> None:
    r = api.send("POST", "/api/v1/auth/token", content=body, headers={"content-type": content_type})
    assert r.status_code in (400, 401, 422), r.text


# -- extreme dates (finding 7): a 422 for the item that has one, never a 5xx -------------------

_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_ANY_TIME = st.builds(lambda dt, tz: dt.replace(tzinfo=tz).isoformat(),
                      st.datetimes(min_value=datetime(1, 1, 1),
                                   max_value=datetime(9999, 12, 31, 23, 59, 59)), _OFFSETS)
_EXTREME = st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00",
                            "9999-12-31T23:59:59.999999+00:00", "1899-12-31T23:59:59Z",
                            "2101-01-01T00:00:00+01:00"])
_ANY_VALUE = st.one_of(_EXTREME, _ANY_TIME, st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                       st.booleans(), st.text(max_size=30))


def _year(value: object) -> int | None:
    if isinstance(value, str) and len(value) > 4 and value[:4].isdigit() and value[4] == "-":
        return int(value[:4])
    return None


@pytest.fixture(scope="module")
def clerk(api: Api) -> dict[str, str]:
    from govchain.adapters.db import UnitOfWork
    from govchain.domain.security import hash_password, password_hasher
    from govchain.entrypoints.http.tokens import issue_token

    app = api.client.app
    with UnitOfWork(app.state.engine) as uow:  # type: ignore[attr-defined]
        user = uow.users.add(username="sb.datum", role="clerk", municipality_ags=AACHEN,
                             display_name="sb.datum", password_hash=hash_password(
                                 "unbenutzt-im-test", hasher=password_hasher(
                                     time_cost=1, memory_cost_kib=8)))
        uow.commit()
    token = issue_token(app.state.token_key, user_id=user.id,  # type: ignore[attr-defined]
                        role=user.role, at=datetime.now(UTC), ttl=timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(field=st.sampled_from(["validFrom", "validUntil"]), value=_ANY_VALUE)
def test_issue_with_any_validity_value(api: Api, clerk: dict[str, str], field: str,
                                       value: object) -> None:
    r = api.send("POST", "/api/v1/documents", headers=clerk, json={
        "usecase": "gefaehrlicher-hund", "subject": api.document["credentialSubject"],
        field: value})
    # 400: a number beyond the range of JSON numbers, refused while the body is read
    assert r.status_code in (202, 400, 422), r.text
    year = _year(value)
    if year is None or not 1900 <= year <= 2100:
        assert r.status_code in (400, 422), (value, r.text)  # never taken as Unix time


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data(), size=st.integers(1, 8))
def test_bulk_with_extreme_dates_refuses_only_those_items(api: Api, clerk: dict[str, str],
                                                          data: st.DataObject, size: int) -> None:
    soon = datetime.now(UTC) + timedelta(minutes=5)
    items: list[dict[str, Any]] = []
    bad: set[int] = set()
    for i in range(size):
        item: dict[str, Any] = {"subject": api.document["credentialSubject"]}
        if data.draw(st.booleans(), label=f"extreme {i}"):
            field = data.draw(st.sampled_from(["validFrom", "validUntil"]))
            item[field] = data.draw(st.one_of(_EXTREME, _ANY_TIME.filter(
                lambda v: not 1900 <= int(v[:4]) <= 2100)))
            bad.add(i)
        else:
            item["validFrom"] = (soon + timedelta(hours=data.draw(st.integers(0, 48)))).isoformat()
        items.append(item)
    r = api.send("POST", "/api/v1/documents/bulk", headers=clerk,
                 json={"usecase": "gefaehrlicher-hund", "items": items})
    assert r.status_code == 202, r.text
    body = r.json()
    assert {x["index"] for x in body["rejected"]} == bad
    assert {x["index"] for x in body["accepted"]} == set(range(size)) - bad
    assert all(e["loc"] in ("/validFrom", "/validUntil") for x in body["rejected"]
               for e in x["errors"])
