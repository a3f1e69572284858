"""The demo pipeline's plumbing: one blocking HTTP GET on the local site, and an HTML parser
for links and paragraph text (the standard library's ``urllib`` and ``html.parser``)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

__all__ = ["Fetched", "http_get", "parse_page"]


@dataclass(frozen=True)
class Fetched:
    """One page as fetched: its HTTP status, body, attempts, time taken and error text."""

    path: str
    status: int  # 0 when no HTTP answer came (connection error, timeout)
    body: str
    attempts: int
    seconds: float
    error: str

    @property
    def ok(self) -> bool:
        """Whether the page answered 200."""
        return self.status == 200


class _PageParser(HTMLParser):
    """Collects the links of a page and the text of its paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.text: list[str] = []
        self._in_paragraph = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.extend(value for name, value in attrs if name == "href" and value)
        self._in_paragraph = tag == "p"

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_paragraph = False

    def handle_data(self, data: str) -> None:
        if self._in_paragraph and data.strip():
            self.text.append(data.strip())


def parse_page(body: str) -> _PageParser:
    """The links and paragraph text of an HTML page."""
    parser = _PageParser()
    parser.feed(body)
    parser.close()
    return parser


@lru_cache(maxsize=1)
def _opener() -> urllib.request.OpenerDirector:
    # No proxies: the site is on 127.0.0.1, and an http_proxy in the environment must not apply.
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_get(url: str, timeout: float) -> tuple[int, str, str]:
    """One blocking GET: (status, body, error text); status 0 when no answer came."""
    try:
        with _opener().open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, "", f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return 0, "", type(exc).__name__
