"""Schemathesis hooks for the proxy's schema (loaded by the `st run` in test_schema_fuzz.py
through SCHEMATHESIS_HOOKS). They teach the fuzzer the schema's one custom format and keep
one slow request cheap; no check is changed."""

from __future__ import annotations

import json
from typing import Any

import schemathesis
from hypothesis import strategies as st

# `format: json` (metadata given as a string): JSON text, which JSON Schema cannot express.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=5,
)
schemathesis.openapi.format("json", JSON_VALUES.map(json.dumps))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """`probe: true` dispatches into a throw-away room and waits up to 10 s for an agent that
    cannot come here; send those diagnoses without the probe (the doctor's tests run it)."""
    body = case.body
    if (
        case.operation.path == "/api/diagnose"
        and isinstance(body, dict)
        and body.get("probe") is True
    ):
        body["probe"] = False
