"""The feed's key travels in a URL: ``epicstar serve`` masks it in every line it logs."""

from __future__ import annotations

from epicstar.logs import SecretMasker
from tests.api.conftest import Api
from tests.e2e.helpers import wait_for


def test_the_feed_key_in_the_url_is_masked_in_every_log_line(api: Api) -> None:
    api.track(9101, "octo/logged", html_url="https://github.com/octo/logged")
    feed_key = api.key("feed", name="reader")
    read_key = api.key("read", name="not for urls")
    client = api.served.client

    assert client.get("/feed.atom", params={"key": feed_key, "q": "x"}).status_code == 200
    assert client.get("/feed.atom", params={"key": read_key}).status_code == 403
    assert client.get("/feed.atom", params={"key": feed_key[:-2] + "zz"}).status_code == 401
    # The parameter's name spelled with an escape is still the key, and still masked.
    assert client.get(f"/feed.atom?%6Bey={feed_key}").status_code == 200
    assert client.get(f"/feed.atom/nothing?key={feed_key}").status_code == 404

    def logged() -> list[dict[str, object]]:
        return [line for line in api.served.events("api request") if line["path"] == "/feed.atom"]

    wait_for(lambda: len(logged()) >= 4, timeout=10)
    assert {line["query"] for line in logged()} >= {"key=***&q=x", "key=***"}
    assert {line["status"] for line in logged()} >= {200, 401, 403}
    text = api.served.log_text()
    for key in (feed_key, read_key):
        secret = key.split("_")[2]
        assert secret not in text
        assert secret[:-2] not in text


def test_a_key_in_any_logged_text_is_masked() -> None:
    key = "esk_abcdefgh1234_" + "S3cret" * 7
    uvicorn_access_line = f'127.0.0.1:5000 - "GET /feed.atom?q=a&key={key} HTTP/1.1" 200'
    mistyped = '"GET /feed.atom?key=half-a-key&q=b HTTP/1.1"'

    masked = SecretMasker([])(None, "info", {"event": uvicorn_access_line, "other": [mistyped]})

    assert masked["event"] == '127.0.0.1:5000 - "GET /feed.atom?q=a&key=*** HTTP/1.1" 200'
    assert masked["other"] == ['"GET /feed.atom?key=***&q=b HTTP/1.1"']
    assert SecretMasker([])(None, "info", {"event": f"key {key}"})["event"] == (
        "key esk_abcdefgh1234_***"
    )
