"""A small HTTP endpoint of the service (asyncio streams, no framework):

- ``GET /metrics``: the counters as Prometheus text;
- ``GET /healthz``: ``200 ok`` while the service is healthy, else ``503`` and why;
- ``GET /halls/{hall}/status``: the same JSON as the retained status topic (for the
  WeChat back end's "how many are waiting");
- ``GET /snapshot``: the whole KPIS.md snapshot document;
- ``GET /gaps``: the open gaps of producers' sequences (events lost upstream).

Only GET and HEAD; request heads over 8 KiB are refused; connections close after one
response. With a ``token`` the operator endpoints (``/snapshot``, ``/metrics``,
``/gaps``) want ``Authorization: Bearer <token>`` (compared in constant time);
``/healthz`` and the hall statuses stay open (load balancers, the WeChat back end).
There is no TLS here: outside loopback put a reverse proxy with TLS in front.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

log = logging.getLogger("hallkpi.ingest.service")

MAX_HEAD = 8192


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


OPERATOR_PATHS = frozenset({"/metrics", "/snapshot", "/gaps"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) binds loopback only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


class HttpEndpoint:
    """Routes: ``metrics() -> str``, ``health() -> str | None`` (None = healthy),
    ``status(hall) -> dict | None`` (None = unknown hall); ``notes() -> list[str]``
    are added to a healthy answer; ``token``: see the module doc."""

    def __init__(
        self,
        *,
        metrics: Callable[[], str],
        health: Callable[[], str | None],
        status: Callable[[str], dict[str, Any] | None],
        snapshot: Callable[[], dict[str, Any]] | None = None,
        notes: Callable[[], list[str]] | None = None,
        gaps: Callable[[], list[dict[str, Any]]] | None = None,
        token: str | None = None,
    ) -> None:
        self._snapshot = snapshot
        self._metrics = metrics
        self._health = health
        self._notes = notes
        self._gaps = gaps
        self._status = status
        self._token = f"Bearer {token}".encode() if token else None
        self._server: asyncio.Server | None = None

    def authorized(self, authorization: bytes | None) -> bool:
        if self._token is None:
            return True
        return authorization is not None and hmac.compare_digest(authorization, self._token)

    def route(self, method: str, path: str, authorization: bytes | None = None) -> Response:
        if method not in ("GET", "HEAD"):
            return Response(405, b'{"error": "only GET"}')
        path = path.split("?", 1)[0]
        if path in OPERATOR_PATHS and not self.authorized(authorization):
            return Response(401, b'{"error": "this endpoint wants Authorization: Bearer"}')
        if path == "/metrics":
            return Response(200, self._metrics().encode(), "text/plain; version=0.0.4")
        if path == "/healthz":
            problem = self._health()
            if problem is None:
                notes = self._notes() if self._notes is not None else []
                return Response(
                    200, "".join(["ok\n", *(n + "\n" for n in notes)]).encode(), "text/plain"
                )
            return Response(503, problem.encode() + b"\n", "text/plain")
        if path == "/snapshot" and self._snapshot is not None:
            return Response(200, msgspec.json.encode(self._snapshot()))
        if path == "/gaps" and self._gaps is not None:
            return Response(200, msgspec.json.encode(self._gaps()))
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "halls" and parts[2] == "status":
            doc = self._status(parts[1])
            if doc is None:
                return Response(404, msgspec.json.encode({"error": f"unknown hall {parts[1]!r}"}))
            return Response(200, msgspec.json.encode(doc))
        return Response(404, b'{"error": "not found"}')

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            lines = head.split(b"\r\n")
            request = lines[0].decode("latin-1").split()
            authorization = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in lines[1:]
                    if line.lower().startswith(b"authorization:")
                ),
                None,
            )
            if len(request) != 3:
                response = Response(400, b'{"error": "bad request line"}')
            else:
                try:
                    response = self.route(request[0], request[1], authorization)
                except Exception:  # a bug behind one route: answer, log, keep serving
                    log.exception("HTTP %s failed", request[1][:200])
                    response = Response(500, b'{"error": "internal error"}')
            method = request[0] if request else "GET"
        except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError, ValueError):
            response, method = Response(400, b'{"error": "bad request"}'), "GET"
        reason = _REASONS.get(response.status, "")
        writer.write(
            f"HTTP/1.1 {response.status} {reason}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n".encode()
        )
        if method != "HEAD":
            writer.write(response.body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Starts listening; returns the bound address (port 0 picks a free one). Warns
        when the address is not loopback: plain HTTP, and without a token open."""
        if not is_loopback(host):
            log.warning(
                "HTTP endpoint on %s:%s: reachable beyond this machine, without TLS%s; "
                "bind 127.0.0.1 behind a reverse proxy with TLS",
                host,
                port,
                "" if self._token else " and without a token (--http-token-file)",
            )
        self._server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)
        sock = self._server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


async def http_get(
    host: str, port: int, path: str, *, token: str | None = None
) -> tuple[int, bytes]:
    """A tiny client for tests and `hallkpi` health checks."""
    reader, writer = await asyncio.open_connection(host, port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
