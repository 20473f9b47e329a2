"""A local OpenAI-compatible chat server with scripted replies, for tests over real HTTP.

``POST /v1/chat/completions`` answers with the next scripted :class:`Reply` (or with what a
responder function makes of the request), and every request body is recorded. Runs on
127.0.0.1 on a free port in a thread; ``reset()`` (between tests) and ``stop()`` wake replies
still waiting out a delay. One server serves a whole test session: the OpenAI client caches its
HTTP client per base URL, and building one costs 0.2 s.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], "Reply"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    ``content`` is the message text; ``tool_calls`` are ``(name, arguments)`` with arguments as
    sent (a dict is JSON-encoded, a string is sent as is). ``status`` other than 200 sends an
    OpenAI-style error body with ``error``. ``delay_s`` waits before answering.
    """

    content: str | None = None
    tool_calls: tuple[tuple[str, dict[str, Any] | str], ...] = ()
    status: int = 200
    error: str = "stub error"
    delay_s: float = 0.0
    model: str | None = None
    """Model name to report (default: the one asked for)."""
    usage: tuple[int, int] | None = None
    """``(prompt_tokens, completion_tokens)`` to report, if any."""
    finish_reason: str | None = None


def json_reply(value: Any, **options: Any) -> Reply:
    """A reply whose content is ``value`` as JSON."""
    return Reply(content=json.dumps(value), **options)


@dataclass
class StubServer:
    """The server; ``base_url`` is what a client's ``base_url`` should be."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _script: deque[Reply | Responder] = field(default_factory=deque)
    _default: Responder | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def script(self, *replies: Reply | Responder) -> None:
        """Answer the next requests with these, in order."""
        with self._lock:
            self._script.extend(replies)

    def always(self, responder: Responder) -> None:
        """Answer with ``responder(request)`` once the script is used up."""
        self._default = responder

    @property
    def pending(self) -> int:
        """Scripted replies not yet used."""
        return len(self._script)

    def start(self) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                reply, stopping = stub._next(body, dict(self.headers))
                if reply.delay_s and stopping.wait(reply.delay_s):
                    return  # stopped while waiting: the client has long given up
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.error, "type": "stub"}})
                    return
                self._send(200, stub._completion(body, reply))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def reset(self) -> None:
        """Forget requests and script, and wake replies still waiting out a delay."""
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self._script.clear()
            self._default = None
            self._stopping.set()
            self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _next(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Reply, threading.Event]:
        """The reply to ``body``, and the event that cuts its delay short."""
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            step = self._script.popleft() if self._script else self._default
            stopping = self._stopping
        if step is None:
            return Reply(status=500, error="stub: no reply scripted for this request"), stopping
        return (step if isinstance(step, Reply) else step(body)), stopping

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        n = next(self._ids)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{n}_{i}",
                    "type": "function",
                    "function": {
                        "name": name,
                        "arguments": args if isinstance(args, str) else json.dumps(args),
                    },
                }
                for i, (name, args) in enumerate(reply.tool_calls)
            ]
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        completion: dict[str, Any] = {
            "id": f"chatcmpl-stub-{n}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": reply.model or body.get("model", "stub"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        }
        if reply.usage is not None:
            prompt, answer = reply.usage
            completion["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": answer,
                "total_tokens": prompt + answer,
            }
        return completion
