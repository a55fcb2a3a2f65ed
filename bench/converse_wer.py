"""How well a spoken test hears, and what it costs: the docs page's spoken example
(docs/pytest-plugin.md, the block that calls `devstack.converse(`), run as it is, N times,
against the voice project's agent (tests/devstack/voice_project/agent.py), on one fixture.

    flock /tmp/devstack-stack.lock env LIVEKIT_RUNTIME=binary \
        .venv/bin/python -m bench.converse_wer --runs 20

Reports the fixture's start-up (server, worker registered, gateway's engines loaded), each
run's time and its spoken turn's time (`call.say()`: the person's speech, the agent's
answer to its last audio frame), the turn's latency, and the word error rate of
`turn.heard` against the sentence said (devstack/word_errors.py: word-level
edit distance over the words said). Writes every run to --out as JSON."""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from devstack.conversation import Call, Turn
from devstack.processes import ROOT
from devstack.testing import Devstack
from devstack.word_errors import word_errors, words

DOCS = ROOT / "docs" / "pytest-plugin.md"
AGENT = ROOT / "tests" / "devstack" / "voice_project" / "agent.py"


def docs_example() -> tuple[str, str]:
    """The spoken example's source and its test function's name."""
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    (source,) = [b for b in blocks if "devstack.converse(" in b]
    name = re.search(r"^def (test_\w+)\(devstack\)", source, re.M)
    assert name is not None, source
    return source, name.group(1)


class Recorder:
    """Wraps Call.say: what each turn was given, what it returned, and how long it took."""

    def __init__(self) -> None:
        self.turns: list[dict[str, Any]] = []
        self._say = Call.say

    def __enter__(self) -> Recorder:
        recorder, original = self, self._say

        def say(call: Call, text_or_wav: str | Path, timeout: float = 30) -> Turn:
            started = time.monotonic()
            turn = original(call, text_or_wav, timeout)
            seconds = time.monotonic() - started
            recorder.turns.append({"said": str(text_or_wav), "seconds": seconds, **asdict(turn)})
            return turn

        Call.say = say  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        Call.say = self._say  # type: ignore[method-assign]


def run(runs: int, out: Path) -> dict[str, Any]:
    source, name = docs_example()
    namespace: dict[str, Any] = {}
    exec(compile(source, str(DOCS), "exec"), namespace)
    test = namespace[name]
    started = time.monotonic()
    stack = Devstack(AGENT)
    results: list[dict[str, Any]] = []
    try:
        stack.start()
        startup = time.monotonic() - started
        assert stack.gateway is not None, "the gateway did not start: install the voice extra"
        print(f"fixture ready (server, worker, gateway): {startup:.1f} s", flush=True)
        for i in range(runs):
            began, failure = time.monotonic(), ""
            with Recorder() as recorder:
                try:
                    test(stack)
                except AssertionError as exc:
                    failure = str(exc)[:500]
            turn = recorder.turns[-1] if recorder.turns else None
            result: dict[str, Any] = {
                "run": i,
                "seconds": round(time.monotonic() - began, 2),
                "passed": not failure,
                "failure": failure,
                "turn": turn,
            }
            if turn is not None:
                result["word_errors"] = word_errors(turn["said"], turn["heard"])
                result["words"] = len(words(turn["said"]))
            results.append(result)
            heard = turn["heard"] if turn else "-"
            print(
                f"run {i}: {result['seconds']:.1f} s, heard {heard!r} {failure[:120]}", flush=True
            )
    finally:
        stack.close()
    summary = summarize(startup, results)
    out.write_text(json.dumps({"summary": summary, "runs": results}, indent=2, default=str))
    return summary


def summarize(startup: float, results: list[dict[str, Any]]) -> dict[str, Any]:
    turns = [r for r in results if r["turn"] is not None]
    errors = sum(r["word_errors"] for r in turns)
    said = sum(r["words"] for r in turns)

    def spread(values: list[float]) -> str:
        if not values:
            return "-"
        values = sorted(values)
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        return f"median {statistics.median(values):.2f} s, p90 {p90:.2f} s (n={len(values)})"

    return {
        "fixture_startup_s": round(startup, 2),
        "runs": len(results),
        "passed": sum(r["passed"] for r in results),
        "run_time": spread([r["seconds"] for r in results]),
        "turn_time": spread([r["turn"]["seconds"] for r in turns]),
        "latency": spread([r["turn"]["latency_s"] for r in turns]),
        "wer": round(errors / said, 4) if said else None,
        "word_errors": f"{errors} of {said} words",
        "exact": sum(r["word_errors"] == 0 for r in turns),
        "heard": sorted({r["turn"]["heard"] for r in turns}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("/tmp/converse_wer.json"))
    args = parser.parse_args()
    os.environ.setdefault("DEVSTACK_ENV_FILE", "")  # never the developer's .env
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = run(args.runs, args.out)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
