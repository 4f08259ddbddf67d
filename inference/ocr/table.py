"""Ruled tables: find the ruling lines of a tag laid out as a key/value table, split the page into
cells and turn the detected text boxes into one row per table row (key cell, then the value cell's
lines in reading order — a value wrapped onto a second line inside its cell is joined).

Joining boxes along a visual row (``reader.group_rows``) breaks on tables: a key cell is centred
vertically beside a value wrapped onto two lines, so it lands on either line or alone, and the
second line of one value can be taken for a row of its own. The ruling lines say which box
belongs to which cell.

Method: the grey photo is turned level by the text's dominant angle (the detector's boxes), cut
to the text's extent with a margin, and binarised against its local mean; a morphological
opening with a long flat (tall thin) element keeps only horizontal (vertical) strokes much longer
than any letter. A rule is a position whose opened-pixel count spans a good part of the searched
width (height). Table = at least three horizontal rules and a vertical one with text on both
sides of it inside the rules (the right border may lie past the text and is not needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# What counts as a rule, in text heights (the median detected box height) and table fractions.
H_KERNEL = 4.0  # a horizontal rule is a run at least this many text heights long
V_KERNEL = 2.0  # a vertical one at least this tall
H_COVER = 0.45  # and covers this share of the table's width (rows of the projection)
V_COVER = 0.45  # or of its height
MARGIN = 1.5  # text heights around the text's extent searched for the border rules


@dataclass(frozen=True)
class Grid:
    """Rule positions in the levelled frame: ``u`` along the text, ``v`` down the page."""

    theta: float  # the text angle (radians) the frame is turned by
    rows: tuple[float, ...]  # v of each horizontal rule, top to bottom
    cols: tuple[float, ...]  # u of each vertical rule, left to right

    def to_frame(self, x: float, y: float) -> tuple[float, float]:
        c, s = math.cos(self.theta), math.sin(self.theta)
        return c * x + s * y, -s * x + c * y

    def band(self, v: float) -> int | None:
        """Index of the table row (between two horizontal rules) holding ``v``; None outside."""
        for i in range(len(self.rows) - 1):
            if self.rows[i] <= v < self.rows[i + 1]:
                return i
        return None

    def column(self, u: float) -> int:
        """Index of the column holding ``u``: 0 left of the first vertical rule, then one per
        rule passed (the right border may lie outside the searched crop)."""
        return sum(1 for c in self.cols if c <= u)


def dominant_angle(quads: Sequence[Sequence[tuple[float, float]]]) -> float:
    """Median angle of the long boxes (width > 2 × height); 0 when there are none."""
    angles = []
    for quad in quads:
        (x0, y0), (x1, y1) = quad[0], quad[1]
        width = math.hypot(x1 - x0, y1 - y0)
        height = math.hypot(quad[3][0] - x0, quad[3][1] - y0)
        if width > 2 * height:
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return sorted(angles)[len(angles) // 2] if angles else 0.0


def text_height_of(quads: Sequence[Sequence[tuple[float, float]]]) -> float:
    """Median height of the boxes (left edge length)."""
    heights = sorted(math.hypot(q[3][0] - q[0][0], q[3][1] - q[0][1]) for q in quads)
    return heights[len(heights) // 2]


def _peaks(profile: np.ndarray, threshold: float, merge: int) -> list[float]:
    """Centres of the runs of ``profile >= threshold`` (runs closer than ``merge`` joined)."""
    above = np.flatnonzero(profile >= threshold)
    if above.size == 0:
        return []
    out: list[float] = []
    start = prev = int(above[0])
    for i in above[1:]:
        i = int(i)
        if i - prev > merge:
            out.append((start + prev) / 2)
            start = i
        prev = i
    out.append((start + prev) / 2)
    return out


def find_rules(level: np.ndarray, text_height: float) -> tuple[list[float], list[float]]:
    """Horizontal rule rows and vertical rule columns (pixel positions) of a levelled grey crop."""
    import cv2

    h = max(8.0, text_height)
    block = int(2 * h) | 1
    ink = cv2.adaptiveThreshold(level, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 6)
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                  cv2.getStructuringElement(cv2.MORPH_RECT, (int(H_KERNEL * h), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN,
                                cv2.getStructuringElement(cv2.MORPH_RECT, (1, int(V_KERNEL * h))))
    # A rule a little off level or broken by blur spans two or three pixel rows: count a run on
    # any of them (a max over a small window), then take positions covering enough of the crop.
    ww = ink.shape[1]
    merge = max(2, int(0.25 * h))
    row_profile = (horizontal > 0).sum(axis=1).astype(np.float64)
    row_profile = np.convolve(row_profile, np.ones(3), mode="same")
    rows = _peaks(row_profile, H_COVER * ww, merge)
    if len(rows) < 2:
        return rows, []
    top, bottom = int(rows[0]), math.ceil(rows[-1]) + 1
    col_profile = (vertical[top:bottom] > 0).sum(axis=0).astype(np.float64)
    col_profile = np.convolve(col_profile, np.ones(3), mode="same")
    cols = _peaks(col_profile, V_COVER * (bottom - top), merge)
    return rows, cols


def find_grid(gray: np.ndarray, quads: Sequence[Sequence[tuple[float, float]]]) -> Grid | None:
    """The table's rules around the detected text boxes, or None when the tag is no ruled table."""
    import cv2

    if len(quads) < 3:
        return None
    theta = dominant_angle(quads)
    c, s = math.cos(theta), math.sin(theta)
    text_height = text_height_of(quads)
    us = [c * x + s * y for q in quads for x, y in q]
    vs = [-s * x + c * y for q in quads for x, y in q]
    margin = MARGIN * text_height
    u0, v0 = min(us) - margin, min(vs) - margin
    width, height = int(max(us) + margin - u0), int(max(vs) + margin - v0)
    if width < 20 or height < 20 or width * height > 3 * gray.size:
        return None
    matrix = np.array([[c, s, -u0], [-s, c, -v0]], dtype=np.float64)
    level = cv2.warpAffine(gray, matrix, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    rows, cols = find_rules(level, text_height)
    if len(rows) < 3 or not cols:
        return None
    grid = Grid(theta=theta, rows=tuple(v + v0 for v in rows), cols=tuple(u + u0 for u in cols))
    # Text on both sides of some divider, inside the table: a ruled key/value table.
    sides = set()
    for q in quads:
        u, v = grid.to_frame(sum(p[0] for p in q) / 4, sum(p[1] for p in q) / 4)
        if grid.band(v) is not None:
            sides.add(grid.column(u))
    return grid if len(sides) >= 2 else None


@dataclass(frozen=True)
class Placed:
    """A text box's place in the table: band (table row), column, and its centre in the frame."""

    band: int | None
    column: int
    u: float
    v: float


def place(grid: Grid, quad: Sequence[tuple[float, float]]) -> Placed:
    pts = [grid.to_frame(x, y) for x, y in quad]
    u = sum(p[0] for p in pts) / 4
    v = sum(p[1] for p in pts) / 4
    return Placed(grid.band(v), grid.column(u), u, v)


def cell_order(placed: Sequence[Placed], text_height: float) -> dict[int, list[int]]:
    """Boxes of each band in reading order: the key column first, then each value column's lines
    top to bottom, boxes on one line left to right. Boxes outside the table are left out."""
    bands: dict[int, list[int]] = {}
    for i, p in enumerate(placed):
        if p.band is not None:
            bands.setdefault(p.band, []).append(i)
    out: dict[int, list[int]] = {}
    for band, members in bands.items():
        ordered: list[int] = []
        for column in sorted({placed[i].column for i in members}):
            in_cell = sorted((i for i in members if placed[i].column == column), key=lambda i: placed[i].v)
            lines: list[list[int]] = []
            for i in in_cell:
                if lines and abs(placed[i].v - placed[lines[-1][0]].v) < 0.5 * text_height:
                    lines[-1].append(i)
                else:
                    lines.append([i])
            for line in lines:
                ordered.extend(sorted(line, key=lambda i: placed[i].u))
        out[band] = ordered
    return out
