"""Safe image decoding for seller photos: bytes in, an RGB :class:`PIL.Image.Image` out.

Everything a portal can send is handled or refused with a typed :class:`hanger.errors.ImageError`:

- ``empty_image``: zero bytes.
- ``image_too_large``: more than ``max_bytes`` bytes (checked before anything is parsed).
- ``decompression_bomb``: the header announces more than ``max_pixels`` pixels. Checked on the
  header alone (``Image.open`` is lazy), so a 50,000×50,000 PNG is refused without decoding a
  single row.
- ``not_an_image``: Pillow cannot identify the format.
- ``truncated_image``: the header is fine but the pixel data is cut short or corrupt.

Normalisation: EXIF orientation is applied; CMYK, palette, 16-bit, LA/RGBA/PA (alpha composited on
white) all become 8-bit RGB; an animated image gives its first frame. Big JPEGs are decoded with
Pillow's draft mode (DCT scaling) straight to a size just above what the model needs, which is both
faster and what training used (see :mod:`inference.preprocess`).
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from hanger.errors import ImageError

DEFAULT_MAX_BYTES = 20_000_000
DEFAULT_MAX_PIXELS = 40_000_000
# JPEG draft target: the decoder may scale down by 1/2, 1/4 or 1/8 while keeping both sides >= this.
# 256: both views of the shipped model (256 px) and of training (224 px) are made without
# upscaling from the draft.
DRAFT_SIZE = 256

_WHITE = (255, 255, 255)


def load_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: int | None = DRAFT_SIZE,
) -> Image.Image:
    """Decode ``data`` into an 8-bit RGB image, upright, first frame, alpha flattened on white.

    ``draft_size`` (JPEG only) lets the decoder downscale by a power of two while both sides stay
    >= ``draft_size``; pass ``None`` for full resolution.
    """
    if not data:
        raise ImageError("empty_image", "image has 0 bytes")
    if len(data) > max_bytes:
        raise ImageError("image_too_large", f"image has {len(data):,} bytes, limit is {max_bytes:,}")
    try:
        with warnings.catch_warnings():
            # We enforce our own pixel limit below; Pillow's warning/exception must not pre-empt it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError("decompression_bomb", str(exc)) from exc
    except UnidentifiedImageError as exc:
        raise ImageError("not_an_image", "not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError) as exc:  # broken header of a known format
        raise ImageError("truncated_image", f"cannot read image header: {exc}") from exc

    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageError("not_an_image", f"image has size {width}x{height}")
    if width * height > max_pixels:
        raise ImageError(
            "decompression_bomb",
            f"image is {width}x{height} = {width * height:,} pixels, limit is {max_pixels:,}",
        )

    try:
        return _decode(img, draft_size)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("decompression_bomb", str(exc)) from exc
    except (OSError, SyntaxError, ValueError, IndexError, EOFError) as exc:
        raise ImageError("truncated_image", f"image data is truncated or corrupt: {exc}") from exc


def _decode(img: Image.Image, draft_size: int | None) -> Image.Image:
    if getattr(img, "is_animated", False):
        img.seek(0)
    if draft_size is not None and img.format == "JPEG":
        # Read EXIF orientation first: a 90° rotation swaps which side is the short one, but draft
        # keeps both sides >= draft_size, so either way is safe.
        img.draft("RGB", (draft_size, draft_size))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img.load()  # raises OSError on truncated data (LOAD_TRUNCATED_IMAGES stays False)
    img = ImageOps.exif_transpose(img)
    return _to_rgb(img)


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        # Palette with a transparent index (or tRNS) must keep its alpha to be flattened on white.
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
        if mode == "RGB":
            return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or float(arr.max(initial=0.0)) > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, _WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if mode == "CMYK":
        return img.convert("RGB")
    if mode in ("RGBX", "YCbCr", "LAB", "HSV", "L", "1"):
        return img.convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError("not_an_image", f"unsupported image mode {mode}") from exc
