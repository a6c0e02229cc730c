"""A loopback HTTPS server with a throwaway CA (trustme) for the agent's HTTP clients: records every request and
answers from a script, so tests assert what went over the wire and play 429s, 500s and slow answers."""

from __future__ import annotations

import gzip
import json
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Stream:
    """A body written as ``chunks`` bytes of ``chunk`` each, ``delay`` seconds apart (a receiver dripping its answer,
    or one answering hundreds of MB); the write stops when the client hangs up."""

    chunk: bytes
    chunks: int
    delay: float = 0.0


Answer = tuple[int, dict[str, str], Any]
"""Status, headers and a JSON body (None for none, a ``Stream`` for a streamed one)."""


@dataclass
class FakeHttps:
    """The running server: ``base`` URL, ``ca_pem`` path, requests ``seen``, and ``answers`` to play in order
    (then ``default``)."""

    base: str
    ca_pem: Path
    seen: list[Seen] = field(default_factory=list)
    answers: list[Answer | Callable[[Seen], Answer]] = field(default_factory=list)
    default: Answer | Callable[[Seen], Answer] = (200, {}, {"status": "ok"})
    _server: ThreadingHTTPServer | None = None

    def answer(self, request: Seen) -> Answer:
        self.seen.append(request)
        if self.answers:
            scripted = self.answers.pop(0)
            return scripted(request) if callable(scripted) else scripted
        return self.default(request) if callable(self.default) else self.default

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def start(tmp: Path) -> FakeHttps:
    """Start the server on 127.0.0.1 (ephemeral port) with a fresh CA written to ``tmp/ca.pem``."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    fake = FakeHttps("", ca_pem)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return

        def _do(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            parts = urlsplit(self.path)
            seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body)
            status, headers, out = fake.answer(seen)
            if isinstance(out, Stream):
                self._stream(status, headers, out)
                return
            data = b"" if out is None else json.dumps(out).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            try:
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (a timeout under test): nobody to answer
                self.close_connection = True

        def _stream(self, status: int, headers: dict[str, str], out: Stream) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(out.chunk) * out.chunks))
            try:
                self.end_headers()
                for _ in range(out.chunks):
                    self.wfile.write(out.chunk)
                    self.wfile.flush()
                    if out.delay:
                        time.sleep(out.delay)
            except OSError:  # the client hung up
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = _do

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.base = f"https://127.0.0.1:{server.server_address[1]}"
    fake._server = server
    return fake


def serving(tmp: Path) -> Iterator[FakeHttps]:
    """A fixture body: start, yield, stop."""
    fake = start(tmp)
    try:
        yield fake
    finally:
        fake.stop()
