"""Start-up and connection trouble on a real Mosquitto and chDB: broker and store down
at start, a broker outage, a rotated broker password, secrets and the HTTP endpoint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from mqtt_broker import Broker, free_port, mosquitto_binary
from service_process import Publisher, ServiceProcess, wait_until

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed"),
]

T0 = 1796349000000


def issued(i: int, hall: str = "yuhua") -> dict[str, object]:
    return {
        "id": f"{hall}-{i}",
        "type": "ticket.issued",
        "ts": T0 + i,
        "hall": hall,
        "ticket": f"A{i}",
        "service": "invoice",
        "channel": "kiosk",
    }


def unhealthy_with(svc: ServiceProcess, text: str) -> bool:
    code, body = svc.health()
    return code == 503 and text in body


def one_event_applied(broker: Broker, svc: ServiceProcess, i: int, user: str | None = None) -> None:
    """Publishes one event and waits until the service has applied it (its first)."""
    pub = Publisher(broker, user=user)
    pub.publish_events([issued(i)])
    pub.wait_all()
    wait_until(lambda: svc.metrics().get("events_applied") == 1, 60, "the event applied")
    pub.close()


def test_broker_and_store_down_at_start_then_up(tmp_path: Path) -> None:
    broker = Broker(tmp_path / "broker", free_port())  # not started yet
    blocker = tmp_path / "volume"
    blocker.write_text("the store's volume is not mounted yet")  # chDB cannot create it
    svc = ServiceProcess(broker, blocker / "store", log_dir=tmp_path)
    svc.start(wait=False)
    try:
        # 503 with the store's failure as the reason (not only the stage's name)
        wait_until(lambda: unhealthy_with(svc, "waiting for the store ("), 60, "503: the store")
        blocker.unlink()
        wait_until(lambda: unhealthy_with(svc, "cannot reach the MQTT broker"), 60, "503: broker")
        broker.start()
        wait_until(svc.healthy, 60, "the service to be healthy")
        one_event_applied(broker, svc, 1)
    finally:
        svc.stop()
        broker.stop()
    log = svc.log.read_text()
    assert "Traceback" not in log
    assert log.count("waiting for the store") == 1  # said once, not once a try
    assert log.count("cannot reach the MQTT broker") == 1


def test_a_broker_outage_shows_in_healthz(broker: Broker, tmp_path: Path) -> None:
    svc = ServiceProcess(broker, tmp_path / "store")
    svc.start()
    broker.stop()
    wait_until(lambda: svc.health()[0] == 503, 30, "503 during the outage")
    assert "MQTT broker" in svc.health()[1]
    broker.start()
    wait_until(svc.healthy, 60, "healthy again")
    one_event_applied(broker, svc, 2)
    assert svc.metrics()["broker_connected"] == 1
    svc.stop()


def secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def test_a_rotated_broker_password_is_retried_and_picked_up(tmp_path: Path) -> None:
    users = {"hallkpi-service": "first-secret", "hallkpi-producer": "producer-secret"}
    broker = Broker(tmp_path / "broker", free_port(), users=users)
    broker.start()
    password = secret(tmp_path / "mqtt-password", "first-secret")
    svc = ServiceProcess(
        broker,
        tmp_path / "store",
        mqtt_url=f"mqtt://hallkpi-service@127.0.0.1:{broker.port}",
        args=["--mqtt-password-file", str(password)],
    )
    try:
        svc.start()
        broker.users = {**users, "hallkpi-service": "second-secret"}
        broker.restart()  # the service reconnects with the old password: refused
        wait_until(lambda: unhealthy_with(svc, "refused"), 60, "503: refused by the broker")
        secret(password, "second-secret")  # the operator rotates the service's file too
        wait_until(svc.healthy, 60, "healthy with the new password")
        one_event_applied(broker, svc, 3, user="hallkpi-producer")
    finally:
        svc.stop()
        broker.stop()
    assert "second-secret" not in svc.log.read_text() and "first-secret" not in svc.log.read_text()


def test_an_open_password_file_is_refused(broker: Broker, tmp_path: Path) -> None:
    password = secret(tmp_path / "mqtt-password", "s3cret", 0o644)
    svc = ServiceProcess(
        broker,
        tmp_path / "store",
        mqtt_url=f"mqtt://hallkpi-service@127.0.0.1:{broker.port}",
        args=["--mqtt-password-file", str(password)],
    )
    svc.start(wait=False)
    assert svc.process is not None
    assert svc.process.wait(60) != 0
    svc.stop()
    log = svc.log.read_text()
    assert f"chmod 600 {password}" in log and "s3cret" not in log


def test_operator_endpoints_want_the_token_and_all_interfaces_warn(
    broker: Broker, tmp_path: Path
) -> None:
    token = secret(tmp_path / "token", "op-token-123")
    svc = ServiceProcess(broker, tmp_path / "store", args=["--http-token-file", str(token)])
    port = svc.http_port
    svc.extra_args += ["--http", f"0.0.0.0:{port}"]  # the later --http wins
    svc.start()
    try:
        for path in ("/snapshot", "/metrics", "/gaps"):
            assert svc.get(path)[0] == 401
            assert svc.get(path, token="wrong")[0] == 401
            assert svc.get(path, token="op-token-123")[0] == 200
        assert svc.get("/healthz")[0] == 200  # load balancers need no token
        code, body = svc.get("/halls/nowhere/status")
        assert code == 404 and json.loads(body)
    finally:
        svc.stop()
    log = svc.log.read_text()
    assert "reachable beyond this machine" in log and "op-token-123" not in log
    assert os.stat(token).st_mode & 0o077 == 0


def test_the_deploy_configs_tls_listener_serves_the_service(tmp_path: Path) -> None:
    """deploy/mosquitto.conf's TLS listener (a self-signed certificate here): the
    service connects with mqtts:// and the CA from [service] tls_ca."""
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    tls_port = free_port()
    broker = Broker(tmp_path / "broker", free_port(), tls=(tls_port, cert, key))
    broker.start()
    svc = ServiceProcess(
        broker,
        tmp_path / "store",
        mqtt_url=f"mqtts://127.0.0.1:{tls_port}",
        service={"tls_ca": str(cert)},
    )
    try:
        svc.start()
        pub = Publisher(broker)  # the loopback listener, without TLS
        pub.publish_events([issued(4)])
        pub.wait_all()
        wait_until(lambda: svc.metrics().get("events_applied") == 1, 60, "the event applied")
        pub.close()
    finally:
        svc.stop()
        broker.stop()
