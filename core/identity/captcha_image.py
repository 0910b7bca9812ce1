"""The picture of a button captcha: a shape in a frame, and six numbered shapes to find it among.

``render(options, target)`` draws, with Pillow, on a noisy background: on the left a
frame holding the target shape; on the right six cells numbered 1..6, cell ``i`` holding
``options[i]``. Everything a script could key on is random per picture: colours (one cell, any of the
six with the same chance, shares the frame's colour), sizes (the frame's shape is drawn
at another size), rotation, position inside each cell, line and dot noise.
Only shape tells the right cell, so colour-blind people can solve it too. The numbers are
drawn in the picture; the buttons carry the same numbers in the same order every time.

Pure CPU work (a few ms): callers run it off the event loop (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
import math
import secrets
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 600, 330
SHAPES = ("circle", "ring", "triangle", "square", "star", "cross", "arrow", "heart", "moon")
# Saturated colours that read well on a light background; the numbers are near-black.
PALETTE = (
    (220, 40, 40),
    (235, 120, 20),
    (190, 160, 0),
    (40, 150, 50),
    (0, 140, 150),
    (40, 80, 210),
    (130, 50, 190),
    (215, 50, 140),
    (120, 80, 40),
)
_FRAME = (20, 20, 170, 310)  # left panel: the shape to find
_GRID = (190, 8, 594, 322)  # right panel: 3 x 2 numbered cells
_rng = secrets.SystemRandom()


def _circle(n: int = 40) -> list[tuple[float, float]]:
    return [(math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k in range(n)]


def _regular(n: int) -> list[tuple[float, float]]:
    return [
        (math.cos(2 * math.pi * k / n - math.pi / 2), math.sin(2 * math.pi * k / n - math.pi / 2))
        for k in range(n)
    ]


def _star() -> list[tuple[float, float]]:
    pts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else 0.42
        a = math.pi * k / 5 - math.pi / 2
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


def _heart() -> list[tuple[float, float]]:
    pts = []
    for k in range(40):
        t = 2 * math.pi * k / 40
        x = 16 * math.sin(t) ** 3
        y = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t))
        pts.append((x / 17, (y + 2) / 17))
    return pts


def _moon() -> list[tuple[float, float]]:
    c, r2 = 0.5, 0.85  # the bite: a circle of radius r2 centred at (c, 0)
    x = (1 - r2 * r2 + c * c) / (2 * c)
    t0 = math.atan2(math.sqrt(1 - x * x), x)
    p1 = math.acos((x - c) / r2)
    outer = [(math.cos(t), math.sin(t)) for t in _steps(t0, 2 * math.pi - t0, 28)]
    inner = [(c + r2 * math.cos(p), r2 * math.sin(p)) for p in _steps(2 * math.pi - p1, p1, 20)]
    return outer + inner


def _steps(a: float, b: float, n: int) -> list[float]:
    return [a + (b - a) * k / (n - 1) for k in range(n)]


_OUTLINES = {
    "circle": _circle(),
    "triangle": [(x * 1.1, y * 1.1 + 0.12) for x, y in _regular(3)],
    "square": [(x * 0.95, y * 0.95) for x, y in _regular(4)],
    "star": [(x * 1.1, y * 1.1) for x, y in _star()],
    "cross": [
        (-0.3, -1),
        (0.3, -1),
        (0.3, -0.3),
        (1, -0.3),
        (1, 0.3),
        (0.3, 0.3),
        (0.3, 1),
        (-0.3, 1),
        (-0.3, 0.3),
        (-1, 0.3),
        (-1, -0.3),
        (-0.3, -0.3),
    ],  # fmt: skip
    "arrow": [(-1, -0.3), (0.15, -0.3), (0.15, -0.75), (1, 0), (0.15, 0.75), (0.15, 0.3), (-1, 0.3)],
    "heart": _heart(),
    "moon": _moon(),
}


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def _shape(
    draw: ImageDraw.ImageDraw,
    name: str,
    cx: float,
    cy: float,
    r: float,
    angle: float,
    colour: tuple[int, int, int],
) -> None:
    if name == "ring":
        w = max(6, int(r * 0.38))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=w)
        return
    ca, sa = math.cos(angle), math.sin(angle)
    pts = [(cx + r * (x * ca - y * sa), cy + r * (x * sa + y * ca)) for x, y in _OUTLINES[name]]
    draw.polygon(pts, fill=colour, outline=(30, 30, 30), width=2)


def _noise(img: Image.Image, draw: ImageDraw.ImageDraw) -> None:
    for _ in range(_rng.randint(9, 14)):  # lines across everything, shapes included
        colour = (_rng.randint(60, 200), _rng.randint(60, 200), _rng.randint(60, 200))
        pts = [(_rng.uniform(0, WIDTH), _rng.uniform(0, HEIGHT)) for _ in range(_rng.randint(2, 3))]
        draw.line(pts, fill=colour, width=_rng.randint(1, 3))
    # Coloured speckles on a few percent of the pixels, made from random bytes by Pillow's C code
    # (no Python loop per dot: the GIL is held briefly and the event loop keeps running).
    size = (WIDTH // 2, HEIGHT // 2)
    colours = Image.frombytes("RGB", size, secrets.token_bytes(size[0] * size[1] * 3))
    cut = _rng.randint(246, 250)
    mask = Image.frombytes("L", size, secrets.token_bytes(size[0] * size[1])).point(
        lambda v: 255 if v > cut else 0
    )
    nearest = Image.Resampling.NEAREST
    img.paste(colours.resize(img.size, nearest), mask=mask.resize(img.size, nearest))


def render(options: tuple[str, ...] | list[str], target: str) -> bytes:
    """PNG bytes of one picture. ``options``: the shapes of cells 1..n (n <= 6); ``target``
    is one of them and is drawn again, differently, in the frame."""
    if target not in options or len(options) > 6:
        raise ValueError("target must be one of at most six options")
    bg = tuple(_rng.randint(225, 250) for _ in range(3))
    img = Image.new("RGB", (WIDTH, HEIGHT), bg)
    draw = ImageDraw.Draw(img)
    # A faint tiled tint, so the background is not one colour a script could subtract.
    for _ in range(6):
        x, y = _rng.uniform(-80, WIDTH), _rng.uniform(-80, HEIGHT)
        s = _rng.uniform(60, 160)
        tint = tuple(max(0, c - _rng.randint(6, 22)) for c in bg)
        draw.ellipse((x, y, x + s, y + s), fill=tint)

    # Cells get distinct colours, and exactly one cell shares the frame's colour: any cell, the
    # right one included, with the same chance. So colour says nothing about the answer.
    cell_colours = _rng.sample(PALETTE, len(options))
    frame_colour = cell_colours[_rng.randrange(len(options))]

    x0, y0, x1, y1 = _FRAME
    draw.rounded_rectangle(_FRAME, radius=14, outline=(60, 60, 60), width=4, fill=tuple(c - 8 for c in bg))
    fr = _rng.uniform(44, 58)
    _shape(
        draw,
        target,
        (x0 + x1) / 2 + _rng.uniform(-8, 8),
        (y0 + y1) / 2 + _rng.uniform(-20, 20),
        fr,
        _rng.uniform(0, 2 * math.pi),
        frame_colour,
    )

    gx0, gy0, gx1, gy1 = _GRID
    cw, ch = (gx1 - gx0) / 3, (gy1 - gy0) / 2
    for i, name in enumerate(options):
        cx0, cy0 = gx0 + (i % 3) * cw, gy0 + (i // 3) * ch
        draw.rounded_rectangle(
            (cx0 + 3, cy0 + 3, cx0 + cw - 3, cy0 + ch - 3), radius=10, outline=(150, 150, 150), width=2
        )
        r = _rng.uniform(26, 38)
        while abs(r - fr * 0.7) < 3:  # never the frame's size, scaled
            r = _rng.uniform(26, 38)
        _shape(
            draw,
            name,
            cx0 + cw / 2 + _rng.uniform(-12, 14),
            cy0 + ch / 2 + 10 + _rng.uniform(-10, 12),
            r,
            _rng.uniform(0, 2 * math.pi),
            cell_colours[i],
        )
        draw.text(
            (cx0 + 10 + _rng.uniform(0, 8), cy0 + 6 + _rng.uniform(0, 6)),
            str(i + 1),
            font=_font(_rng.randint(26, 32)),
            fill=(20, 20, 20),
            stroke_width=3,
            stroke_fill=(255, 255, 255),
        )
    _noise(img, draw)
    out = io.BytesIO()
    img.save(out, format="PNG", compress_level=3)
    return out.getvalue()
