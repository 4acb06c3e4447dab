"""A loss curve as a PNG (drawn with Pillow) or an SVG (written as text): no plotting
library needed."""
import math
from xml.sax.saxutils import escape

_BLUE, _GRID = (31, 119, 180), (225, 225, 225)


def loss_curve(losses, path, title="training loss", size=(640, 400)):
    """Plot `losses` into `path`; the extension (.png or .svg) chooses the format."""
    values = [float(v) for v in losses if math.isfinite(float(v))]
    if not values:
        raise ValueError("no finite loss values to plot")
    layout = _layout(values, size)
    if str(path).lower().endswith(".svg"):
        _write_svg(layout, title, size, path)
    else:
        _write_png(layout, title, size, path)
    return path


def _layout(values, size):
    """The frame, the grid lines with their labels, and the curve's points, in pixels."""
    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(values)
    return {
        "frame": (left, top, width - right, height - bottom),
        "grid": [(top + plot_h * i / 4, f"{high - span * i / 4:.3g}") for i in range(5)],
        "points": [(left + plot_w * (i / max(n - 1, 1)), top + plot_h * (high - v) / span)
                   for i, v in enumerate(values)],
        "xlabel": ((left + plot_w / 2 - 20, height - bottom + 18), f"step (1..{n})"),
    }


def _write_png(layout, title, size, path):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = layout["frame"]
    draw.rectangle(layout["frame"], outline="black")
    for y, label in layout["grid"]:
        draw.line([x0, y, x1, y], fill=_GRID)
        draw.text((5, y - 6), label, fill="black")
    points = layout["points"]
    if len(points) > 1:
        draw.line(points, fill=_BLUE, width=2)
    else:
        x, y = points[0]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=_BLUE)
    draw.text((x0, 12), title, fill="black")
    draw.text(*layout["xlabel"], fill="black")
    image.save(path)


def _write_svg(layout, title, size, path):
    width, height = size
    x0, y0, x1, y1 = layout["frame"]
    blue = "rgb({},{},{})".format(*_BLUE)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for y, label in layout["grid"]:
        parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x1}" y2="{y:.1f}" '
                     f'stroke="rgb({_GRID[0]},{_GRID[1]},{_GRID[2]})"/>')
        parts.append(f'<text x="5" y="{y + 4:.1f}">{escape(label)}</text>')
    parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
                 f'fill="none" stroke="black"/>')
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in layout["points"])
    parts.append(f'<polyline points="{points}" fill="none" stroke="{blue}" stroke-width="2"/>'
                 if len(layout["points"]) > 1 else
                 f'<circle cx="{layout["points"][0][0]:.1f}" cy="{layout["points"][0][1]:.1f}" '
                 f'r="3" fill="{blue}"/>')
    (lx, ly), xlabel = layout["xlabel"]
    parts.append(f'<text x="{x0}" y="24" font-size="13">{escape(title)}</text>')
    parts.append(f'<text x="{lx:.1f}" y="{ly + 10:.1f}">{escape(xlabel)}</text>')
    parts.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(parts))
