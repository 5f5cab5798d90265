"""A tiny OpenAI-compatible chat server on 127.0.0.1 for tests with the real aider CLI.

Only ``POST /v1/chat/completions`` (non-streaming) is served; any other route gets 404. The
server records every request body and answers from a script: a callable that turns the
request into ``(status, body)``. Helpers build the usual answers (a SEARCH/REPLACE edit, plain
text, an HTTP error, bytes that are not JSON).

Usage, inside a test's nursery::

    llm = FakeLLM(respond=FakeLLM.edit_reply("a.py", "x = 1", "x = 2"))
    await nursery.start(llm.serve)
    ... llm.base_url ...  # http://127.0.0.1:<port>/v1
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import attrs
import trio

__all__ = ["MODEL", "FakeLLM", "Responder", "model_metadata"]

MODEL = "openai/fake-coder"
"""The model name tests give aider (``--model``); the ``openai/`` prefix selects the API."""

Responder = Callable[[dict[str, Any]], tuple[int, bytes]]
"""Turn a decoded request body into ``(status, response body)``."""

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_MAX_HEAD = 64 * 1024


def model_metadata(
    model: str = MODEL, *, input_cost: float = 1e-6, output_cost: float = 2e-6
) -> dict[str, Any]:
    """Return a litellm model-metadata document describing ``model`` (for --model-metadata-file)."""
    return {
        model: {
            "max_tokens": 4096,
            "max_input_tokens": 32000,
            "max_output_tokens": 4096,
            "input_cost_per_token": input_cost,
            "output_cost_per_token": output_cost,
            "litellm_provider": "openai",
            "mode": "chat",
        }
    }


def _completion(content: str, *, prompt_tokens: int = 120, completion_tokens: int = 30) -> bytes:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL.removeprefix("openai/"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return json.dumps(body).encode()


@attrs.define
class FakeLLM:
    """A scripted OpenAI-compatible server; ``requests`` holds every body it received."""

    respond: Responder
    requests: list[dict[str, Any]] = attrs.field(factory=list)
    headers: list[dict[str, str]] = attrs.field(factory=list)
    port: int = 0

    @property
    def base_url(self) -> str:
        """The API base to hand to the client (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @staticmethod
    def text_reply(content: str) -> Responder:
        """Answer every request with ``content`` as the assistant message."""
        return lambda _request: (200, _completion(content))

    @staticmethod
    def edit_reply(path: str, search: str, replace: str) -> Responder:
        """Answer with one SEARCH/REPLACE block editing ``path``."""
        block = (
            f"Here is the change.\n\n{path}\n```\n<<<<<<< SEARCH\n{search}\n=======\n"
            f"{replace}\n>>>>>>> REPLACE\n```\n"
        )
        return FakeLLM.text_reply(block)

    @staticmethod
    def status_reply(status: int, body: bytes) -> Responder:
        """Answer every request with ``status`` and the raw ``body``."""
        return lambda _request: (status, body)

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen on 127.0.0.1:0; report the port through ``task_status``; serve until cancelled."""
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            await nursery.start(trio.serve_listeners, self._handle, listeners)
            task_status.started(self.port)

    async def _handle(self, stream: trio.SocketStream) -> None:
        buffer = bytearray()
        async with stream:
            while True:
                request = await _read_request(stream, buffer)
                if request is None:
                    return
                method, target, headers, body = request
                status, payload = self._dispatch(method, target, headers, body)
                head = (
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
                )
                try:
                    await stream.send_all(head.encode() + payload)
                except trio.BrokenResourceError:
                    return

    def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if method != "POST" or not target.rstrip("/").endswith("/chat/completions"):
            return 404, b'{"error": {"message": "not found"}}'
        try:
            decoded = json.loads(body)
        except ValueError:
            return 400, b'{"error": {"message": "body is not JSON"}}'
        self.requests.append(decoded)
        self.headers.append(headers)
        return self.respond(decoded)


async def _read_request(
    stream: trio.SocketStream, buffer: bytearray
) -> tuple[str, str, dict[str, str], bytes] | None:
    """Read one HTTP/1.1 request (Content-Length bodies only); None when the peer closed."""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > _MAX_HEAD:
            return None
        chunk = await stream.receive_some()
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = await stream.receive_some()
        if not chunk:
            return None
        body += chunk
    buffer[:] = body[length:]
    return method, target, headers, bytes(body[:length])
