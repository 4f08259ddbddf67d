"""Text-encoding detection for payloads from legacy systems.

Order: a BOM decides (UTF-8, UTF-16); then strict UTF-8; then strict EUC-KR and its Microsoft
superset CP949 (what Korean Windows back-ends still write). Anything else is rejected as
``bad_encoding`` rather than guessed, because a mis-decoded title would be classified and
returned garbled. NUL characters mean UTF-16/32 without a BOM and are rejected too.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from hanger.errors import InputError

UTF8 = "utf-8"
LEGACY_KOREAN = ("euc-kr", "cp949")


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # utf-8, utf-8-sig, utf-16, euc-kr or cp949 — used again to encode the answer

    @property
    def is_legacy(self) -> bool:
        return self.encoding in LEGACY_KOREAN


def decode_text(raw: bytes) -> DecodedText:
    """Decode ``raw``; raises :class:`InputError` (code ``bad_encoding``) when nothing fits."""
    if raw.startswith(codecs.BOM_UTF8):
        return _checked(raw[len(codecs.BOM_UTF8):].decode(UTF8), "utf-8-sig")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _checked(raw.decode("utf-16"), "utf-16")
        except UnicodeDecodeError as exc:
            raise InputError("bad_encoding", f"UTF-16 BOM but undecodable: {exc}") from exc
    try:
        return _checked(raw.decode(UTF8), UTF8)
    except UnicodeDecodeError:
        pass
    for encoding in LEGACY_KOREAN:
        try:
            return _checked(raw.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(
        "bad_encoding", "text is neither UTF-8 nor EUC-KR/CP949 (send UTF-8, or CP949 for legacy)"
    )


def encode_text(text: str, encoding: str) -> bytes:
    """Encode an answer in the encoding the request came in (UTF-8 for anything unusual)."""
    if encoding in LEGACY_KOREAN:
        return text.encode("cp949", errors="xmlcharrefreplace")
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + text.encode(UTF8)
    return text.encode(UTF8)


def _checked(text: str, encoding: str) -> DecodedText:
    if "\x00" in text:
        raise InputError(
            "bad_encoding", "text contains NUL characters (UTF-16/32 without a byte-order mark?)"
        )
    return DecodedText(text, encoding)
