"""Find prohibited or abusive words in text read from images, whatever disguise they wear.

Both the word list and each text line are brought to one *skeleton* before matching:
NFKC, lower case; Hangul split into jamo (so ``ㅉㅏㄱ퉁`` and ``짝퉁`` are the same); Latin look-alikes
of jamo read as jamo between Hangul (``O``→ㅇ, ``l``/``1``/``|``→ㅣ); digits for letters in Latin words
(``rep1ica``, ``f4ke``); then everything that is not a letter dropped (``짝 퉁``, ``레.플.리.카``).
A word is found when its skeleton occurs in the line's skeleton. Short skeletons (≤ 5 jamo) must
match exactly; longer ones may differ by one jamo (wrong, missing or extra), which absorbs one OCR
misread. Two looser skeletons of each line cover what Tesseract makes of lone jamo (ㅌ→6, ㄹ→2,
ㅔ→ㄱ|) and of spaced capitals it reads as jamo (R E P L I C A → ㄷ『ㄴ1<ㅅ), the latter for Latin
words only. Lines with lone jamo also get a jamo-aware reading (:mod:`inference.ocr.glyphs`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from rapidfuzz.distance import Levenshtein

_LEADS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_VOWELS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_TAILS = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ"
# Conjoining jamo (what NFD/NFKC give) -> compatibility jamo (what people type); one alphabet.
_TO_COMPAT = {
    **{chr(0x1100 + i): c for i, c in enumerate(_LEADS)},
    **{chr(0x1161 + i): c for i, c in enumerate(_VOWELS)},
    **{chr(0x11A8 + i): c for i, c in enumerate(_TAILS)},
}
# Latin/digit look-alikes of jamo, used only next to Hangul.
_JAMO_LOOKALIKE = {"o": "ㅇ", "0": "ㅇ", "l": "ㅣ", "1": "ㅣ", "|": "ㅣ", "i": "ㅣ", "!": "ㅣ",
                   # what Tesseract makes of a lone vowel: ㅏ -> '}' or 't', ㅡ -> '-' or '_'
                   "}": "ㅏ", "-": "ㅡ", "_": "ㅡ", "—": "ㅡ", "~": "ㅡ"}
# Digits and symbols for letters inside Latin words.
# l, I and 1 are one letter here (REPL1CA, rep1ica): both sides of a match go through this.
_LATIN_LOOKALIKE = str.maketrans({"0": "o", "1": "i", "l": "i", "!": "i", "|": "i", "3": "e", "4": "a",
                                  "@": "a", "5": "s", "$": "s", "7": "t", "+": "t", "8": "b", "9": "g"})
_HANGUL = re.compile(r"[가-힣ㄱ-ㆎ]")
_KEEP = re.compile(r"[^a-zㄱ-ㆎ]+")


@dataclass(frozen=True)
class ProhibitedHit:
    word: str  # the list entry
    matched_text: str  # the line it was found in, as read
    box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 of that line


# What Tesseract makes of lone jamo, beside Hangul: ㅌ -> 6, ㄹ -> 2, ㅔ -> ㄱ| (used for a second,
# looser skeleton that only matching sees).
_OCR_JAMO = (("6", "ㅌ"), ("2", "ㄹ"), ("ㄱ|", "ㅔ"), ("ㄱ1", "ㅔ"), ("ㄱl", "ㅔ"))
# Spaced capitals read as jamo ('R E P L I C A' -> 'ㄷ『ㄴ1<ㅅ'): jamo back to the Latin letter.
_LATIN_FROM_JAMO = str.maketrans({"ㄷ": "e", "ㄴ": "l", "ㅅ": "a", "『": "p", "<": "c", "ㅇ": "o",
                                  "ㄱ": "r", "ㅁ": "o", "ㅣ": "i"})


def skeletons(text: str) -> tuple[str, ...]:
    """:func:`skeleton` of ``text`` and of its OCR-confusion readings (distinct, non-empty)."""
    forms = [skeleton(text)]
    loose = text
    for seen, meant in _OCR_JAMO:
        loose = re.sub(rf"(?<=[가-힣ㄱ-ㆎ]){re.escape(seen)}|{re.escape(seen)}(?=[가-힣ㄱ-ㆎ])", meant, loose)
    forms.append(skeleton(loose))
    compat = "".join(_TO_COMPAT.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    forms.append(_KEEP.sub("", compat.lower().translate(_LATIN_FROM_JAMO).translate(_LATIN_LOOKALIKE)))
    return tuple(f for f in forms if f)


def skeleton(text: str) -> str:
    """The matching form of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(_TO_COMPAT.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    has_hangul = bool(_HANGUL.search(text))
    chars = list(text)
    changed = has_hangul
    while changed:  # repeat: 'O|미' needs '|' turned into ㅣ before 'O' has Hangul beside it
        changed = False
        for i, ch in enumerate(chars):
            if ch in _JAMO_LOOKALIKE and _near_hangul(chars, i):
                chars[i] = _JAMO_LOOKALIKE[ch]
                changed = True
    text = "".join(chars)
    # Latin words (with digits for letters) keep their letters: 'rep1ica' -> 'replica'.
    text = re.sub(r"[a-z0-9!|@$+]+", lambda m: _latin_word(m.group(0)), text)
    return _KEEP.sub("", text)


def _latin_word(run: str) -> str:
    if not any(c.isalpha() for c in run):
        return ""  # numbers alone are not words here
    return run.translate(_LATIN_LOOKALIKE)


def _near_hangul(chars: list[str], i: int) -> bool:
    """Is the character at ``i`` beside Hangul (ignoring spaces and dots)?"""
    for step in (-1, 1):
        j = i + step
        while 0 <= j < len(chars) and chars[j] in " .·*":
            j += step
        if 0 <= j < len(chars) and _HANGUL.match(chars[j]):
            return True
    return False


def default_words() -> list[str]:
    """The list shipped with the package (``prohibited_words.txt``: one word a line, # comments)."""
    text = resources.files("inference.ocr").joinpath("prohibited_words.txt").read_text(encoding="utf-8")
    return parse_word_list(text)


def parse_word_list(text: str) -> list[str]:
    words = []
    for line in text.splitlines():
        word = line.split("#", 1)[0].strip()
        if word:
            words.append(word)
    return words


class Screener:
    """Matches a word list against text lines; build once, call from any thread (read-only)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = [(w, skeleton(w)) for w in dict.fromkeys(words)]
        self._words = [(w, s) for w, s in self._words if s]

    @property
    def words(self) -> list[str]:
        return [w for w, _ in self._words]

    def find(self, text: str) -> list[str]:
        """The list words found in ``text``."""
        lines = skeletons(text)
        found = []
        for word, sk in self._words:
            for i, line in enumerate(lines):
                if i == 2 and not sk.isascii():
                    continue  # the jamo->Latin form is only for Latin words
                if sk in line or (len(sk) >= 6 and _near_substring(sk, line)):
                    found.append(word)
                    break
        return found

    def screen(self, lines: Iterable[tuple[str, tuple[int, int, int, int] | None]]) -> list[ProhibitedHit]:
        """Hits over ``(text, box)`` lines; each word once per line."""
        return self.screen_readings((text, (), box) for text, box in lines)

    def screen_readings(
        self, lines: Iterable[tuple[str, Sequence[str], tuple[int, int, int, int] | None]],
    ) -> list[ProhibitedHit]:
        """Hits over ``(text, other readings, box)`` lines: a word found in any reading counts."""
        hits: list[ProhibitedHit] = []
        for text, alternatives, box in lines:
            words: dict[str, str] = {}
            for reading in (text, *alternatives):
                for word in self.find(reading):
                    words.setdefault(word, reading)
            hits.extend(ProhibitedHit(word, reading, box) for word, reading in words.items())
        return hits


def _near_substring(word: str, line: str) -> bool:
    """``word`` occurs in ``line`` with at most one jamo wrong, missing or extra."""
    n = len(word)
    if len(line) < n - 1:
        return False
    return any(Levenshtein.distance(word, line[i:i + m], score_cutoff=1) <= 1
               for m in (n - 1, n, n + 1) for i in range(max(1, len(line) - m + 1)))
