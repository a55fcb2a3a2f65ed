"""A test-local OpenAI-compatible server that records what it receives: the only way to
test the gateway's forwarding here (no LLM service can be reached)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorder:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200  # what the next chat completions answer with
    reply: str = "Forty-two."


def _handler(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # keep the test output clean
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            recorder.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body}
            )
            if recorder.status != 200:
                self._send(recorder.status, "application/json", b'{"error": "refused"}')
                return
            chunks = [
                {
                    "choices": [
                        {"index": 0, "delta": {"role": "assistant", "content": recorder.reply}}
                    ]
                },
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {
                    "choices": [],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                },
            ]
            base = {
                "id": "chatcmpl-rec",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
            }
            sse = b"".join(f"data: {json.dumps({**base, **c})}\n\n".encode() for c in chunks)
            self._send(200, "text/event-stream", sse + b"data: [DONE]\n\n")

        def _send(self, status: int, kind: str, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def openai_recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(recorder))
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
