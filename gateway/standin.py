"""The stand-in model: no language model at all. It answers deterministically by reflecting
what it heard, and says once per conversation what it is, so that a conversation, its
transcript, its turns and their latencies are real while nobody mistakes it for a model.
DEVSTACK_LLM_URL swaps in a real one (gateway/llm.py)."""

from __future__ import annotations

from typing import Any

MODEL = "devstack/stand-in"
INTRODUCTION = (
    "I'm the devstack's offline stand-in model, not a language model: I repeat what I hear."
)
GREETING = f"Hello! {INTRODUCTION} Say something and I'll say it back."


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def reply(messages: list[dict[str, Any]]) -> str:
    """The answer to a chat: the person's last words reflected, with the introduction the
    first time (when no earlier answer of the conversation carried it)."""
    introduced = any(
        m.get("role") == "assistant" and INTRODUCTION in _text(m.get("content")) for m in messages
    )
    heard = ""
    for message in reversed(messages):
        role = message.get("role")
        if role == "assistant":
            break  # nothing said since the last answer: asked to speak first (a greeting)
        if role == "user" and (heard := _text(message.get("content")).strip()):
            break
    if not heard:
        return "Hello again! Say something and I'll say it back." if introduced else GREETING
    said = f"You said: {heard.rstrip('.!?')}."
    return said if introduced else f"{INTRODUCTION} {said}"


def tokens(text: str) -> int:
    """A token count for usage: about four characters a token, as OpenAI's English text."""
    return max(1, round(len(text) / 4)) if text else 0


def prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(tokens(_text(m.get("content"))) + 4 for m in messages if isinstance(m, dict))
