from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from hanger.errors import ImageError, InputError
from inference.images import load_image


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature + IHDR chunk announcing width×height, and no pixel data at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def code_of(data: bytes, **kw: int) -> str:
    with pytest.raises(ImageError) as info:
        load_image(data, **kw)
    assert isinstance(info.value, InputError) and not info.value.retriable
    return info.value.code


def test_empty_bytes() -> None:
    assert code_of(b"") == "empty_image"


def test_not_an_image() -> None:
    assert code_of(b"%PDF-1.7 this is a pdf, not a photo" * 10) == "not_an_image"
    assert code_of(b"<html><body>404</body></html>") == "not_an_image"


def test_truncated_jpeg() -> None:
    data = encode(Image.new("RGB", (300, 200), (10, 200, 30)), "JPEG", quality=90)
    assert code_of(data[: len(data) // 2]) == "truncated_image"


def test_truncated_png() -> None:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 255, (120, 120, 3), dtype=np.uint8))
    data = encode(noise, "PNG")
    assert code_of(data[: len(data) // 3]) == "truncated_image"


def test_too_many_bytes() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PNG")
    assert code_of(data, max_bytes=len(data) - 1) == "image_too_large"
    assert load_image(data, max_bytes=len(data)).size == (64, 64)


def test_decompression_bomb_refused_from_header() -> None:
    data = png_header_only(50_000, 50_000)
    start = time.perf_counter()
    assert code_of(data) == "decompression_bomb"
    assert time.perf_counter() - start < 0.5  # nothing was decoded


def test_pixel_limit_is_configurable() -> None:
    data = encode(Image.new("RGB", (100, 100)), "PNG")
    assert code_of(data, max_pixels=9_999) == "decompression_bomb"
    assert load_image(data, max_pixels=10_000).size == (100, 100)


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red in CMYK
    img = load_image(encode(cmyk, "JPEG", quality=95))
    assert img.mode == "RGB" and img.size == (40, 30)
    r, g, b = img.getpixel((20, 15))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_16_bit_grayscale_png() -> None:
    arr = np.full((20, 30), 65535 // 2, dtype=np.uint16)
    arr[:, :10] = 65535
    img16 = Image.fromarray(arr)
    assert img16.mode.startswith("I")
    img = load_image(encode(img16, "PNG"))
    assert img.mode == "RGB" and img.size == (30, 20)
    assert img.getpixel((0, 0)) == (255, 255, 255)
    mid = img.getpixel((25, 10))
    assert isinstance(mid, tuple) and 120 <= mid[0] <= 135


def test_palette_with_transparency_composited_on_white() -> None:
    rgba = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (5, 5, 15, 15))
    pal = rgba.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    transparent_index = pal.getpixel((0, 0))
    img = load_image(encode(pal, "PNG", transparency=transparent_index))
    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)
    assert img.getpixel((10, 10)) == (0, 0, 255)


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_composited_on_white(mode: str) -> None:
    im = Image.new(mode, (10, 10), (0,) * len(mode))  # fully transparent black
    img = load_image(encode(im, "PNG"))
    assert img.mode == "RGB" and img.getpixel((5, 5)) == (255, 255, 255)


def test_animated_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3  # type: ignore[attr-defined]
    img = load_image(data)
    assert img.mode == "RGB"
    r, g, b = img.getpixel((8, 8))  # type: ignore[misc]
    assert r > 200 and g < 50 and b < 50


def test_exif_orientation_applied() -> None:
    # Stored 40 wide × 20 high, left half red; orientation 6 = rotate 90° clockwise to display.
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    img = load_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert img.size == (20, 40)
    top = img.getpixel((10, 5))
    bottom = img.getpixel((10, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60  # red ends up on top after a clockwise turn
    assert bottom[2] > 200 and bottom[0] < 60


def test_grayscale_and_bw() -> None:
    for mode in ("L", "1"):
        img = load_image(encode(Image.new(mode, (8, 8), 1 if mode == "1" else 128), "PNG"))
        assert img.mode == "RGB" and img.size == (8, 8)


def test_big_jpeg_uses_draft_mode() -> None:
    big = Image.new("RGB", (2400, 1600), (120, 130, 140))
    data = encode(big, "JPEG", quality=80)
    img = load_image(data)
    assert img.mode == "RGB"
    assert min(img.size) >= 256 and img.size[0] < 2400  # DCT-scaled, still big enough
    assert img.size[0] / img.size[1] == pytest.approx(1.5, rel=0.02)
    assert load_image(data, draft_size=None).size == (2400, 1600)


def test_webp_and_bmp() -> None:
    for fmt in ("WEBP", "BMP"):
        img = load_image(encode(Image.new("RGB", (12, 9), (1, 2, 3)), fmt))
        assert img.mode == "RGB" and img.size == (12, 9)
