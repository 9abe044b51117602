#!/usr/bin/env python3
"""A Python client for the chat-bot API, using `requests` (pip install requests).

    BASE_URL=http://localhost:8000 python3 examples/python/client.py

Signs in (EMAIL/PASSWORD, or registers a fresh account), shows both login styles (JSON and the
OAuth2 form), chats, streams a reply over Server-Sent Events, reads the history, refreshes the
tokens and logs out. Every error body is {"detail": "..."}; this script prints it and exits 1.
"""
import json
import os
import sys
import time

import requests

BASE_URL = os.environ.get("BASE_URL", "http://localhost:8000").rstrip("/")
TIMEOUT = 60


class ApiError(Exception):
    pass


def check(response, *expected):
    """Returns the response when its status is expected, else raises with the server's detail."""
    if response.status_code in expected:
        return response
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = response.text[:200]
    raise ApiError(f"{response.request.method} {response.url} -> {response.status_code}: {detail}")


def call(session, method, path, expected, token=None, **kwargs):
    """One request to the API; returns the response, or raises with the server's detail."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = session.request(method, f"{BASE_URL}{path}", headers=headers, timeout=TIMEOUT, **kwargs)
    return check(response, expected)


def login_json(session, email, password):
    """Login with a JSON body: {"email", "password"}."""
    body = {"email": email, "password": password}
    return call(session, "POST", "/api/auth/login", 200, json=body).json()


def login_form(session, email, password):
    """Login with an OAuth2 password form: username=<email>&password=... (what OAuth2 tools send)."""
    form = {"username": email, "password": password, "grant_type": "password"}
    return call(session, "POST", "/api/auth/login", 200, data=form).json()


def stream_chat(session, token, message, session_id=None):
    """POST /api/chat/stream and yield (event, data) pairs as they arrive (Server-Sent Events)."""
    body = {"message": message}
    if session_id:
        body["session_id"] = session_id
    with session.post(
        f"{BASE_URL}/api/chat/stream",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
        stream=True,
        timeout=TIMEOUT,
    ) as r:
        check(r, 200)
        event, data = "message", []
        for line in r.iter_lines(decode_unicode=True):
            if line is None:
                continue
            if line == "":  # a blank line ends one event
                if data:
                    yield event, json.loads("\n".join(data))
                event, data = "message", []
            elif line.startswith(":"):  # comment heartbeat
                continue
            else:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event = value
                elif field == "data":
                    data.append(value)


def main():
    http = requests.Session()
    email = os.environ.get("EMAIL") or f"python-{int(time.time() * 1000)}@example.com"
    password = os.environ.get("PASSWORD") or "a long example passphrase"

    if not os.environ.get("EMAIL"):
        body = {"email": email, "password": password}
        user = call(http, "POST", "/api/auth/register", 201, json=body).json()
        print(f"registered {user['email']} (id {user['id']})")

    tokens = login_form(http, email, password)
    print(f"logged in with the form: token_type={tokens['token_type']}, expires_in={tokens['expires_in']}s")
    tokens = login_json(http, email, password)
    print("logged in with JSON")
    token = tokens["access_token"]

    me = call(http, "GET", "/api/users/me", 200, token).json()
    print(f"me: {me['email']} active={me['is_active']}")

    models = call(http, "GET", "/api/models", 200, token).json()["items"]
    default = next(m["id"] for m in models if m["default"])
    print(f"models: {', '.join(m['id'] for m in models)} (default {default})")

    chat = call(http, "POST", "/api/chat", 200, token, json={"message": "Hello from Python!"}).json()
    session_id = chat["session_id"]
    print(f"reply: {chat['reply']}")
    print(f"usage: {chat['usage']['tokens']} tokens, model {chat['model']}")

    print("streaming: ", end="", flush=True)
    deltas, done = 0, None
    for event, data in stream_chat(http, token, "Now stream it, please.", session_id):
        if event == "start":
            assert data["session_id"] == session_id
        elif event == "delta":
            deltas += 1
            print(data["text"], end="", flush=True)
        elif event == "done":
            done = data
        elif event == "error":
            raise ApiError(f"stream error {data['status']}: {data['detail']}")
    print()
    if done is None:
        raise ApiError("the stream ended without a done event")
    print(f"stream done: {deltas} deltas, finish_reason={done['finish_reason']}")

    history = call(http, "GET", "/api/history", 200, token, params={"page": 1, "per_page": 20}).json()
    print(f"history: {history['total']} session(s)")
    detail = call(http, "GET", f"/api/history/{session_id}", 200, token).json()
    print(f"session {session_id}: {len(detail['messages'])} messages")
    for message in detail["messages"]:
        print(f"  [{message['role']}/{message['status']}] {message['content'][:60]}")

    export = call(http, "GET", f"/api/history/{session_id}/export", 200, token, params={"format": "markdown"})
    print(f"markdown export: {len(export.text)} characters")

    refresh = {"refresh_token": tokens["refresh_token"]}
    tokens = call(http, "POST", "/api/auth/refresh", 200, json=refresh).json()
    print("refreshed the tokens")

    refresh = {"refresh_token": tokens["refresh_token"]}
    call(http, "POST", "/api/auth/logout", 204, tokens["access_token"], json=refresh)
    call(http, "POST", "/api/auth/refresh", 401, json=refresh)
    print("logged out (the refresh token no longer works)")
    print("OK")


if __name__ == "__main__":
    try:
        main()
    except (ApiError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
