"""Any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp's server, Ollama, ...).

Structured output goes through a forced function call: llama.cpp's server rejects `json_schema`
response formats but turns a forced tool into a grammar, and hosted APIs support it everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from convrec.agent.llm import LLMError, LLMOutputError, LLMUnavailable, Message, T, parse_structured

_RETRIES = 2


class OpenAICompatibleLLM:
    def __init__(self, *, base_url: str | None, api_key: str | None, model: str, timeout: float = 30.0,
                 client=None) -> None:
        import openai

        self.name = model
        self.base_url = base_url
        self._errors = (openai.APIConnectionError, openai.APITimeoutError, openai.APIStatusError)
        self._down = (openai.APIConnectionError, openai.APITimeoutError)  # APITimeoutError is a connection error
        self._client = client or openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed",
                                               timeout=timeout, max_retries=_RETRIES)

    def _failure(self, error: Exception) -> LLMError:
        """An unreachable endpoint is `LLMUnavailable`: the turn stops asking it rather than wait out each timeout."""
        kind = LLMUnavailable if isinstance(error, self._down) else LLMError
        return kind(f"the LLM endpoint failed: {type(error).__name__}: {error}",
                    where=self.base_url or "api.openai.com",
                    fix="check CONVREC_OPENAI_BASE_URL / CONVREC_OPENAI_API_KEY, or use --llm none")

    def stream_chat(self, messages: list[Message], *, max_tokens: int, temperature: float = 0.3,
                    stop: list[str] | None = None) -> Iterator[str]:
        try:
            stream = self._client.chat.completions.create(model=self.name, messages=messages, stream=True,
                                                          max_tokens=max_tokens, temperature=temperature,
                                                          stop=stop)
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except self._errors as error:
            raise self._failure(error) from error

    def structured(self, messages: list[Message], schema: type[T], *, max_tokens: int) -> T:
        tool = {"type": "function", "function": {"name": schema.__name__, "parameters": schema.model_json_schema(),
                                                 "description": "Record what the user's message says."}}
        try:
            reply = self._client.chat.completions.create(
                model=self.name, messages=messages, max_tokens=max_tokens, temperature=0.0, tools=[tool],
                tool_choice={"type": "function", "function": {"name": schema.__name__}})
        except self._errors as error:
            raise self._failure(error) from error
        message = reply.choices[0].message
        if message.tool_calls:
            return parse_structured(message.tool_calls[0].function.arguments, schema)
        # Some servers answer a forced tool call as JSON in the content instead.
        try:
            payload = json.loads(message.content or "")
        except json.JSONDecodeError as error:
            raise LLMOutputError("the endpoint did not return the structured answer", where=self.name,
                                 fix="use a model with tool calling, or --llm none") from error
        if isinstance(payload, dict) and isinstance(payload.get("arguments"), dict):
            payload = payload["arguments"]
        return parse_structured(json.dumps(payload), schema)
