"""Image-URI checks (syntax only — the enrich stage fetches, with its own size and host rules).

Accepted: ``https``/``http`` with a host, and absolute ``file://`` URIs (local drops and tests;
the fetcher confines them to ``settings.image_root``). Rejected: other schemes (``javascript:``,
``data:``, ``ftp:``), credentials in the URL, whitespace or control characters, relative paths,
``..`` segments and overlong URIs.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from adapters.common.issues import Issue, error

MAX_URI_LENGTH = 2000
_ALLOWED = ("http", "https", "file")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")
# The usual shape, ``https://img.host.example/path?query``: ASCII host, no port, no credentials, no
# whitespace or control characters. Such a URI passes every rule below, so it skips urlsplit.
_PLAIN_WEB_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?:[/?#][^\s\x00-\x1f\x7f]*)?", re.IGNORECASE)


def image_uri_problem(uri: str) -> str | None:
    """Why ``uri`` is not an acceptable image URI, or None when it is."""
    if not uri:
        return "empty image URI"
    if len(uri) > MAX_URI_LENGTH:
        return f"image URI longer than {MAX_URI_LENGTH} characters"
    if _PLAIN_WEB_URL.fullmatch(uri):
        return None
    if _BAD_CHARS.search(uri):
        return "image URI contains whitespace or control characters"
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        return f"unparseable image URI: {exc}"
    if parts.scheme.lower() not in _ALLOWED:
        return f"image URI scheme {parts.scheme or '(none)'!r} not allowed (https, http, file)"
    if parts.scheme.lower() in ("http", "https"):
        if not parts.hostname:
            return "image URL has no host"
        if parts.username or parts.password:
            return "image URL must not carry credentials"
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            return "image URL has an invalid port"
    else:
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            return "file:// image URI must be absolute (file:///path/to/image.jpg)"
        if ".." in parts.path.split("/"):
            return "file:// image URI must not contain '..'"
    return None


def check_image_uri(uri: str, field: str, row: int | None = None) -> Issue | None:
    problem = image_uri_problem(uri)
    return None if problem is None else error("invalid_image_uri", f"{problem}: {uri[:200]!r}",
                                              field, row)


def split_uri_list(cell: str) -> list[str]:
    """A cell holding several URLs (Wing 추가이미지): comma- or newline-separated."""
    return [p.strip() for p in cell.replace("\n", ",").split(",") if p.strip()]


MAX_HTML_IMAGES = 20
_IMG_TAG = re.compile(r"<img\b", re.IGNORECASE)


class _ImageSources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            found = dict(attrs)
            # Lazy-loading detail pages keep the real address in data-src, a placeholder in src.
            for name in ("data-src", "src"):
                value = (found.get(name) or "").strip()
                if value:
                    self.sources.append(value)
                    break


def html_image_uris(html: str, limit: int = MAX_HTML_IMAGES) -> list[str]:
    """The web image addresses of ``<img>`` tags in a seller's detail HTML, in page order, without
    repeats, at most ``limit``. Only ``http(s)`` addresses that pass :func:`image_uri_problem`:
    free HTML is not the structured image field, so a bad ``src`` (relative, ``data:``, a local
    ``file://``) is passed over rather than rejected."""
    if not _IMG_TAG.search(html):
        return []
    parser = _ImageSources()
    parser.feed(html)
    parser.close()
    out: list[str] = []
    for uri in parser.sources:
        if (uri.lower().startswith(("http://", "https://")) and image_uri_problem(uri) is None
                and uri not in out):
            out.append(uri)
            if len(out) == limit:
                break
    return out
