"""Bar charts as plain geometry: the templates draw the SVG, so every label goes through escaping."""

__all__ = ["bars", "columns"]

WIDTH = 480
ROW = 22


def bars(items: list, width: int = WIDTH) -> dict:
    """Lay out horizontal bars for [(label, value)]: one row each, longest bar = the chart's width."""
    top = max([v for _label, v in items] + [1])
    label_w, value_w = 230, 50
    span = width - label_w - value_w
    rows = [
        {
            "label": label,
            "value": v,
            "x": label_w,
            "y": i * ROW,
            "w": max(1, v * span // top) if v else 0,
            "text_y": i * ROW + 15,
            "value_x": label_w + (v * span // top if v else 0) + 6,
        }
        for i, (label, v) in enumerate(items)
    ]
    return {"width": width, "height": max(1, len(rows)) * ROW, "rows": rows, "label_w": label_w}


def columns(items: list, width: int = WIDTH, height: int = 120) -> dict:
    """Lay out vertical columns for [(x label, value)] in order (ballots per block, blocks to final)."""
    top = max([v for _label, v in items] + [1])
    n = max(1, len(items))
    step = max(2, min(40, (width - 40) // n))  # one block is a column, not a wall
    plot_h = height - 30
    cols = []
    for i, (label, v) in enumerate(items):
        h = v * plot_h // top
        cols.append(
            {"label": label, "value": v, "x": 30 + i * step, "w": max(1, step - 2), "y": 10 + plot_h - h, "h": h}
        )
    return {
        "width": width,
        "height": height,
        "cols": cols,
        "top": top,
        "base_y": 10 + plot_h,
        "first": items[0][0] if items else "",
        "last": items[-1][0] if items else "",
    }
