"""What POST /webhooks/github refuses, and in which order: size, signature, then parsing.

None of these deliveries reaches the database, so one backend (SQLite) is enough; each test
still checks that nothing was recorded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from epicstar.state.database import Database
from epicstar.state.models import Repository, WebhookDelivery
from epicstar.web import MAX_BODY_BYTES
from epicstar.web.signatures import sign
from tests.web.conftest import SECRET, MakeWeb, Web, raw, signed

BAD_SIGNATURE = {"error": "X-Hub-Signature-256 is missing, malformed or does not match the body"}


@pytest.fixture
def web(make_sqlite_web: MakeWeb) -> Web:
    return make_sqlite_web()


@pytest.fixture(autouse=True)
def _nothing_recorded(sqlite_db: Database) -> Iterator[None]:
    yield
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert session.scalar(select(func.count()).select_from(Repository)) == 0


# --------------------------------------------------------------------------- signatures


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "sha256=",
        "sha256=nothex",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
        "sha256=" + "0" * 64,
        sign(b"another secret", raw("star.created")),
    ],
)
@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
def test_a_missing_or_wrong_signature_is_a_401(web: Web, signature: str | None, form: bool) -> None:
    body, headers = signed("star", raw("star.created"), form=form)
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = web.post(body, headers)
    assert (response.status_code, response.json()) == (401, BAD_SIGNATURE)


def test_only_the_sha1_signature_is_not_enough(web: Web) -> None:
    body, headers = signed("star", raw("star.created"), secret=None)
    headers["X-Hub-Signature"] = "sha1=" + "0" * 40
    assert web.post(body, headers).status_code == 401


def test_a_signature_of_other_bytes_is_a_401(web: Web) -> None:
    """The digest covers the raw body: the same JSON re-encoded does not match."""
    body, headers = signed("star", raw("star.created"))
    assert web.post(body.replace(b"\n", b" "), headers).status_code == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"payload=%7B", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
    ],
    ids=["json", "empty", "form", "bytes"],
)
def test_a_bad_signature_is_refused_before_the_body_is_parsed(
    web: Web, body: bytes, content_type: str
) -> None:
    _, headers = signed("star", b"{}", secret="wrong")
    headers["Content-Type"] = content_type
    response = web.post(body, headers)
    assert response.status_code == 401  # not 400: nothing was parsed


def test_two_signature_headers_are_a_401(web: Web) -> None:
    body, headers = signed("ping", raw("ping"))
    twice = [*headers.items(), ("X-Hub-Signature-256", headers["X-Hub-Signature-256"])]
    response = web.post(body, twice)
    assert response.status_code == 401


def test_without_a_configured_secret_every_delivery_is_refused(make_sqlite_web: MakeWeb) -> None:
    web = make_sqlite_web(webhook_secret=None)
    for secret in [SECRET, None]:
        response = web.deliver("ping", raw("ping"), secret=secret)
        assert response.status_code == 401
        assert "EPICSTAR_WEBHOOK_SECRET must be set" in response.json()["error"]
    response = web.post(b"{not json", {"Content-Type": "application/json"})
    assert response.status_code == 401


# ------------------------------------------------------------------ headers and bodies


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-GitHub-Event", None),
        ("X-GitHub-Event", ""),
        ("X-GitHub-Event", "e" * 65),
        ("X-GitHub-Event", "has space"),
        ("X-GitHub-Delivery", None),
        ("X-GitHub-Delivery", "d" * 101),
        ("X-GitHub-Delivery", "tab\tinside"),
    ],
)
def test_missing_or_malformed_github_headers_are_a_400(
    web: Web, header: str, value: str | None
) -> None:
    body, headers = signed("ping", raw("ping"))
    del headers[header]
    if value is not None:
        headers[header] = value
    response = web.post(body, headers)
    assert response.status_code == 400
    assert header in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "form"),
    [
        (b"{not json", False),
        (b"[]", False),
        (b"\xff\xfe\x00", False),
        (b"{not json", True),
        (b"null", True),
    ],
)
def test_malformed_bodies_are_a_400(web: Web, body: bytes, form: bool) -> None:
    response = web.deliver("star", body, form=form)
    assert response.status_code == 400
    assert set(response.json()) == {"error"}


def test_a_form_without_payload_is_a_400(web: Web) -> None:
    body = b"notpayload=%7B%7D"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "no-payload",
        "X-Hub-Signature-256": sign(SECRET.encode(), body),
    }
    response = web.post(body, headers)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "the form body must hold exactly one 'payload' field"},
    )


def test_another_content_type_is_a_415(web: Web) -> None:
    body, headers = signed("ping", raw("ping"), headers={"Content-Type": "text/plain"})
    response = web.post(body, headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]


def test_a_star_payload_without_its_repository_is_a_400(web: Web) -> None:
    response = web.deliver("star", {"action": "created", "sender": {"login": "codertocat"}})
    assert response.status_code == 400
    assert "repository" in response.json()["error"]


def test_a_malformed_content_length_is_a_400(web: Web) -> None:
    body, headers = signed("ping", raw("ping"))
    response = web.post(body, {**headers, "Content-Length": "12x"})
    assert response.status_code == 400


# -------------------------------------------------------------------------------- size


def test_a_body_over_25_mib_is_a_413_by_its_content_length(web: Web) -> None:
    body = b" " * (26 * 1024 * 1024)  # 26 MiB, a matching Content-Length
    _, headers = signed("ping", b"{}")
    response = web.post(body, {**headers, "X-Hub-Signature-256": sign(SECRET.encode(), body)})
    assert response.status_code == 413
    assert response.json() == {"error": f"the body is larger than {MAX_BODY_BYTES} bytes"}


def test_a_streamed_body_over_the_cap_is_a_413_and_is_not_read_further(web: Web) -> None:
    chunk = b" " * (1024 * 1024)
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
        for index in range(40):
            sent.append(index)
            yield chunk

    _, headers = signed("ping", b"{}")
    response = web.post(chunks, headers)
    assert response.status_code == 413
    assert len(sent) <= 27  # stopped right after the 26th MiB


def test_the_cap_is_inclusive(web: Web) -> None:
    web.app.state.webhooks.max_body_bytes = 1000
    at_cap = b"[" + b" " * 998 + b"]"
    response = web.deliver("ping", at_cap)
    assert response.status_code == 400  # read, verified and parsed: not too large
    assert response.json() == {"error": "the payload is not a JSON object"}


def test_one_byte_over_a_small_cap(web: Web) -> None:
    web.app.state.webhooks.max_body_bytes = 1000
    over = b"{" + b" " * 999 + b"}"
    assert web.deliver("ping", over).status_code == 413

    async def streamed() -> AsyncIterator[bytes]:
        yield over[:500]
        yield over[500:]

    _, headers = signed("ping", over)
    assert web.post(streamed, headers).status_code == 413
