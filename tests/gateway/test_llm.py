"""The gateway's LLM as livekit-agents' own `inference.LLM` uses it: streamed chat with
usage, the prewarm's /models, the stand-in's honesty, and forwarding to an OpenAI-compatible
server (a test-local one that records what it receives)."""

from __future__ import annotations

import pytest
from livekit.agents import APIError, inference, llm

from devstack.local_server import LiveKitServer
from devstack.processes import Gateway
from tests.support.openai_recorder import Recorder, openai_recorder

pytestmark = pytest.mark.integration


def model(
    server: LiveKitServer, url: str, name: str = "openai/gpt-5-mini", **kw: object
) -> inference.LLM:
    return inference.LLM(
        model=name, base_url=url, api_key=server.api_key, api_secret=server.api_secret, **kw
    )


async def answer(
    lm: inference.LLM, *turns: tuple[str, str]
) -> tuple[str, llm.CompletionUsage | None]:
    """The streamed answer to a chat of (role, text) turns, and the usage it reported."""
    ctx = llm.ChatContext.empty()
    for role, text in turns:
        ctx.add_message(role=role, content=text)  # type: ignore[arg-type]
    text, usage = "", None
    async with lm.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
            if chunk.usage is not None:
                usage = chunk.usage
    return text, usage


async def test_the_stand_in_answers_a_streamed_chat_with_usage(
    livekit_server: LiveKitServer, gateway: Gateway
) -> None:
    """inference.LLM streams the stand-in's answer, which reflects the person and says what
    it is, with token usage."""
    lm = model(livekit_server, gateway.url)
    try:
        text, usage = await answer(lm, ("user", "What is the weather like in Paris?"))
    finally:
        await lm.aclose()
    assert "stand-in model, not a language model" in text
    assert text.endswith("You said: What is the weather like in Paris.")
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0


async def test_the_stand_in_says_what_it_is_once(
    livekit_server: LiveKitServer, gateway: Gateway
) -> None:
    """After its first answer, the stand-in only reflects; asked to speak first, it greets."""
    lm = model(livekit_server, gateway.url)
    try:
        first, _ = await answer(lm, ("user", "hello"))
        second, _ = await answer(lm, ("user", "hello"), ("assistant", first), ("user", "again"))
        greeting, _ = await answer(lm, ("system", "Greet the user."))
    finally:
        await lm.aclose()
    assert second == "You said: again."
    assert greeting.startswith("Hello!") and "stand-in" in greeting


async def test_the_prewarm_lists_models(livekit_server: LiveKitServer, gateway: Gateway) -> None:
    """livekit-agents prewarms inference.LLM with GET /models: it succeeds."""
    lm = model(livekit_server, gateway.url)
    try:
        listed = await lm._client.models.list()
    finally:
        await lm.aclose()
    assert [m.id for m in listed.data] == ["devstack/stand-in"]


@pytest.fixture(scope="module")
def forwarded(livekit_server: LiveKitServer) -> object:
    with openai_recorder() as recorder:
        gw = Gateway(
            livekit_server, DEVSTACK_LLM_URL=recorder.url, DEVSTACK_LLM_API_KEY="sk-test-forward"
        )
        try:
            gw.wait_ready(timeout=120)
            yield gw, recorder
        finally:
            gw.stop()


async def test_forwarding_maps_the_model_and_drops_openai_only_options(
    livekit_server: LiveKitServer, forwarded: tuple[Gateway, Recorder]
) -> None:
    """A forwarded chat reaches the upstream as its model name, with its key and without
    OpenAI-only options; its stream comes back to livekit-agents."""
    gw, recorder = forwarded
    recorder.status = 200
    lm = model(
        livekit_server,
        gw.url,
        "openai/gpt-4.1-mini",  # a gpt-5 takes no temperature: livekit-agents drops it
        extra_kwargs={"service_tier": "flex", "temperature": 0.2},
    )
    try:
        text, usage = await answer(lm, ("user", "What is six times seven?"))
    finally:
        await lm.aclose()
    assert text == "Forty-two."
    assert usage is not None and usage.total_tokens == 10
    sent = recorder.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "gpt-4.1-mini"
    assert sent["body"]["temperature"] == 0.2 and "service_tier" not in sent["body"]
    assert sent["headers"]["Authorization"] == "Bearer sk-test-forward"
    assert "sk-test-forward" not in gw.output


@pytest.mark.parametrize(("status", "tries"), [(401, 1), (429, 4), (503, 4)])
async def test_an_upstream_refusal_keeps_its_status(
    livekit_server: LiveKitServer, forwarded: tuple[Gateway, Recorder], status: int, tries: int
) -> None:
    """livekit-agents does not retry an upstream 401 and retries 429 and 5xx (three times
    more); the error it logs names the upstream host and its status."""
    gw, recorder = forwarded
    recorder.status = status
    before = len(recorder.requests)
    lm = model(livekit_server, gw.url)
    try:
        with pytest.raises(APIError) as raised:
            await answer(lm, ("user", "hello"))
    finally:
        recorder.status = 200
        await lm.aclose()
    assert len(recorder.requests) - before == tries
    assert f"the upstream LLM at 127.0.0.1 answered {status}" in str(raised.value)
