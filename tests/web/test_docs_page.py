"""``/docs`` renders the API's OpenAPI document with assets served by epicstar itself."""

from __future__ import annotations

import re

from tests.web.conftest import Web


def test_docs_page_and_its_assets_come_from_the_server(web: Web) -> None:
    page = web.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/openapi.json" in page.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    for source in sources:
        assert source.startswith("/"), f"{source} would be fetched from elsewhere"
        asset = web.get(source)
        assert asset.status_code == 200, source
        assert len(asset.content) > 100
    assert web.get("/openapi.json").json()["paths"]
