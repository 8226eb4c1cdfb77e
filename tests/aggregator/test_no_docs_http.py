"""No interactive API docs by default (/docs and /redoc loaded Swagger's JavaScript from a CDN,
without auth), and nothing any aggregator serves or packages loads from elsewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest
from dap_harness import Secure, provision

pytestmark = pytest.mark.slow
EXTERNAL = re.compile(rb"""(src|href)\s*=\s*["']?\s*(https?:)?//""", re.IGNORECASE)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    secure = provision(tmp_path_factory.mktemp("docs"))
    yield secure
    secure.stop()


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
@pytest.mark.parametrize("role", ["leader", "helper"])
def test_the_interactive_docs_are_off(pair: Secure, role: str, path: str) -> None:
    server = pair.leader if role == "leader" else pair.helper
    answer = httpx.get(f"{server.url}{path}", timeout=10)
    assert answer.status_code == 404
    assert b"cdn" not in answer.content.lower()


def test_the_openapi_document_is_still_served(pair: Secure) -> None:
    answer = httpx.get(f"{pair.leader.url}/openapi.json", timeout=10)
    assert answer.status_code == 200 and "/v1/enroll" in answer.json()["paths"]


def test_no_page_or_packaged_asset_loads_from_elsewhere(pair: Secure) -> None:
    pages = [httpx.get(f"{pair.leader.url}{path}", timeout=10,
                       headers={"Accept": "text/html",
                                "Authorization": f"Bearer {token}"}).content
             for path, token in (("/dashboard", pair.admin), ("/privacy", pair.officer))]
    package = resources.files("worktally.aggregator")
    assets = [f.read_bytes() for folder in ("static", "templates")
              for f in package.joinpath(folder).iterdir() if f.is_file()]
    assert pages and assets
    for content in pages + assets:
        assert not EXTERNAL.search(content), EXTERNAL.search(content)
        assert b"cdn." not in content.lower()
