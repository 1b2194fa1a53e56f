"""Placing the characters of a billet ID on a billet face: lines, spacing, rotation, jitter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

#: Smallest gap kept between neighbouring glyph boxes on a line, in char heights: a die never
#: strikes on top of its neighbour, so jitter may narrow a gap but never close it.
MIN_GAP = 0.02


@dataclass(frozen=True)
class IdLayout:
    """How an ID is laid out on a face; the defaults give the paper's look (11 characters
    over one or two lines on a ~1024 px square face).

    Lengths are fractions of the face (``char_height`` of its shorter side, ``margin`` and
    ``centre_jitter`` of each side) or multiples of the char height (``pitch``, ``line_gap``,
    ``char_offset``); jitters and rotations are drawn uniformly in ± the value.
    """

    #: Nominal glyph height as a fraction of the face's shorter side (~92 px on 1024 px).
    char_height: float = 0.09
    #: Per-character height jitter, relative to ``char_height``.
    height_jitter: float = 0.05
    #: Advance between neighbouring character cells, in char heights (monospaced dies).
    pitch: float = 0.72
    #: Per-advance jitter, relative to ``pitch``.
    pitch_jitter: float = 0.04
    #: Probability that an ID is stamped on two lines instead of one.
    two_lines_probability: float = 0.5
    #: Free space between the two lines, in char heights.
    line_gap: float = 0.35
    #: Where a two-line ID breaks: None splits evenly (longer line first), else an index.
    split_at: int | None = None
    #: Whole-ID rotation range (±degrees) about the block centre.
    rotation_deg: float = 4.0
    #: Per-character rotation range (±degrees) about the glyph centre.
    char_rotation_deg: float = 2.0
    #: Per-character x/y displacement range, in char heights.
    char_offset: float = 0.04
    #: Border of the face (fraction of each side) that no glyph box may enter.
    margin: float = 0.1
    #: Displacement range of the block centre from the face centre (fraction of each side).
    centre_jitter: float = 0.08

    def __post_init__(self) -> None:
        if self.char_height <= 0 or self.pitch <= 0:
            raise ValueError("char_height and pitch must be positive")
        if not 0.0 <= self.two_lines_probability <= 1.0:
            raise ValueError("two_lines_probability must lie in [0, 1]")
        if not 0.0 <= self.margin < 0.5:
            raise ValueError("margin must lie in [0, 0.5)")
        if min(self.height_jitter, self.pitch_jitter, self.line_gap, self.rotation_deg,
               self.char_rotation_deg, self.char_offset, self.centre_jitter) < 0:
            raise ValueError("jitters, rotations and line_gap must not be negative")
        if self.height_jitter >= 1:
            raise ValueError("height_jitter must be below 1 (heights stay positive)")


@dataclass(frozen=True, eq=False)
class GlyphPlacement:
    """Where one character lands: ``matrix`` (3x3, read-only) maps glyph unit coordinates
    (x in [0, width], y in [0, 1], y down) to face pixels. ``index`` is the character's
    position in the ID string, ``line`` its line (0 = top)."""

    char: str
    matrix: np.ndarray
    line: int
    index: int

    def __post_init__(self) -> None:
        matrix = np.array(self.matrix, dtype=np.float64).reshape(3, 3)
        matrix.setflags(write=False)
        object.__setattr__(self, "matrix", matrix)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GlyphPlacement):
            return NotImplemented
        return (self.char, self.line, self.index) == (other.char, other.line, other.index) and (
            np.array_equal(self.matrix, other.matrix)
        )

    __hash__ = None  # type: ignore[assignment]  # arrays: compare, never hash

    def corners(self, width: float) -> np.ndarray:
        """The glyph box corners on the face, (4, 2): top-left, top-right, bottom-right,
        bottom-left in the glyph's own frame; ``width`` is the glyph's width in units."""
        return _box(width, self.matrix)


def _rotation(degrees: float) -> np.ndarray:
    angle = math.radians(degrees)
    cos, sin = math.cos(angle), math.sin(angle)
    return np.array([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]])


def _translation(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _scaling(factor: float) -> np.ndarray:
    return np.diag([factor, factor, 1.0])


def _split_lines(billet_id: str, two_lines: bool, split_at: int | None) -> list[tuple[int, str]]:
    """(start index, text) per line; spaces at a line's ends are dropped (they place nothing)."""
    if not two_lines:
        parts = [(0, billet_id)]
    else:
        cut = (len(billet_id) + 1) // 2 if split_at is None else split_at
        if not 0 < cut < len(billet_id):
            raise ValueError(f"split_at={split_at} leaves an empty line for ID {billet_id!r}")
        parts = [(0, billet_id[:cut]), (cut, billet_id[cut:])]
    lines = []
    for start, text in parts:
        stripped = text.lstrip(" ")
        lines.append((start + len(text) - len(stripped), stripped.rstrip(" ")))
    return [line for line in lines if line[1]]


def layout_id(
    billet_id: str,
    face_size: tuple[int, int],
    glyph_widths: Mapping[str, float],
    rng: np.random.Generator,
    layout: IdLayout = IdLayout(),  # frozen, so sharing one default is safe
) -> list[GlyphPlacement]:
    """Lay ``billet_id`` out on a face of ``face_size`` (height, width) pixels.

    The ID becomes a centred block of one or two lines, rotated about its centre, with
    per-character jitter; a block that would enter the margin is shifted, then scaled
    down until it fits (glyphs are never clipped). ``glyph_widths`` gives each character's
    width in glyph units (height 1); spaces only advance the pen. Placements come back in
    reading order.
    """
    missing = sorted({c for c in billet_id if c != " " and c not in glyph_widths})
    if missing:
        raise KeyError(f"no glyph width for {', '.join(map(repr, missing))} in ID {billet_id!r}")
    face_height, face_width = face_size
    if face_height <= 0 or face_width <= 0:
        raise ValueError(f"face size {face_size} must be positive")
    if not billet_id.strip(" "):
        return []

    height = layout.char_height * min(face_height, face_width)
    wants_two = rng.random() < layout.two_lines_probability
    lines = _split_lines(billet_id, wants_two and len(billet_id.strip(" ")) > 1, layout.split_at)

    # Block-local frame at scale 1: x along the line, y down, origin at the block centre.
    local: list[tuple[str, int, int, float, np.ndarray]] = []  # char, line, index, width, M
    line_step = height * (1.0 + layout.line_gap)
    for line_number, (start, text) in enumerate(lines):
        line_y = (line_number - (len(lines) - 1) / 2) * line_step
        placed = _place_line(text, start, height, glyph_widths, rng, layout)
        left = min(x - half for _, _, x, half, _, _, _ in placed)
        right = max(x + half for _, _, x, half, _, _, _ in placed)
        shift = -(left + right) / 2  # centre each line on the block's axis
        for char, index, x, _, char_height, y, angle in placed:
            width = glyph_widths[char]
            matrix = (
                _translation(x + shift, line_y + y)
                @ _rotation(angle)
                @ _scaling(char_height)
                @ _translation(-width / 2, -0.5)
            )
            local.append((char, line_number, index, width, matrix))

    block = _rotation(rng.uniform(-layout.rotation_deg, layout.rotation_deg))
    jitter = rng.uniform(-layout.centre_jitter, layout.centre_jitter, size=2)
    corners = np.concatenate([
        _box(width, block @ matrix) for _, _, _, width, matrix in local
    ])
    scale, centre = _fit(corners, (face_height, face_width), layout.margin, jitter)
    to_face = _translation(*centre) @ _scaling(scale) @ block
    return [
        GlyphPlacement(char, to_face @ matrix, line, index)
        for char, line, index, _, matrix in local
    ]


def _place_line(
    text: str,
    start: int,
    height: float,
    glyph_widths: Mapping[str, float],
    rng: np.random.Generator,
    layout: IdLayout,
) -> list[tuple[str, int, float, float, float, float, float]]:
    """Per character of one line: (char, index, centre x, half extent along the line,
    height, y offset, rotation degrees), with the first cell centred at x = 0."""
    placed: list[tuple[str, int, float, float, float, float, float]] = []
    pen = 0.0
    previous_right = -math.inf
    for offset, char in enumerate(text):
        if offset:
            pen += layout.pitch * height * (1 + rng.uniform(-1, 1) * layout.pitch_jitter)
        if char == " ":
            continue
        char_height = height * (1 + rng.uniform(-1, 1) * layout.height_jitter)
        angle = rng.uniform(-layout.char_rotation_deg, layout.char_rotation_deg)
        dx, dy = rng.uniform(-1, 1, size=2) * layout.char_offset * height
        radians = math.radians(angle)
        # Half the rotated box's extent along the line, which is what neighbours can touch.
        half = char_height * (
            glyph_widths[char] * abs(math.cos(radians)) + abs(math.sin(radians))
        ) / 2
        x = pen + dx
        push = previous_right + MIN_GAP * height - (x - half)
        if push > 0:  # a wide glyph or unlucky jitter: move this and every later cell along
            x += push
            pen += push
        previous_right = x + half
        placed.append((char, start + offset, x, half, char_height, dy, angle))
    return placed


def _box(width: float, matrix: np.ndarray) -> np.ndarray:
    unit = np.array([[0.0, 0.0, 1.0], [width, 0.0, 1.0], [width, 1.0, 1.0], [0.0, 1.0, 1.0]])
    return (unit @ matrix.T)[:, :2]


def _fit(
    corners: np.ndarray, face_size: tuple[int, int], margin: float, jitter: np.ndarray
) -> tuple[float, tuple[float, float]]:
    """Scale (<= 1) and centre that keep ``corners`` (relative to the block centre) inside
    the face less its margin, as near the jittered centre as the block allows."""
    face = np.array([face_size[1], face_size[0]], dtype=np.float64)  # (x, y) order
    low, high = face * margin, face * (1 - margin)
    extent_low, extent_high = corners.min(axis=0), corners.max(axis=0)
    span = extent_high - extent_low
    # The tiny shrink keeps rounding from pushing a corner a hair past the margin.
    scale = float(min(1.0, *((high - low) / np.maximum(span, 1e-12)))) * (1 - 1e-9)
    wanted = face / 2 + jitter * face
    centre = np.clip(wanted, low - scale * extent_low, high - scale * extent_high)
    return scale, (float(centre[0]), float(centre[1]))
