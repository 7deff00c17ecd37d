"""No input makes the API answer 5xx, for every operation ``/openapi.json`` documents under
``/api/v1`` (routes added later are covered without a word here), sent to a real
``epicstar serve`` with an admin key, a read key and no key: every answer is below 500, and
every 4xx is JSON with a ``detail``.

Three sources of requests: schemathesis, from the document's schemas, valid and invalid;
each nasty value of a fixed list (NUL and control characters, numbers past 64 bits, long
strings, JSON of the wrong kind) in each query, path and body parameter in turn, the rest of
the request valid as far as the document tells; and hypothesis's random mixes of those.
Schemathesis alone never puts a NUL character in a query, for one.

Also: the document declares the bearer scheme on every ``/api/v1`` operation, and ``/docs``
renders it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.result import Ok

from epicstar.auth.store import find_key
from tests.api.conftest import API, Api

SCHEMATHESIS_REQUESTS = 300
"""Requests schemathesis makes per database, shared among the operations."""
SCHEMATHESIS_PER_OPERATION = (10, 120)
RANDOM_PER_OPERATION = 15
CALLERS = ("admin", "read", "none")
FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

NASTY_TEXT = ["\x00", "a\x00b", "\x1b[2J", "\u202e\ufeff", "%", "' OR '1'='1", "x" * 5_000]
NASTY_NUMBERS = ["9" * 40, "-" + "9" * 40, str(2**63), "1e999", "NaN", "-1", "0"]
NASTY_JSON: list[Any] = [
    *NASTY_TEXT,
    2**63,
    -(2**63) - 1,
    10**40,
    1.5e308,
    None,
    True,
    [],
    {},
    ["\x00"],
    {"\x00": "\x00"},
]
HOSTILE_TEXT = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=30),
    st.sampled_from(NASTY_TEXT + NASTY_NUMBERS),
)
HOSTILE_SCALAR = st.one_of(HOSTILE_TEXT, st.integers(min_value=-(2**80), max_value=2**80))
HOSTILE_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | HOSTILE_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE_TEXT, inner, max_size=3),
    max_leaves=6,
)


class Callers:
    """An admin and a read key, made again should a fuzzed ``DELETE /keys/{id}`` revoke one."""

    def __init__(self, api: Api) -> None:
        self._api = api
        self._keys: dict[str, str] = {}
        self.renew()

    def renew(self) -> None:
        self._keys = {"admin": self._api.key("admin", name="fuzz admin")}
        self._keys["read"] = self._api.key("read", name="fuzz read")

    def headers(self, who: str) -> dict[str, str]:
        key = self._keys.get(who)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def after(self, method: str, path: str) -> None:
        if method.upper() != "DELETE" or not path.startswith(f"{API}/keys"):
            return
        with self._api.database.session() as session:
            rows = [find_key(session, key) for key in self._keys.values()]
            if all(row is not None and row.revoked_at is None for row in rows):
                return
        self.renew()


def check_answer(where: str, response: Any) -> None:
    """Below 500; JSON unless 204 or a redirect (``/x/`` to ``/x``); a ``detail`` on every 4xx."""
    status = response.status_code
    assert status < 500, f"{where} -> {status}: {response.text:.500}"
    if status == 204 or 300 <= status < 400:
        return
    try:
        answer = json.loads(response.content)
    except ValueError:
        pytest.fail(f"{where} -> {status} is not JSON: {response.text:.300}")
    if 400 <= status < 500:
        assert isinstance(answer, dict), where
        assert answer.get("detail"), f"{where} -> {status} without a detail"


def _no_errors_logged(api: Api) -> None:
    errors = [line for line in api.served.lines if '"level": "error"' in line]
    assert not errors, "".join(errors[:5])


# ----------------------------------------------------------------------------- schemathesis


def _schemathesis_operations(api: Api) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{api.served.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return [operation for operation in operations if operation.path.startswith(API)]


def test_no_request_schemathesis_makes_gets_a_5xx(api: Api) -> None:
    operations = _schemathesis_operations(api)
    assert operations, "the OpenAPI document lists no /api/v1 operation"
    low, high = SCHEMATHESIS_PER_OPERATION
    examples = max(low, min(high, SCHEMATHESIS_REQUESTS // len(operations)))
    callers = Callers(api)
    session = requests.Session()  # kept-alive connections

    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(FUZZ_SETTINGS, max_examples=examples)
        @given(case=cases, who=st.sampled_from(CALLERS))
        def fuzz(case: Any, who: str) -> None:
            response = case.call(
                base_url=api.served.url, session=session, headers=callers.headers(who)
            )
            body = "" if isinstance(case.body, NotSet) else f" body={case.body!r:.300}"
            where = f"{case.method} {case.formatted_path} {case.query!r}{body} as {who}"
            check_answer(where, response)
            callers.after(case.method, case.path)

        fuzz()
    _no_errors_logged(api)


# ----------------------------------------------------------------------------- nasty values


@dataclass(frozen=True)
class Operation:
    """One ``/api/v1`` operation of the document: its parameters, and a body of the least
    valid values when it takes one (a guess from the schema, which the API may refuse)."""

    method: str
    template: str
    query: tuple[str, ...] = ()
    path: tuple[str, ...] = ()
    body: dict[str, Any] | None = None
    body_fields: tuple[str, ...] = ()
    least: dict[str, Any] = field(default_factory=dict)  # a valid-looking value per parameter

    def send(
        self,
        api: Api,
        callers: Callers,
        who: str,
        *,
        query: dict[str, Any] | None = None,
        path: dict[str, Any] | None = None,
        body: Any = None,
    ) -> None:
        url = self.template
        for name in self.path:
            value = (path or {}).get(name, self.least.get(name, 1))
            url = url.replace("{" + name + "}", quote(str(value), safe=""))
        options: dict[str, Any] = {"params": query or {}}
        if self.body is not None:
            options["json"] = self.body if body is None else body
        response = api.served.client.request(
            self.method, url, headers=callers.headers(who), **options
        )
        where = f"{self.method} {url:.300} {query!r:.300} {options.get('json')!r:.300} as {who}"
        check_answer(where, response)
        callers.after(self.method, url)


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref")
    if not isinstance(reference, str):
        return schema
    found: dict[str, Any] = document
    for part in reference.removeprefix("#/").split("/"):
        found = found[part]
    return found


def _least(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The least value of ``schema``: its default, first choice, minimum or shortest."""
    schema = _resolved(document, schema)
    for choices in ("anyOf", "oneOf"):
        if choices in schema:
            options = [option for option in schema[choices] if option.get("type") != "null"]
            return _least(document, options[0]) if options else None
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = [name for name in schema.get("required", []) if name in properties]
        return {name: _least(document, properties[name]) for name in required}
    if kind == "array":
        return [_least(document, schema.get("items", {}))] if schema.get("minItems") else []
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


def _operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for template, item in document["paths"].items():
        if not template.startswith(API):
            continue
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            least = {p["name"]: _least(document, p.get("schema", {})) for p in parameters}
            content = operation.get("requestBody", {}).get("content", {})
            body_schema = content.get("application/json", {}).get("schema")
            body, body_fields = None, ()
            if body_schema is not None:
                resolved = _resolved(document, body_schema)
                body = _least(document, resolved)
                body_fields = tuple(resolved.get("properties", {}))
            found.append(
                Operation(
                    method=method.upper(),
                    template=template,
                    query=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    path=tuple(p["name"] for p in parameters if p["in"] == "path"),
                    body=body if isinstance(body, dict) else ({} if body_schema else None),
                    body_fields=body_fields,
                    least=least,
                )
            )
    return found


def test_each_nasty_value_in_each_parameter_gets_no_5xx(api: Api) -> None:
    operations = _operations(api.served.client.get("/openapi.json").json())
    assert operations
    callers = Callers(api)
    for operation in operations:
        for value in NASTY_TEXT + NASTY_NUMBERS:
            for name in operation.query:
                operation.send(api, callers, "admin", query={name: value})
            for name in operation.path:
                operation.send(api, callers, "admin", path={name: value})
        if operation.body is not None:
            for value in NASTY_JSON:
                for name in operation.body_fields:
                    operation.send(api, callers, "admin", body={**operation.body, name: value})
                operation.send(api, callers, "admin", body=value if value is not None else [])
    _no_errors_logged(api)


def test_random_hostile_requests_get_no_5xx(api: Api) -> None:
    operations = _operations(api.served.client.get("/openapi.json").json())
    callers = Callers(api)
    for operation in operations:
        parts: dict[str, st.SearchStrategy[Any]] = {
            "query": st.fixed_dictionaries(
                {}, optional=dict.fromkeys(operation.query, HOSTILE_SCALAR)
            ),
            "path": st.fixed_dictionaries(dict.fromkeys(operation.path, HOSTILE_SCALAR)),
            "who": st.sampled_from(CALLERS),
        }
        if operation.body is not None:
            fields = dict.fromkeys(operation.body_fields, HOSTILE_JSON)
            parts["body"] = HOSTILE_JSON | st.fixed_dictionaries({}, optional=fields)

        @settings(FUZZ_SETTINGS, max_examples=RANDOM_PER_OPERATION)
        @given(request=st.fixed_dictionaries(parts), operation=st.just(operation))
        def fuzz(request: dict[str, Any], operation: Operation) -> None:
            operation.send(
                api,
                callers,
                request["who"],
                query=request["query"],
                path=request["path"],
                body=request.get("body"),
            )

        fuzz()
    _no_errors_logged(api)


# ----------------------------------------------------------------------------- the document


def test_every_api_operation_declares_the_bearer_scheme(api: Api) -> None:
    document = api.served.client.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items() if scheme.get("scheme") == "bearer"]
    assert len(bearer) == 1, schemes
    assert schemes[bearer[0]]["type"] == "http"
    operations = [
        (method, path, operation)
        for path, item in document["paths"].items()
        if path.startswith(API)
        for method, operation in item.items()
    ]
    assert operations
    for method, path, operation in operations:
        assert operation.get("security") == [{bearer[0]: []}], (method, path)
        assert operation.get("summary"), (method, path)
    for path in ("/health", "/ready", "/metrics", "/webhooks/github"):
        for operation in document["paths"][path].values():
            assert "security" not in operation, path


def test_the_docs_render_the_document(api: Api) -> None:
    response = api.served.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in response.text
