"""The OpenAI-compatible backend against a scripted HTTP transport: structured output through a forced tool,
JSON-in-content fallbacks, streaming, and a dead endpoint as a clear LLMError."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from pydantic import BaseModel

from convrec.agent.llm import LLMError, LLMOutputError
from convrec.agent.openai_backend import OpenAICompatibleLLM


class Answer(BaseModel):
    liked: list[str]


def backend(handler) -> tuple[OpenAICompatibleLLM, list[dict]]:
    seen: list[dict] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return handler(request)

    client = openai.OpenAI(base_url="http://llm.test/v1", api_key="k", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(record)))
    return OpenAICompatibleLLM(base_url="http://llm.test/v1", api_key="k", model="m", client=client), seen


def completion(message: dict) -> httpx.Response:
    return httpx.Response(200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                     "choices": [{"index": 0, "finish_reason": "stop", "message": message}]})


def test_structured_output_uses_a_forced_tool():
    call = {"id": "c1", "type": "function", "function": {"name": "Answer", "arguments": '{"liked": ["Heat"]}'}}
    llm, seen = backend(lambda r: completion({"role": "assistant", "content": None, "tool_calls": [call]}))
    assert llm.structured([{"role": "user", "content": "I loved Heat"}], Answer, max_tokens=50) == Answer(liked=["Heat"])
    assert seen[0]["tool_choice"] == {"type": "function", "function": {"name": "Answer"}}


@pytest.mark.parametrize("content", ['{"liked": ["Heat"]}', '{"name": "Answer", "arguments": {"liked": ["Heat"]}}'])
def test_json_in_content_is_accepted(content):
    llm, _ = backend(lambda r: completion({"role": "assistant", "content": content}))
    assert llm.structured([{"role": "user", "content": "x"}], Answer, max_tokens=50).liked == ["Heat"]


@pytest.mark.parametrize("content", ["Sure! You liked Heat.", '{"liked": "Heat"}'])
def test_unusable_answers_are_output_errors(content):
    llm, _ = backend(lambda r: completion({"role": "assistant", "content": content}))
    with pytest.raises(LLMOutputError):
        llm.structured([{"role": "user", "content": "x"}], Answer, max_tokens=50)


def test_streaming_yields_the_pieces():
    chunks = [{"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "m",
               "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in ("Hel", "lo")]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    llm, _ = backend(lambda r: httpx.Response(200, text=body, headers={"content-type": "text/event-stream"}))
    assert "".join(llm.stream_chat([{"role": "user", "content": "hi"}], max_tokens=5)) == "Hello"


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow")])
def test_dead_endpoint_is_a_clear_error(failure):
    def fail(request):
        raise failure

    llm, _ = backend(fail)
    with pytest.raises(LLMError) as caught:
        llm.structured([{"role": "user", "content": "x"}], Answer, max_tokens=50)
    assert "http://llm.test/v1" in caught.value.render() and "--llm none" in caught.value.render()
    with pytest.raises(LLMError):
        list(llm.stream_chat([{"role": "user", "content": "x"}], max_tokens=5))


def test_server_error_status_is_a_clear_error():
    llm, _ = backend(lambda r: httpx.Response(500, json={"error": {"message": "boom"}}))
    with pytest.raises(LLMError, match="endpoint failed"):
        llm.structured([{"role": "user", "content": "x"}], Answer, max_tokens=50)
