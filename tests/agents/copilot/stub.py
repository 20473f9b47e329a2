"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

Real HTTP, so the real ``openai`` client (over ``httpx2``) and LangChain's ``ChatOpenAI`` are
exercised end to end. Each ``POST .../chat/completions`` gets the next scripted answer; the
request bodies are kept for the test to read.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "stub-model"


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """An assistant answer calling tools ``(name, arguments)``."""
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls, start=1)
        ],
    }


def text(content: str) -> dict[str, Any]:
    """An assistant answer in text."""
    return {"role": "assistant", "content": content}


@dataclass
class Stub:
    """The running server: its base URL, the script left and the requests received."""

    base_url: str
    script: list[dict[str, Any]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    repeat_last: bool = False
    """Answer every request past the script with its last answer (for a model that never stops)."""

    def load(self, script: list[dict[str, Any]], *, repeat_last: bool = False) -> Stub:
        """Start over with a new script (one server serves many tests: a new port would cost
        the client a fresh TLS context, a quarter second)."""
        self.script[:] = script
        self.requests.clear()
        self.repeat_last = repeat_last
        return self


def _completion(message: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
    }


@contextmanager
def serve(script: list[dict[str, Any]], *, repeat_last: bool = False) -> Iterator[Stub]:
    """Serve ``script`` on a free port of 127.0.0.1 until the block ends."""
    stub: Stub | None = None
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert stub is not None
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with lock:
                stub.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    status, answer = 404, {"error": {"message": f"no route {self.path}"}}
                elif stub.script:
                    message = (
                        stub.script[0]
                        if stub.repeat_last and len(stub.script) == 1
                        else (stub.script.pop(0))
                    )
                    status, answer = 200, _completion(message, len(stub.requests))
                else:
                    status, answer = 500, {"error": {"message": "the script is used up"}}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stub = Stub(
        base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
        script=list(script),
        repeat_last=repeat_last,
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="openai-stub", daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
