"""A loss curve as a PNG, drawn with Pillow (no plotting library needed)."""
import math


def loss_curve(losses, path, title="training loss", size=(640, 400)):
    from PIL import Image, ImageDraw

    width, height = size
    left, right, top, bottom = 70, 20, 40, 50
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    values = [float(v) for v in losses if math.isfinite(float(v))]
    if not values:
        raise ValueError("no finite loss values to plot")
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for i in range(5):  # horizontal grid lines with their values
        y = top + plot_h * i / 4
        draw.line([left, y, width - right, y], fill=(225, 225, 225))
        draw.text((5, y - 6), f"{high - span * i / 4:.3g}", fill="black")
    n = len(values)
    points = [(left + plot_w * (i / max(n - 1, 1)), top + plot_h * (high - v) / span)
              for i, v in enumerate(values)]
    if n > 1:
        draw.line(points, fill=(31, 119, 180), width=2)
    else:
        x, y = points[0]
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(31, 119, 180))
    draw.text((left, 12), title, fill="black")
    draw.text((left + plot_w / 2 - 20, height - bottom + 18), f"step (1..{n})", fill="black")
    image.save(path)
    return path
