"""`templater ssh --stdio` against a stand-in control plane, over plain HTTP and over TLS: it
asks for the upgrade with the user's token, then carries megabytes both ways, passes its stdin's
end on as a half-close and exits 0 when the connection ends; a refusal is one line, exit 1."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .conftest import needs

TOKEN = "tpl_stand-in"
SIZE = 3 * 1024 * 1024 + 5


class _ControlPlane:
    """Answers one upgrade with ``101`` (then ``SIZE`` bytes of its own, and the SHA-256 of the
    ``SIZE`` bytes it got once it has them and, over plain TCP, the client's half-close) or with
    ``refusal``."""

    def __init__(self, context: ssl.SSLContext | None, refusal: bytes | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._context, self._refusal = context, refusal
        self.request = b""
        self.sent = os.urandom(SIZE)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        accepted, _ = self._listener.accept()
        connection = (
            self._context.wrap_socket(accepted, server_side=True) if self._context else accepted
        )
        with connection:
            while b"\r\n\r\n" not in self.request:
                self.request += connection.recv(4096)
            if self._refusal is not None:
                connection.sendall(self._refusal)
                return
            connection.sendall(b"HTTP/1.1 101 Switching Protocols\r\n\r\n" + self.sent[:10])
            connection.sendall(self.sent[10:])
            digest, received = hashlib.sha256(), 0
            while received < SIZE and (data := connection.recv(65536)):
                digest.update(data)
                received += len(data)
            if self._context is None:
                assert connection.recv(1) == b""  # stdin's end, passed on
            connection.sendall(digest.hexdigest().encode())

    def close(self) -> None:
        self._thread.join(30)
        self._listener.close()


def _stdio(url: str, stdin: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "templater", "ssh", "--stdio", "templater.dev.main"],
        input=stdin,
        env={**os.environ, "TEMPLATER_URL": url, "TEMPLATER_TOKEN": TOKEN, **env},
        capture_output=True,
        timeout=60,
    )


def _carries_both_ways(plane: _ControlPlane, url: str, **env: str) -> None:
    mine = os.urandom(SIZE)
    ran = _stdio(url, mine, **env)
    plane.close()
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == plane.sent + hashlib.sha256(mine).hexdigest().encode()
    head = plane.request.decode()
    assert head.startswith("GET /api/v1/ssh/me/dev/main HTTP/1.1\r\n")
    assert f"Authorization: Bearer {TOKEN}\r\n" in head and "Upgrade: templater-ssh\r\n" in head


def test_plain_http() -> None:
    plane = _ControlPlane(None)
    _carries_both_ways(plane, f"http://127.0.0.1:{plane.port}")


@needs(shutil.which("openssl") is not None, "openssl is missing (.ci/run installs it)")
def test_tls(tmp_path: Path) -> None:
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    plane = _ControlPlane(context)
    _carries_both_ways(plane, f"https://localhost:{plane.port}", SSL_CERT_FILE=str(certificate))


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 48\r\n"
            b'\r\n{"message": "bob can only open SSH to their own"}',
            "templater: bob can only open SSH to their own (403 Forbidden)",
        ),
        (
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>",
            "did not open SSH: HTTP/1.1 502 Bad Gateway",
        ),
    ],
)
def test_a_refusal_is_one_line(answer: bytes, says: str) -> None:
    plane = _ControlPlane(None, answer)
    ran = _stdio(f"http://127.0.0.1:{plane.port}", b"")
    plane.close()
    assert ran.returncode == 1 and ran.stdout == b""
    assert ran.stderr.decode().strip().endswith(says) and ran.stderr.count(b"\n") == 1


def test_nothing_there_is_one_line() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ran = _stdio(f"http://127.0.0.1:{port}", b"")
    assert ran.returncode == 1 and b"cannot reach" in ran.stderr and ran.stderr.count(b"\n") == 1
