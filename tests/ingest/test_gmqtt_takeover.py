"""gmqtt's internals that ``hallkpi.ingest.service.gmqtt_takeover`` uses are there, with
the shapes it was written for. Fails loudly after a gmqtt upgrade: read the new gmqtt,
adapt the adapter, then move the pin (pyproject.toml and ``GMQTT_VERSION``) together."""

from __future__ import annotations

import inspect
import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from gmqtt import Client
from gmqtt.mqtt.handler import MqttPackageHandler
from gmqtt.storage import PersistentStorage
from hallkpi.ingest.service.gmqtt_takeover import (
    GMQTT_VERSION,
    missing_internals,
    take_over,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_installed_gmqtt_is_the_pinned_one() -> None:
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    server = extras["optional-dependencies"]["server"]
    assert f"gmqtt=={GMQTT_VERSION}" in server, "pin gmqtt exactly: the adapter uses internals"
    assert version("gmqtt") == GMQTT_VERSION, (
        f"gmqtt {version('gmqtt')} installed, the adapter was written for {GMQTT_VERSION}"
    )


def test_every_internal_is_there_with_its_shape() -> None:
    assert missing_internals(Client("hallkpi-test")) == []
    params = list(inspect.signature(MqttPackageHandler._handle_qos_1_publish_packet).parameters)
    assert params == ["self", "mid", "packet", "print_topic", "properties"]
    assert list(inspect.signature(MqttPackageHandler._send_puback).parameters)[:2] == [
        "self",
        "mid",
    ]
    source = inspect.getsource(MqttPackageHandler)
    # the replaced attributes are looked up on the instance when a packet arrives
    assert "self._handle_qos_1_publish_packet(mid, packet, print_topic, properties)" in source
    assert "self._reconnect_callback(delay=True)" in source
    assert inspect.iscoroutinefunction(PersistentStorage.wait_empty)
    assert inspect.iscoroutinefunction(Client._disconnect)


def test_a_qos1_publish_reaches_the_hook_and_its_puback_the_handler() -> None:
    client = Client("hallkpi-test")
    got: list[tuple[int, bytes, str]] = []
    lost: list[int] = []
    failed: list[int] = []

    def on_publish(mid: int, payload: bytes, topic: str, puback: Any) -> None:
        got.append((mid, payload, topic))
        puback(mid)  # not connected: the PUBACK cannot go out, and says so

    assert take_over(client, on_publish, lambda: lost.append(1), failed.append)
    handler: Any = client._package_handler
    handler._handle_qos_1_publish_packet(7, b"{}", "hallkpi/v1/halls/a/events", {})
    assert got == [(7, b"{}", "hallkpi/v1/halls/a/events")]
    assert failed == [7]


def test_a_gmqtt_without_the_internals_keeps_its_public_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = Client("hallkpi-test")
    handler: Any = client._package_handler
    monkeypatch.delattr(MqttPackageHandler, "_send_puback")  # as if a gmqtt renamed it
    before = handler._handle_qos_1_publish_packet
    assert missing_internals(client) == ["_send_puback"]
    assert not take_over(client, lambda *a: None, lambda: None)
    assert handler._handle_qos_1_publish_packet == before
