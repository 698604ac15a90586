"""The reliability table (Markdown) and the JSON summary."""

__all__ = ["COLUMNS", "summarise", "table"]

COLUMNS = [
    "scenario",
    "runs",
    "failures",
    "ballots submitted",
    "ballots committed",
    "ballots lost",
    "app-hash divergences",
    "outcome correct",
]


def summarise(variants, runs: list, meta: dict) -> dict:
    """Return the JSON summary: one entry per scenario variant, and the totals."""
    scenarios = []
    for v in sorted(variants, key=lambda v: v.scenario):  # stable: the order within a scenario stays
        mine = [r for r in runs if r["variant"] == v.name]
        scenarios.append(
            {
                "scenario": v.scenario,
                "name": v.name,
                "runs": len(mine),
                "failures": sum(not r["ok"] for r in mine),
                "submitted": sum(r["ballots"]["submitted"] for r in mine),
                "committed": sum(r["ballots"]["committed"] for r in mine),
                "lost": sum(_lost(r) for r in mine),
                "divergences": sum(r["divergences"] for r in mine),
                "outcomes_correct": sum(r["outcome_correct"] for r in mine),
                "wrong_outcomes": sum(not o["correct"] for r in mine for o in r["outcomes"]),
                "runs_without_outcome": sum(not r["outcomes"] for r in mine),
                "crashes": sum(len(r["crashes"]) for r in mine),
                "faults": [dict(f, run=r["run"]) for r in mine for f in r["faults"]],
                "run_records": mine,
            }
        )
    return {
        **meta,
        "ok": all(s["failures"] == 0 and s["runs"] > 0 for s in scenarios),
        "scenarios": scenarios,
        "lost": sum(s["lost"] for s in scenarios),
        "divergences": sum(s["divergences"] for s in scenarios),
        # Polls whose outcome (or named failure) differs from the one computed in the clear;
        # a run that ended before any outcome is a failure, not a wrong outcome.
        "wrong_outcomes": sum(s["wrong_outcomes"] for s in scenarios),
        "crashes": sum(s["crashes"] for s in scenarios),
    }


def _lost(run: dict) -> int:
    # Lost: committed but missing from a node's state, or acknowledged and never committed though resent.
    return run["ballots"]["lost"] + run["ballots"]["never_committed"]


def table(summary: dict) -> str:
    rows = [
        [
            f"{s['scenario']}. {s['name']}",
            s["runs"],
            s["failures"],
            s["submitted"],
            s["committed"],
            s["lost"],
            s["divergences"],
            f"{s['outcomes_correct']}/{s['runs']}",
        ]
        for s in summary["scenarios"]
    ]
    cells = [COLUMNS] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(COLUMNS))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))) + " |"

    sep = "|" + "|".join(("-" * (w + 2)) if k == 0 else ("-" * (w + 1) + ":") for k, w in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])
