"""How far a transcript is from what was said, in words: the spoken tests' measure of what
an agent's STT heard (tests/, bench/converse_wer.py)."""

from __future__ import annotations

import re


def words(text: str) -> list[str]:
    """A transcript's words, case and punctuation aside."""
    return re.findall(r"[a-z0-9']+", text.lower())


def word_errors(expected: str, heard: str) -> int:
    """Word-level edit distance between what was said and what was heard."""
    a, b = words(expected), words(heard)
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != other))
    return row[-1]
