"""bench.png: latency per dispatch mode (the stack beside the baseline), and latency
against the number of rooms at once, with lost joins marked."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.targets import TARGETS


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    ours, base = result["stack"], result.get("baseline")
    series = {f"stack {m}": s["latencies_ms"] for m, s in ours["sequential"].items()}
    if base:
        series["baseline explicit"] = base["sequential"]["explicit"]["latencies_ms"]
    if result.get("announce"):
        series["baseline + attribute"] = result["announce"]["latencies_ms"]
    left.boxplot(
        [v or [math.nan] for v in series.values()], tick_labels=list(series), showfliers=True
    )
    left.tick_params(axis="x", labelsize=7, rotation=15)
    # The floor of one room measured in this run (bench/sdk_floor.py), else the 200 ms alone.
    one = next((f["p50_ms"] for f in result.get("floor") or [] if f["rooms"] == 1), None)
    one = one or result["floor_ms"]
    left.axhline(one, color="grey", ls=":", lw=1, label=f"floor p50 ({one:.0f} ms)")
    left.axhline(TARGETS["sequential_p50_ms"], color="tab:green", ls="--", lw=1, label="p50 target")
    left.set_yscale("log")
    left.set_title("One room at a time")
    left.set_ylabel("ms until the client sees the agent")
    left.legend(loc="upper left", fontsize=8)
    for name, runs, color in (
        ("stack", ours["concurrent"], "tab:blue"),
        ("baseline", (base or {}).get("concurrent", []), "tab:red"),
    ):
        if not runs:
            continue
        xs = [c["concurrency"] for c in runs]
        for key, style in (("p50_ms", "-"), ("p95_ms", "--")):
            right.plot(
                xs,
                [c["summary"][key] or math.nan for c in runs],
                style,
                marker="o",
                color=color,
                label=f"{name} {key[:3]}",
            )
        for c in runs:
            s = c["summary"]
            if s["lost"]:
                right.annotate(
                    f"{s['lost']} lost",
                    (c["concurrency"], s["p95_ms"] or 1000),
                    textcoords="offset points",
                    xytext=(0, 8),
                    ha="center",
                    fontsize=8,
                    color="tab:red",
                )
    right.axhline(
        TARGETS["burst_20_p95_ms"], color="tab:orange", ls=":", lw=1, label="20 at once: p95 target"
    )
    right.axhline(
        TARGETS["burst_50_p95_ms"], color="tab:purple", ls=":", lw=1, label="50 at once: p95 target"
    )
    right.set_yscale("log")
    right.set_title("Rooms dispatched at once (explicit)")
    right.set_xlabel("rooms at once")
    right.set_ylabel("ms")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
