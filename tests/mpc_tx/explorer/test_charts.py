"""The explorer's SVG chart geometry."""

from mpc_tx.explorer import charts


def test_chart_geometry():
    c = charts.bars([("a", 0), ("b", 4), ("c", 2)])
    widths = [r["w"] for r in c["rows"]]
    assert widths[0] == 0 and widths[1] == 2 * widths[2] and c["height"] == 3 * charts.ROW
    cols = charts.columns([(5, 1), (6, 3)])["cols"]
    assert cols[1]["h"] == 3 * cols[0]["h"] and cols[0]["y"] > cols[1]["y"]
