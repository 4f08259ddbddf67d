"""Fetch product images by URI, safely.

- ``file://`` URIs must resolve (symlinks included) inside ``settings.image_root``.
- ``http(s)://``: timeouts, a byte cap, ``image/*`` content types only, at most 3 redirects with
  every hop re-checked, and hosts resolving to loopback, private, link-local (cloud metadata),
  multicast or reserved addresses refused unless ``image_allow_private_hosts`` is set.
- A small LRU cache by URI, bounded in bytes, so the main image shared by a product's options is
  fetched once.

Errors: :class:`ImageError` (input: the URI itself is bad — dead-letter/flag it) or
:class:`TransientError` (timeouts, 5xx, connection refused — retried a few times right here, then an
image problem of the submission, never a stall of the stream).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import OrderedDict
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from hanger.errors import ImageError, TransientError
from hanger.kafka import with_retries
from hanger.settings import Settings

MAX_REDIRECTS = 3


def _blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _blocked_address(ip.ipv4_mapped)
    return (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    )


class ImageFetcher:
    def __init__(self, settings: Settings, *, cache_bytes: int = 64_000_000) -> None:
        self._settings = settings
        self._root = settings.image_root.resolve()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._client: httpx.AsyncClient | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def fetch(self, uri: str) -> bytes:
        cached = self._cache.get(uri)
        if cached is not None:
            self._cache.move_to_end(uri)
            return cached
        scheme = urlsplit(uri).scheme.lower()
        if scheme == "file":
            data = await asyncio.to_thread(self._read_file, uri)
        elif scheme in ("http", "https"):
            data = await self._fetch_http_patiently(uri)
        else:
            raise ImageError("unsupported_uri", f"unsupported image URI scheme {scheme!r}: {uri[:200]}")
        self._remember(uri, data)
        return data

    def _remember(self, uri: str, data: bytes) -> None:
        if len(data) > self._cache_limit // 4:
            return
        self._cache[uri] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > self._cache_limit:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)

    def _read_file(self, uri: str) -> bytes:
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise ImageError("unsupported_uri", f"file URI with a host: {uri[:200]}")
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            path = self._root / path
        resolved = path.resolve()
        if not resolved.is_relative_to(self._root):
            raise ImageError("path_outside_root", f"{uri[:200]} is outside the image root")
        try:
            size = resolved.stat().st_size
            if size > self._settings.image_max_bytes:
                raise ImageError("image_too_large", f"{size} bytes > {self._settings.image_max_bytes}")
            return resolved.read_bytes()
        except FileNotFoundError as exc:
            raise ImageError("image_not_found", f"no such file: {uri[:200]}") from exc
        except IsADirectoryError as exc:
            raise ImageError("image_not_found", f"not a file: {uri[:200]}") from exc

    async def _fetch_http_patiently(self, uri: str) -> bytes:
        """A few quick retries for a host that times out, refuses or answers 5xx; then the image is
        given up as a problem of this submission (an MD sees it) rather than a transient failure of
        the batch: one seller's dead image host must not stall the partition behind it."""
        attempts = self._settings.image_fetch_attempts
        delays = [self._settings.image_fetch_retry_s * 2**i for i in range(attempts - 1)]
        try:
            return await with_retries(self._settings, uri[:200], lambda: self._fetch_http(uri),
                                      delays=delays)
        except TransientError as exc:
            raise ImageError(exc.code, f"gave up after {attempts} attempts: {exc}") from exc

    async def _check_host(self, host: str, port: int) -> None:
        if self._settings.image_allow_private_hosts:
            return
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
            addresses = [literal]
        except ValueError:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise ImageError("image_host_unknown", f"cannot resolve {host}: {exc}") from exc
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        blocked = [str(a) for a in addresses if _blocked_address(a)]
        if blocked:
            raise ImageError("blocked_address", f"{host} resolves to non-public {', '.join(blocked)}")

    async def _fetch_http(self, uri: str) -> bytes:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._settings.image_fetch_timeout_s),
                follow_redirects=False,
                headers={"User-Agent": "clothes-hanger/0.1 (+image fetch)"},
            )
        url = uri
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ImageError("unsupported_uri", f"bad image URL {url[:200]}")
            await self._check_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
            try:
                async with self._client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    return await self._read_body(url, response)
            except httpx.TimeoutException as exc:
                raise TransientError("image_timeout", f"{url[:200]}: {exc!r}") from exc
            except httpx.TransportError as exc:
                raise TransientError("image_unreachable", f"{url[:200]}: {exc!r}") from exc
        raise ImageError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {uri[:200]}")

    async def _read_body(self, url: str, response: httpx.Response) -> bytes:
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError("image_host_error", f"{url[:200]} answered {response.status_code}")
        if response.status_code != 200:
            raise ImageError("image_http_status", f"{url[:200]} answered {response.status_code}")
        ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if not ctype.startswith("image/"):
            raise ImageError("not_an_image", f"{url[:200]} has content type {ctype or 'none'}")
        limit = self._settings.image_max_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ImageError("image_too_large", f"{url[:200]} is {declared} bytes > {limit}")
        chunks, total = [], 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > limit:
                raise ImageError("image_too_large", f"{url[:200]} exceeds {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
