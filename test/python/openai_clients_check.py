"""Drives this server's /v1 surface with clients nobody here wrote: the official `openai` Python
SDK and LangChain's `ChatOpenAI`. Asserts with their own types and exception classes; prints one
line per check and exits non-zero on the first failure.

Environment: BASE_URL (the server), API_KEY (a key with chat + models), MODELS_ONLY_KEY (a key
with models only), QUOTA_KEY (a key of a user whose chat quota is QUOTA_PER_MINUTE per minute).
"""

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
