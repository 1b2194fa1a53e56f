"""Remake resources/glyphs.json, the bundled block punch-stamp glyphs, from stroke skeletons.

Each character is a few centre lines (polylines whose corners may be rounded, and closed
rings for bowls) in its box x in [0, width], y in [0, 1] (y down). They are buffered to
one stroke width with flat caps and mitre joins, unioned, cut to the box (so strokes run
off the edges end flat, as on a punch) and simplified. Counters come out as holes.
Run: python scripts/make_glyphs.py [--sheet docs/images/glyphs.png]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import shapely
from shapely.geometry import LinearRing, LineString, Polygon
from shapely.geometry.polygon import orient

from billet_studio.geometry import StampPolygon, polygonal_parts
from billet_studio.glyphs.templates import GlyphSet, GlyphTemplate, save_glyph_set

REPO = Path(__file__).resolve().parents[1]
OUTPUT = REPO / "resources" / "glyphs.json"
STROKE = 0.14
SIMPLIFY_TOLERANCE = 0.002
#: How far a stroke that should end flat on an edge of the box runs past it before the cut.
OVER = 0.12
ARC_STEP_DEGREES = 4.0

Point = tuple[float, float]

H = STROKE / 2  # a centre line this far inside the box puts the stroke's edge on the box
TOP, BOTTOM = H, 1 - H


@dataclass(frozen=True)
class Stroke:
    """A centre line; ``radii`` rounds its corners (one value, or one per vertex)."""

    points: tuple[Point, ...]
    closed: bool = False
    radii: float | tuple[float, ...] = 0.0


def line(*points: Point, r: float | Sequence[float] = 0.0) -> Stroke:
    return Stroke(tuple(points), False, r if isinstance(r, float | int) else tuple(r))


def ring(*points: Point, r: float | Sequence[float] = 0.0) -> Stroke:
    return Stroke(tuple(points), True, r if isinstance(r, float | int) else tuple(r))


def box_ring(x0: float, y0: float, x1: float, y1: float,
             r: float | Sequence[float] = 0.0) -> Stroke:
    """A rectangle's centre line; per-corner radii go top-left, top-right, bottom-right,
    bottom-left."""
    return ring((x0, y0), (x1, y0), (x1, y1), (x0, y1), r=r)


def at_x(p: Point, q: Point, x: float) -> Point:
    """The point at ``x`` on the line through p and q (to run a stroke off a side)."""
    t = (x - p[0]) / (q[0] - p[0])
    return (x, p[1] + t * (q[1] - p[1]))


def at_y(p: Point, q: Point, y: float) -> Point:
    """The point at height ``y`` on the line through p and q (to run a diagonal off an edge)."""
    t = (y - p[1]) / (q[1] - p[1])
    return (p[0] + t * (q[0] - p[0]), y)


# ---------------------------------------------------------------------------------------
# Skeletons: the whole font. Widths are in glyph heights.


def skeletons() -> dict[str, tuple[float, list[Stroke]]]:
    glyphs: dict[str, tuple[float, list[Stroke]]] = {}

    def glyph(char: str, width: float, *strokes: Stroke) -> None:
        glyphs[char] = (width, list(strokes))

    w = 0.6
    L, R = H, w - H  # left and right centre lines of a standard-width glyph
    mid = 0.49
    bowl = 0.17  # corner radius of digit bowls (centre line); letters use 0.2

    # Digits. The zero is a narrow rounded rectangle; the letter O is wide and oval.
    glyph("0", 0.54, box_ring(L, TOP, 0.54 - H, BOTTOM, r=bowl))
    glyph("1", 0.44,
          line(at_x((0.27, TOP), (0.08, 0.24), -OVER), (0.27, TOP), (0.27, 1 + OVER)),
          line((-OVER, BOTTOM), (0.44 + OVER, BOTTOM)))
    glyph("2", w, line((L, 0.32), (L, TOP), (R, TOP), (R, 0.40), (L, 0.86), (L, BOTTOM),
                       (w + OVER, BOTTOM), r=(0, bowl, bowl, 0.1, 0, 0, 0)))
    glyph("3", w,
          line((L, 0.27), (L, TOP), (R - 0.02, TOP), (R - 0.02, 0.47), (0.22, 0.47),
               r=(0, bowl, bowl, 0.14, 0)),
          line((0.22, 0.47), (R, 0.47), (R, BOTTOM), (L, BOTTOM), (L, 0.73),
               r=(0, 0.14, bowl, bowl, 0)))
    four_x, four_bar = 0.44, 0.68
    glyph("4", 0.62,
          line((0.62 + OVER, four_bar), (L, four_bar), (four_x, 0.0)),
          line((four_x, -OVER), (four_x, 1 + OVER)))
    glyph("5", w, line((w + OVER, TOP), (L, TOP), (L, 0.45), (R, 0.45), (R, BOTTOM),
                       (L, BOTTOM), (-OVER, BOTTOM), r=(0, 0, 0, bowl, bowl, 0, 0)))
    glyph("6", w,
          box_ring(L, 0.42, R, BOTTOM, r=bowl),
          line((R, 0.26), (R, TOP), (L, TOP), (L, 0.65), r=(0, bowl, bowl, 0)))
    glyph("7", w, line((-OVER, TOP), (R, TOP), at_y((R, TOP), (0.2, 1.0), 1 + OVER)))
    glyph("8", w,
          box_ring(L + 0.025, TOP, R - 0.025, 0.47, r=0.15),
          box_ring(L, 0.47, R, BOTTOM, r=bowl))
    glyph("9", w,
          box_ring(L, TOP, R, 0.58, r=bowl),
          line((L, 0.74), (L, BOTTOM), (R, BOTTOM), (R, 0.35), r=(0, bowl, bowl, 0)))

    # Letters.
    a_w = 0.64
    a_left, a_top_l = (0.085, 1.0), (0.26, TOP)
    a_right, a_top_r = (a_w - 0.085, 1.0), (a_w - 0.26, TOP)
    glyph("A", a_w,
          line(at_y(a_top_l, a_left, 1 + OVER), a_top_l, a_top_r,
               at_y(a_top_r, a_right, 1 + OVER)),
          line(at_y(a_top_l, a_left, 0.66), at_y(a_top_r, a_right, 0.66)))
    glyph("B", w,
          box_ring(L, TOP, R - 0.03, 0.48, r=(0, 0.15, 0.15, 0)),
          box_ring(L, 0.48, R, BOTTOM, r=(0, bowl, bowl, 0)))
    glyph("C", w, line((R, 0.28), (R, TOP), (L, TOP), (L, BOTTOM), (R, BOTTOM), (R, 0.72),
                       r=0.2))
    glyph("D", w, box_ring(L, TOP, R, BOTTOM, r=(0, 0.24, 0.24, 0)))
    glyph("E", 0.56,
          line((0.56 + OVER, TOP), (L, TOP), (L, BOTTOM), (0.56 + OVER, BOTTOM)),
          line((L, mid), (0.50, mid)))
    glyph("F", 0.56,
          line((0.56 + OVER, TOP), (L, TOP), (L, 1 + OVER)),
          line((L, 0.48), (0.50, 0.48)))
    glyph("G", w, line((R, 0.28), (R, TOP), (L, TOP), (L, BOTTOM), (R, BOTTOM), (R, 0.54),
                       (0.32, 0.54), r=(0, 0.2, 0.2, 0.2, 0.2, 0, 0)))
    glyph("H", w,
          line((L, -OVER), (L, 1 + OVER)),
          line((R, -OVER), (R, 1 + OVER)),
          line((L, mid), (R, mid)))
    glyph("I", 0.4,
          line((0.2, -OVER), (0.2, 1 + OVER)),
          line((-OVER, TOP), (0.4 + OVER, TOP)),
          line((-OVER, BOTTOM), (0.4 + OVER, BOTTOM)))
    glyph("J", w, line((R, -OVER), (R, BOTTOM), (L, BOTTOM), (L, 0.68), r=(0, bowl, bowl, 0)))
    k_arm_top, k_arm_end = (R + 0.01, 0.0), (L, 0.66)
    k_knee = at_y(k_arm_top, k_arm_end, 0.40)
    glyph("K", w,
          line((L, -OVER), (L, 1 + OVER)),
          line(at_y(k_arm_top, k_arm_end, -OVER), k_arm_end),
          line(k_knee, at_y(k_knee, (R + 0.01, 1.0), 1 + OVER)))
    glyph("L", 0.56, line((L, -OVER), (L, BOTTOM), (0.56 + OVER, BOTTOM)))
    m_w = 0.76
    glyph("M", m_w, line((L, 1 + OVER), (L, TOP), (m_w / 2, 0.62), (m_w - H, TOP),
                         (m_w - H, 1 + OVER)))
    glyph("N", 0.62, line((L, 1 + OVER), (L, TOP), (0.62 - H, BOTTOM), (0.62 - H, -OVER)))
    o_w = 0.70
    glyph("O", o_w, box_ring(L, TOP, o_w - H, BOTTOM, r=0.28))
    glyph("P", w,
          box_ring(L, TOP, R, 0.56, r=(0, 0.18, 0.18, 0)),
          line((L, 0.5), (L, 1 + OVER)))
    glyph("Q", o_w,
          box_ring(L, TOP, o_w - H, BOTTOM, r=0.28),
          line((0.38, 0.62), at_y((0.38, 0.62), (0.60, 1.0), 1 + OVER)))
    glyph("R", w,
          box_ring(L, TOP, R, 0.56, r=(0, 0.18, 0.18, 0)),
          line((L, 0.5), (L, 1 + OVER)),
          line((0.28, 0.56), at_y((0.28, 0.56), (R + 0.02, 1.0), 1 + OVER)))
    glyph("S", w, line((R, 0.26), (R, TOP), (L, TOP), (L, mid), (R, mid), (R, BOTTOM),
                       (L, BOTTOM), (L, 0.74), r=(0, 0.16, 0.16, 0.16, 0.16, 0.16, 0.16, 0)))
    glyph("T", w, line((-OVER, TOP), (w + OVER, TOP)), line((w / 2, TOP), (w / 2, 1 + OVER)))
    glyph("U", w, line((L, -OVER), (L, BOTTOM), (R, BOTTOM), (R, -OVER), r=(0, 0.2, 0.2, 0)))
    v_w = 0.64
    glyph("V", v_w, line(at_y((0.08, 0.0), (v_w / 2, 0.9), -OVER), (v_w / 2, 0.9),
                         at_y((v_w - 0.08, 0.0), (v_w / 2, 0.9), -OVER)))
    w_w = 0.80
    glyph("W", w_w, line((L, -OVER), (L, BOTTOM), (w_w / 2, 0.38), (w_w - H, BOTTOM),
                         (w_w - H, -OVER)))
    x_w = 0.62
    glyph("X", x_w,
          line(at_y((0.08, 0.0), (x_w - 0.08, 1.0), -OVER),
               at_y((0.08, 0.0), (x_w - 0.08, 1.0), 1 + OVER)),
          line(at_y((x_w - 0.08, 0.0), (0.08, 1.0), -OVER),
               at_y((x_w - 0.08, 0.0), (0.08, 1.0), 1 + OVER)))
    y_w, y_fork = 0.62, (0.31, 0.52)
    glyph("Y", y_w,
          line(at_y((0.08, 0.0), y_fork, -OVER), y_fork, at_y((y_w - 0.08, 0.0), y_fork, -OVER)),
          line((0.31, 0.5), (0.31, 1 + OVER)))
    glyph("Z", w, line((-OVER, TOP), (R, TOP), (L, BOTTOM), (w + OVER, BOTTOM)))
    return glyphs


# ---------------------------------------------------------------------------------------
# Building: skeleton -> polygons


def _fillet(prev: np.ndarray, corner: np.ndarray, nxt: np.ndarray, radius: float
            ) -> list[np.ndarray]:
    """The corner replaced by a circular arc of ``radius`` tangent to both segments."""
    a, b = prev - corner, nxt - corner
    la, lb = np.linalg.norm(a), np.linalg.norm(b)
    a, b = a / la, b / lb
    half_angle = math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0))) / 2
    if radius <= 0 or half_angle > math.radians(89.5):
        return [corner]
    tangent = radius / math.tan(half_angle)
    if tangent > min(la, lb) + 1e-9:
        raise ValueError(f"corner {corner.tolist()}: radius {radius} does not fit")
    start, end = corner + a * tangent, corner + b * tangent
    bisector = (a + b) / np.linalg.norm(a + b)
    centre = corner + bisector * radius / math.sin(half_angle)
    angle0 = math.atan2(*(start - centre)[::-1])
    angle1 = math.atan2(*(end - centre)[::-1])
    sweep = (angle1 - angle0 + math.pi) % (2 * math.pi) - math.pi  # the short way round
    steps = max(2, math.ceil(abs(math.degrees(sweep)) / ARC_STEP_DEGREES))
    return [centre + radius * np.array([math.cos(angle0 + sweep * t),
                                        math.sin(angle0 + sweep * t)])
            for t in np.linspace(0.0, 1.0, steps + 1)]


def centre_line(stroke: Stroke) -> LineString:
    """The stroke's centre line with its corners rounded."""
    points = [np.asarray(p, dtype=np.float64) for p in stroke.points]
    n = len(points)
    radii = stroke.radii if isinstance(stroke.radii, tuple) else (float(stroke.radii),) * n
    out: list[np.ndarray] = []
    for i in range(n):
        if not stroke.closed and i in (0, n - 1):
            out.append(points[i])
        else:
            out.extend(_fillet(points[i - 1], points[i], points[(i + 1) % n], radii[i]))
    # Fillets that meet (a bowl whose radius is half its width) would repeat a point, and a
    # zero-length segment gives the mitre join no direction.
    coords = [tuple(p) for i, p in enumerate(out)
              if i == 0 or np.linalg.norm(p - out[i - 1]) > 1e-9]
    if stroke.closed and np.linalg.norm(out[-1] - out[0]) <= 1e-9:
        coords.pop()
    return LinearRing(coords) if stroke.closed else LineString(coords)


def build_glyph(char: str, width: float, strokes: Sequence[Stroke]) -> GlyphTemplate:
    inked = shapely.union_all([
        shapely.buffer(centre_line(stroke), H, cap_style="flat", join_style="mitre",
                       mitre_limit=4.0)
        for stroke in strokes
    ])
    inked = shapely.intersection(inked, shapely.box(0.0, 0.0, width, 1.0))
    inked = shapely.simplify(inked, SIMPLIFY_TOLERANCE, preserve_topology=True)
    parts = sorted(polygonal_parts(inked), key=lambda part: part.bounds)
    return GlyphTemplate(char, width, tuple(_canonical(part) for part in parts))


def _canonical(polygon: Polygon) -> StampPolygon:
    """One fixed orientation and start vertex per ring, so the file does not churn."""
    polygon = orient(polygon, sign=1.0)

    def start_top_left(coords: Sequence[tuple[float, float]]) -> np.ndarray:
        ring_ = np.round(np.asarray(coords)[:-1], 6)
        first = min(range(len(ring_)), key=lambda i: (ring_[i, 1], ring_[i, 0]))
        return np.roll(ring_, -first, axis=0)

    holes = sorted((start_top_left(h.coords) for h in polygon.interiors),
                   key=lambda h: (h[0, 1], h[0, 0]))
    return StampPolygon(start_top_left(polygon.exterior.coords), holes)


def build_glyph_set() -> GlyphSet:
    """The bundled glyph set, made from the skeletons (deterministic)."""
    built = [build_glyph(char, width, strokes)
             for char, (width, strokes) in skeletons().items()]
    return GlyphSet({glyph.char: glyph for glyph in built}, style="block punch",
                    stroke_width=STROKE)


# ---------------------------------------------------------------------------------------
# The contact sheet


def contact_sheet(glyph_set: GlyphSet, height_px: int = 120, columns: int = 9) -> np.ndarray:
    """All glyphs, black on white, in a grid; each cell labelled with its character."""
    cell_w, cell_h, pad = int(0.9 * height_px), height_px + 40, 20
    rows = math.ceil(len(glyph_set) / columns)
    sheet = np.full((rows * cell_h + pad, columns * cell_w + pad, 3), 255, np.uint8)
    for index, glyph in enumerate(glyph_set):
        mask = glyph.mask(height_px)
        y0 = pad + (index // columns) * cell_h + 18
        x0 = pad + (index % columns) * cell_w + (cell_w - pad - mask.shape[1]) // 2
        # The glyph box in light grey shows each character's width.
        cv2.rectangle(sheet, (x0 - 1, y0 - 1), (x0 + mask.shape[1], y0 + mask.shape[0]),
                      (225, 225, 225), 1)
        sheet[y0:y0 + mask.shape[0], x0:x0 + mask.shape[1]][mask > 0] = 0
        holes = sum(len(p.holes) for p in glyph.polygons)
        label = glyph.char + (f"  {holes} hole{'s' if holes > 1 else ''}" if holes else "")
        cv2.putText(sheet, label, (x0, y0 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (40, 40, 200), 1, cv2.LINE_AA)
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="glyph file to write")
    parser.add_argument("--sheet", type=Path, help="also write a contact sheet PNG here")
    args = parser.parse_args(argv)
    glyph_set = build_glyph_set()
    save_glyph_set(glyph_set, args.output)
    print(f"wrote {len(glyph_set)} glyphs to {args.output}")
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(args.sheet), contact_sheet(glyph_set)):
            raise SystemExit(f"could not write {args.sheet}")
        print(f"wrote the contact sheet to {args.sheet}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
