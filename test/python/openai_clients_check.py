"""Drives this server's /v1 surface with clients nobody here wrote: the official `openai` Python
SDK and LangChain's `ChatOpenAI`. Asserts with their own types and exception classes; prints one
line per check and exits non-zero on the first failure.

Environment: BASE_URL (the server), API_KEY (a key with chat + models), MODELS_ONLY_KEY (a key
with models only), QUOTA_KEY (a key of a user whose chat quota is QUOTA_PER_MINUTE per minute),
TOOLS_KEY (a chat key of another user) and TOOL_MODEL (a model served by the provider simulator,
which answers `[[tool:NAME {args}]]` markers with tool calls and tool results with
`Tool results: NAME=CONTENT`).
"""

import json
import os

import openai
from langchain_openai import ChatOpenAI

BASE = os.environ["BASE_URL"].rstrip("/") + "/v1"
MODEL = "local/echo"


def client(key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=BASE, max_retries=0, timeout=20)


def check(name: str) -> None:
    print(f"ok {name}", flush=True)


def expect_error(cls: type, call) -> Exception:
    try:
        call()
    except cls as error:  # noqa: PERF203 - one call per check
        return error
    raise AssertionError(f"expected {cls.__name__}")


sdk = client(os.environ["API_KEY"])

models = sdk.models.list()
assert MODEL in [m.id for m in models.data], models
check("models.list")

completion = sdk.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Hello from Python"}],
    max_completion_tokens=200,
)
assert completion.object == "chat.completion"
assert "Hello from Python" in completion.choices[0].message.content
assert completion.choices[0].finish_reason == "stop"
assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
check("chat.completions.create")

text, usage = "", None
for chunk in sdk.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Stream from Python"}],
    stream=True,
    stream_options={"include_usage": True},
):
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
    if chunk.usage:
        usage = chunk.usage
assert "Stream from Python" in text, text
assert usage is not None and usage.completion_tokens > 0
check("stream with usage")

error = expect_error(openai.AuthenticationError, lambda: client("sk-cb-" + "Z" * 43).models.list())
assert error.status_code == 401 and error.code == "invalid_api_key"
check("AuthenticationError")

expect_error(
    openai.PermissionDeniedError,
    lambda: client(os.environ["MODELS_ONLY_KEY"]).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    ),
)
check("PermissionDeniedError")

error = expect_error(
    openai.NotFoundError,
    lambda: sdk.chat.completions.create(model="nope/x", messages=[{"role": "user", "content": "hi"}]),
)
assert error.code == "model_not_found"
check("NotFoundError")

error = expect_error(
    openai.BadRequestError,
    lambda: sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], n=2),
)
assert "n must be 1" in error.message
check("BadRequestError")

quota = client(os.environ["QUOTA_KEY"])
for _ in range(int(os.environ["QUOTA_PER_MINUTE"])):
    quota.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "q"}])
error = expect_error(
    openai.RateLimitError,
    lambda: quota.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "q"}]),
)
assert int(error.response.headers["retry-after"]) > 0
check("RateLimitError")

llm = ChatOpenAI(model=MODEL, api_key=os.environ["API_KEY"], base_url=BASE, max_retries=0, temperature=0.3)
reply = llm.invoke("Hello LangChain")
assert "Hello LangChain" in reply.content, reply
check("langchain invoke")

streamed = "".join(chunk.content for chunk in llm.stream("Stream LangChain"))
assert "Stream LangChain" in streamed, streamed
check("langchain stream")

TOOL_MODEL = os.environ["TOOL_MODEL"]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }
]
ASK = 'Weather in Paris? [[tool:get_weather {"city": "Paris"}]]'
tools_sdk = client(os.environ["TOOLS_KEY"])

messages = [{"role": "user", "content": ASK}]
first = tools_sdk.chat.completions.create(model=TOOL_MODEL, messages=messages, tools=TOOLS, tool_choice="auto")
choice = first.choices[0]
assert choice.finish_reason == "tool_calls", choice
assert choice.message.content is None, choice.message
call = choice.message.tool_calls[0]
assert call.type == "function" and call.function.name == "get_weather", call
assert json.loads(call.function.arguments) == {"city": "Paris"}, call
messages += [choice.message, {"role": "tool", "tool_call_id": call.id, "content": "sunny"}]
second = tools_sdk.chat.completions.create(model=TOOL_MODEL, messages=messages, tools=TOOLS)
assert second.choices[0].finish_reason == "stop", second
assert second.choices[0].message.content == "Tool results: get_weather=sunny", second
check("tool call round trip")

with tools_sdk.chat.completions.stream(
    model=TOOL_MODEL, messages=[{"role": "user", "content": ASK}], tools=TOOLS
) as stream:
    done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
    final = stream.get_final_completion()
assert [(event.name, event.parsed_arguments) for event in done] == [("get_weather", {"city": "Paris"})], done
streamed_call = final.choices[0].message.tool_calls[0]
assert final.choices[0].finish_reason == "tool_calls", final
assert streamed_call.function.parsed_arguments == {"city": "Paris"}, streamed_call
with tools_sdk.chat.completions.stream(
    model=TOOL_MODEL,
    tools=TOOLS,
    messages=[
        {"role": "user", "content": ASK},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": streamed_call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": streamed_call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": streamed_call.id, "content": "rain"},
    ],
) as stream:
    continued = stream.get_final_completion()
assert continued.choices[0].message.content == "Tool results: get_weather=rain", continued
check("tool call stream")

tool_llm = ChatOpenAI(model=TOOL_MODEL, api_key=os.environ["TOOLS_KEY"], base_url=BASE, max_retries=0)
called = tool_llm.bind_tools(TOOLS).invoke(ASK)
assert [(c["name"], c["args"]) for c in called.tool_calls] == [("get_weather", {"city": "Paris"})], called
check("langchain tool call")
