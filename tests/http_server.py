"""A local HTTP server for tests that publish documents: files from a directory, plus routes
that misbehave on purpose (slow, dripping, too large, of undeclared length, errors)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    """What the server answers at one path."""

    body: bytes = b""
    status: int = 200
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between the body's bytes
    declare_length: bool = True  # else no Content-Length: the body ends when the server closes
    headers: dict[str, str] = field(default_factory=dict)  # extra headers (a Location...)


class LocalServer:
    """``url(path)`` is served from ``routes`` first, then from ``directory``."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.routes: dict[str, Route] = {}
        self.requests: list[str] = []
        self.hosts: list[str] = []  # the Host header of each request
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                server.hosts.append(self.headers.get("Host", ""))
                route = server.route(self.path)
                if route.delay:
                    server._stop.wait(route.delay)
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.declare_length:
                    self.send_header("Content-Length", str(len(route.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    if not route.drip:
                        self.wfile.write(route.body)
                        return
                    for byte in route.body:
                        if server._stop.is_set():
                            return
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(route.drip)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, as it should

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def route(self, path: str) -> Route:
        if path in self.routes:
            return self.routes[path]
        if self.directory is not None:
            target = (self.directory / path.lstrip("/")).resolve()
            if target.is_relative_to(self.directory.resolve()) and target.is_file():
                return Route(target.read_bytes())
        return Route(b"not found", status=404)

    def start(self) -> LocalServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serving(directory: Path | None = None) -> Iterator[LocalServer]:
    server = LocalServer(directory).start()
    try:
        yield server
    finally:
        server.stop()
