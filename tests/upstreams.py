"""Workspace apps for the router's tests: real servers on loopback ports.

``EchoApp`` answers every request with what it received (as JSON), streams big bodies both
ways, sends messy CORS headers on request, and speaks HTTPS when asked. ``WebSocketEcho`` echoes
WebSocket messages. ``PageApp`` is an HTML page for browser tests."""

from __future__ import annotations

import hashlib
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.sync.server import ServerConnection, serve

_CHUNK = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self) -> Iterator[bytes]:
        """The request body in pieces, whatever its framing."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return
                yield self.rfile.read(size)
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            piece = self.rfile.read(min(_CHUNK, remaining))
            if not piece:
                return
            remaining -= len(piece)
            yield piece

    def _handle(self) -> None:
        digest = hashlib.sha256()
        received = 0
        for piece in self._body():
            digest.update(piece)
            received += len(piece)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/download":
            self._download(int(query["bytes"][0]))
            return
        if parts.path == "/until-close":  # no length: the body ends with the connection
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"all of it")
            self.close_connection = True
            return
        if parts.path == "/early-hints":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n")
        extra: list[tuple[str, str]] = []
        if parts.path == "/cors-mess":
            extra = [
                ("X-Foobar", "baz"),
                ("Access-Control-Allow-Origin", "http://evil.test"),
                ("access-control-allow-origin", "http://evil.test"),
                ("Access-Control-Allow-Credentials", "true"),
                ("Access-Control-Allow-Methods", "PUT"),
                ("Access-Control-Allow-Headers", "X-Foobar"),
                ("Vary", "Origin, origin, Access-Control-Request-Headers, X-Foobar"),
            ]
        body = json.dumps(
            {
                "method": self.command,
                "target": self.path,
                "headers": [[name, value] for name, value in self.headers.items()],
                "received": received,
                "peer_port": self.client_address[1],
                "sha256": digest.hexdigest(),
            }
        ).encode()
        status = int(query.get("status", ["200"])[0])
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        if parts.path == "/chunked" and self.request_version == "HTTP/1.1":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for index in range(0, len(body), 7):
                    piece = body[index : index + 7]
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _download(self, size: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        block = b"x" * _CHUNK
        while size > 0:
            self.wfile.write(block[: min(size, _CHUNK)])
            size -= _CHUNK

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class EchoApp:
    """An app on ``127.0.0.1:port`` that answers with what it got; over TLS with ``certificate``
    (a (certificate, key) pair of files)."""

    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class WebSocketEcho:
    """A WebSocket server on ``127.0.0.1:port`` that sends back every message, and answers
    plain HTTP requests with 426."""

    def __init__(self) -> None:
        def echo(connection: ServerConnection) -> None:
            for message in connection:
                connection.send(message)

        self._server = serve(echo, "127.0.0.1", 0)
        self.port = int(self._server.socket.getsockname()[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A throwaway certificate for ``localhost`` and its key."""
    certificate, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


class PageApp:
    """A small web app on ``127.0.0.1:port`` named ``name``: ``/`` is an HTML page that says
    which app it is, and ``/whoami`` answers JSON with the app's name and the ``Cookie`` and
    ``Origin`` headers it received (so a browser test can tell which app a fetch reached and
    what travelled with it). ``/healthz`` answers 200 while ``healthy`` is true, else 503."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.healthy = True
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                if path == "/healthz":
                    self.send_response(200 if app.healthy else 503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path == "/whoami":
                    kind = "application/json"
                    body = json.dumps(
                        {
                            "app": name,
                            "cookie": self.headers.get("Cookie", ""),
                            "origin": self.headers.get("Origin", ""),
                        }
                    ).encode()
                else:
                    kind = "text/html; charset=utf-8"
                    body = (
                        f"<!doctype html><html><head><title>App {name}</title></head>"
                        f"<body><h1>App {name}</h1></body></html>"
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
