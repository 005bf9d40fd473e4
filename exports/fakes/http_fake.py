"""Shared server scaffolding for the marketplace fakes: a JSON-over-POST HTTP server on 127.0.0.1.

A subclass implements `respond(path, headers, body)` returning (status, JSON payload, extra headers);
this base starts a ThreadingHTTPServer on a free port in a daemon thread, answers every POST with
`Content-Type: <content_type>`, the extra headers and the JSON body, and stops it on `stop()` or
when the `with` block ends. `self._lock` serialises the subclass's state.
"""

from __future__ import annotations

import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class JsonPostFake:
    """Base for an in-process fake API: `with Fake(...) as fake:` then point a client at fake.url."""

    content_type = "application/json"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def respond(self, path: str, headers: Message, body: bytes) -> tuple[int, Any, dict[str, str]]:
        """Answer one POST: (status, JSON-serialisable payload, extra response headers)."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload, headers = fake.respond(self.path, self.headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", fake.content_type)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
