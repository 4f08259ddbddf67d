"""Image fetching: path confinement, SSRF refusals, redirects, caps, content types.

The HTTP cases use a real local server on 127.0.0.1 (with private hosts allowed for that fetcher
only), which is also how the refusal of loopback is proven for the default fetcher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hanger.errors import ImageError
from hanger.settings import Settings
from streams.fetch import ImageFetcher


class _Handler(BaseHTTPRequestHandler):
    flaky_hits = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/slow.jpg":
            time.sleep(1.0)  # longer than the test fetcher's timeout
        if self.path in ("/down.jpg", "/flaky.jpg"):
            _Handler.flaky_hits += 1
            if self.path == "/down.jpg" or _Handler.flaky_hits == 1:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.path = "/ok.jpg"
        routes = {
            "/ok.jpg": (200, "image/jpeg", b"\xff\xd8 jpeg bytes"),
            "/page": (200, "text/html", b"<html>"),
            "/missing": (404, "text/plain", b"no"),
            "/big.jpg": (200, "image/jpeg", b"x" * 5000),
        }
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        if self.path == "/redirect-ok":
            self.send_response(301)
            self.send_header("Location", "/ok.jpg")
            self.end_headers()
            return
        status, ctype, body = routes.get(self.path, (404, "text/plain", b""))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def fetcher(tmp_path: Path, **kw: object) -> ImageFetcher:
    return ImageFetcher(Settings(image_root=tmp_path, **kw))  # type: ignore[arg-type]


async def test_file_inside_root_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"abc")
    assert await fetcher(tmp_path).fetch(f"file://{tmp_path}/a.jpg") == b"abc"
    assert await fetcher(tmp_path).fetch("file:a.jpg") == b"abc"


@pytest.mark.parametrize("uri", ["file:///etc/passwd", "file://{root}/../outside.jpg",
                                 "file://{root}/link.jpg"])
async def test_paths_outside_the_root_are_refused(tmp_path: Path, uri: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "outside.jpg").write_bytes(b"secret")
    (root / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    with pytest.raises(ImageError) as info:
        await fetcher(root).fetch(uri.format(root=root))
    assert info.value.code == "path_outside_root"


async def test_missing_file_and_unknown_scheme(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="image_not_found"):
        await fetcher(tmp_path).fetch(f"file://{tmp_path}/nope.jpg")
    with pytest.raises(ImageError, match="unsupported_uri"):
        await fetcher(tmp_path).fetch("gopher://example.com/x")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.jpg",
        "http://10.1.2.3/x.jpg",
        "http://192.168.0.1/x.jpg",
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://localhost/x.jpg",
        "http://0.0.0.0/x.jpg",
    ],
)
async def test_non_public_hosts_are_refused_by_default(tmp_path: Path, url: str) -> None:
    with pytest.raises(ImageError) as info:
        await fetcher(tmp_path).fetch(url)
    assert info.value.code == "blocked_address"


async def test_redirect_into_loopback_is_refused(tmp_path: Path, server: str) -> None:
    # The first hop is loopback too here; the refusal happens before any byte is sent.
    with pytest.raises(ImageError, match="blocked_address"):
        await fetcher(tmp_path).fetch(f"{server}/redirect-ok")


async def test_http_rules_with_private_hosts_allowed(tmp_path: Path, server: str) -> None:
    f = fetcher(tmp_path, image_allow_private_hosts=True, image_max_bytes=1000)
    assert await f.fetch(f"{server}/ok.jpg") == b"\xff\xd8 jpeg bytes"
    assert await f.fetch(f"{server}/redirect-ok") == b"\xff\xd8 jpeg bytes"
    for path, code in [("/page", "not_an_image"), ("/missing", "image_http_status"),
                       ("/big.jpg", "image_too_large"), ("/loop", "too_many_redirects")]:
        with pytest.raises(ImageError) as info:
            await f.fetch(server + path)
        assert info.value.code == code, path
    await f.close()


async def test_a_host_that_fails_once_is_retried(tmp_path: Path, server: str) -> None:
    f = fetcher(tmp_path, image_allow_private_hosts=True, image_fetch_retry_s=0.01)
    assert await f.fetch(f"{server}/flaky.jpg") == b"\xff\xd8 jpeg bytes"


@pytest.mark.parametrize(("path", "code"), [("/slow.jpg", "image_timeout"),
                                            ("/down.jpg", "image_host_error")])
async def test_a_dead_or_slow_host_becomes_an_image_problem_not_a_stall(
    tmp_path: Path, server: str, path: str, code: str,
) -> None:
    f = fetcher(tmp_path, image_allow_private_hosts=True, image_fetch_timeout_s=0.2,
                image_fetch_attempts=2, image_fetch_retry_s=0.01)
    with pytest.raises(ImageError) as info:  # an ImageError: the stage flags it, the batch moves on
        await f.fetch(f"{server}{path}")
    assert info.value.code == code and "gave up after 2 attempts" in str(info.value)


async def test_an_unreachable_host_becomes_an_image_problem(tmp_path: Path) -> None:
    f = fetcher(tmp_path, image_allow_private_hosts=True, image_fetch_attempts=2,
                image_fetch_retry_s=0.01)
    with pytest.raises(ImageError) as info:
        await f.fetch("http://127.0.0.1:9/nothing-listens-here.jpg")
    assert info.value.code == "image_unreachable"
