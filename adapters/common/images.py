"""Image-URI checks (syntax only — the enrich stage fetches, with its own size and host rules).

Accepted: ``https``/``http`` with a host, and absolute ``file://`` URIs (local drops and tests;
the fetcher confines them to ``settings.image_root``). Rejected: other schemes (``javascript:``,
``data:``, ``ftp:``), credentials in the URL, whitespace or control characters, relative paths,
``..`` segments and overlong URIs.
"""

from __future__ import annotations

import re
from html import unescape
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
_IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
_SOURCE = re.compile(r"""\s(data-src|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""", re.IGNORECASE)


def html_image_uris(html: str, limit: int = MAX_HTML_IMAGES) -> list[str]:
    """The web image addresses of ``<img>`` tags in a seller's detail HTML, in page order, without
    repeats, at most ``limit`` (``data-src`` before ``src``: lazy-loading pages keep the real
    address there and a placeholder in ``src``; character references unescaped). Only
    ``http(s)`` addresses that pass :func:`image_uri_problem`: free HTML is not the structured image
    field, so a bad ``src`` (relative, ``data:``, a local ``file://``) is passed over, not rejected.
    A tag scan, not a full parse (~6x cheaper per deal): detail pages are generated markup."""
    out: list[str] = []
    for tag in _IMG_TAG.findall(html):
        found = {m[0].lower(): m[1] or m[2] or m[3] for m in _SOURCE.findall(tag)}
        uri = (found.get("data-src") or found.get("src") or "").strip()
        if "&" in uri:
            uri = unescape(uri)
        if (uri.lower().startswith(("http://", "https://")) and image_uri_problem(uri) is None
                and uri not in out):
            out.append(uri)
            if len(out) == limit:
                break
    return out
