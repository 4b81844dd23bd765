"""One rule for every hallkpi URL and secret file (``core/secrets.py``): the store, the
MQTT broker and the AMI server refuse a password in the URL alike, and their secret files
are refused alike when other users may read them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hallkpi.core.errors import ConfigError
from hallkpi.core.secrets import parse_server_url, read_secret_file
from hallkpi.ingest.service.mqtt_url import mqtt_password, parse_mqtt_url
from hallkpi.ingest.store.url import parse_store_url, read_password
from hallkpi.telephony.config import AmiServer, read_secret

PARSERS: dict[str, Callable[[str], object]] = {
    "http://kpi:pw@ch.local:8123/hallkpi": parse_store_url,
    "mqtt://kpi:pw@broker.local": parse_mqtt_url,
    "ami://kpi:pw@pbx.local": AmiServer.from_url,
    "mqtts://kpi:p/w@broker.local": parse_mqtt_url,  # a '/' in the password
}
READERS: dict[str, Callable[[str], object]] = {
    "store": lambda p: read_password(p, {}),
    "mqtt": mqtt_password,
    "ami": read_secret,
}


@pytest.mark.parametrize("url", list(PARSERS))
def test_every_url_refuses_a_password(url: str) -> None:
    with pytest.raises(ConfigError, match="password") as info:
        PARSERS[url](url)
    assert "pw" not in str(info.value).replace("password", "")


def test_server_url_defaults_and_errors() -> None:
    schemes = {"x": (1, False), "xs": (2, True)}
    u = parse_server_url("xs://me@h", schemes, what="X", password_hint="use a file")
    assert (u.host, u.port, u.tls, u.username) == ("h", 2, True, "me")
    assert parse_server_url("x://h:9", schemes, what="X", password_hint="").port == 9
    for bad, why in [("y://h", "must start with"), ("x://", "needs a host"), ("x://h:no", "port")]:
        with pytest.raises(ConfigError, match=why):
            parse_server_url(bad, schemes, what="X", password_hint="")


@pytest.mark.parametrize("kind", list(READERS))
def test_every_secret_file_follows_one_rule(tmp_path: Path, kind: str) -> None:
    f = tmp_path / "secret"
    f.write_text("s3cret\nignored\n", encoding="utf-8")
    f.chmod(0o640)
    with pytest.raises(ConfigError, match="chmod 600") as info:
        READERS[kind](str(f))
    assert "s3cret" not in str(info.value)
    f.chmod(0o600)
    assert READERS[kind](str(f)) == "s3cret"
    f.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="empty"):
        read_secret_file(f, "test")
