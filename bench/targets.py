"""What `make bench` is judged against (issue 13): the targets table's verdicts
(bench/verdicts.py, bench/turns_report.py) and the plot's lines read these."""

TARGETS = {
    "sequential_p50_ms": 300,
    "sequential_p95_ms": 600,
    "burst_20_p95_ms": 2000,
    "burst_50_p95_ms": 5000,
    "rss_20_mb": 1536,
    "registered_s": 10,
    # Issue 31: the proxy and the worker each, the debug page open, nobody speaking.
    "idle_cpu_percent": 1.0,
}
# Issue 32's goals for the conversation phase (bench/turns_report.py judges them).
TURN_GOALS = {"ratio": 1.3, "at_once": 4, "rss_mb": 700.0, "ready_s": 10.0}
