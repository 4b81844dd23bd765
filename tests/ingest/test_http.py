"""The service's HTTP endpoint on a loopback port."""

from __future__ import annotations

import asyncio
import json

import pytest
from hallkpi.ingest.service.http import HttpEndpoint, http_get


def endpoint(healthy: bool = True) -> HttpEndpoint:
    return HttpEndpoint(
        metrics=lambda: "hallkpi_events_applied_total 3\n",
        health=lambda: None if healthy else "store unreachable for 30 s",
        status=lambda hall: {"waiting": 4, "ts": 1} if hall == "yuhua" else None,
    )


@pytest.mark.timeout(20)
def test_routes() -> None:
    async def main() -> None:
        ep = endpoint()
        host, port = await ep.start("127.0.0.1", 0)
        try:
            assert await http_get(host, port, "/metrics") == (
                200,
                b"hallkpi_events_applied_total 3\n",
            )
            assert await http_get(host, port, "/healthz") == (200, b"ok\n")
            code, body = await http_get(host, port, "/halls/yuhua/status")
            assert code == 200 and json.loads(body) == {"waiting": 4, "ts": 1}
            code, body = await http_get(host, port, "/halls/nowhere/status")
            assert code == 404 and b"nowhere" in body
            assert (await http_get(host, port, "/other"))[0] == 404
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"POST /metrics HTTP/1.1\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 405")
            writer.close()
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /" + b"x" * 20000 + b" HTTP/1.1\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 400")
            writer.close()
        finally:
            await ep.close()

    asyncio.run(main(), debug=True)


@pytest.mark.timeout(20)
def test_unhealthy_is_503_with_the_reason() -> None:
    async def main() -> None:
        ep = endpoint(healthy=False)
        host, port = await ep.start("127.0.0.1", 0)
        try:
            assert await http_get(host, port, "/healthz") == (503, b"store unreachable for 30 s\n")
        finally:
            await ep.close()

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_operator_endpoints_want_the_bearer_token() -> None:
    async def main() -> None:
        ep = HttpEndpoint(
            metrics=lambda: "m 1\n",
            health=lambda: None,
            status=lambda hall: {"waiting": 1} if hall == "yuhua" else None,
            snapshot=lambda: {"halls": {}},
            gaps=list,
            notes=lambda: ["3 events lost upstream in 1 gaps"],
            token="t0ken",
        )
        host, port = await ep.start("127.0.0.1", 0)
        try:
            for path in ("/metrics", "/snapshot", "/gaps"):
                assert (await http_get(host, port, path))[0] == 401
                assert (await http_get(host, port, path, token="t0ke"))[0] == 401
                assert (await http_get(host, port, path, token="t0ken"))[0] == 200
            assert await http_get(host, port, "/healthz") == (
                200,
                b"ok\n3 events lost upstream in 1 gaps\n",
            )
            assert (await http_get(host, port, "/halls/yuhua/status"))[0] == 200
        finally:
            await ep.close()

    asyncio.run(main())


@pytest.mark.timeout(20)
def test_a_failing_route_is_a_500_and_the_endpoint_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> str:
        raise RuntimeError("a bug")

    async def main() -> None:
        ep = HttpEndpoint(metrics=broken, health=lambda: None, status=lambda hall: None)
        _, port = await ep.start("0.0.0.0", 0)
        try:
            assert (await http_get("127.0.0.1", port, "/metrics"))[0] == 500
            assert (await http_get("127.0.0.1", port, "/healthz"))[0] == 200
        finally:
            await ep.close()

    asyncio.run(main())
    assert any("reachable beyond this machine" in r.message for r in caplog.records)
