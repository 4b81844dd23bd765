"""Store URLs, passwords and identifiers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hallkpi.core.secrets import redact, url_has_password
from hallkpi.ingest.errors import StoreConfigError
from hallkpi.ingest.store.sql import check_ident, qualified
from hallkpi.ingest.store.url import (
    PASSWORD_ENV,
    parse_store_url,
    read_password,
    resolve_store_url,
)


def test_chdb_urls(tmp_path: Path) -> None:
    u = parse_store_url(f"chdb://{tmp_path}/data")
    assert (u.scheme, u.path, u.database) == (
        "chdb",
        os.path.realpath(tmp_path / "data"),
        "hallkpi",
    )
    assert parse_store_url(f"chdb://{tmp_path}?database=day_1").database == "day_1"
    assert str(parse_store_url(f"chdb://{tmp_path}?database=x")).endswith("?database=x")


def test_http_urls() -> None:
    u = parse_store_url("https://reporter@ch.example:9443/tax")
    assert (u.scheme, u.user, u.host, u.port, u.database) == (
        "https",
        "reporter",
        "ch.example",
        9443,
        "tax",
    )
    u = parse_store_url("http://ch.example")
    assert (u.port, u.user, u.database) == (8123, None, "hallkpi")
    assert u.redacted() == "http://ch.example:8123/hallkpi"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x",
        "chdb://",
        "http://:8123/db",
        "http://h:port/db",
        "http://h/db?password=x",
        "http://h/bad-name",
        "http://h/db;DROP",
        "chdb:///tmp/x?database=a%20b",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreConfigError):
        parse_store_url(url)


def test_a_password_in_the_url_is_refused_and_never_shown() -> None:
    with pytest.raises(StoreConfigError) as err:
        parse_store_url("http://admin:s3cret-pw@ch.example:8123/db")
    assert "s3cret-pw" not in str(err.value)
    assert PASSWORD_ENV in str(err.value)


def test_redact() -> None:
    text = "failed http://u:hunter2@h:8123/db and https://x:y@z/ with hunter2"
    out = redact(text, "hunter2")
    assert "hunter2" not in out and "u:***@h" in out and "x:***@z" in out


def test_password_sources(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("from-file\nignored\n")
    f.chmod(0o600)
    assert read_password(str(f), {PASSWORD_ENV: "from-env"}) == "from-file"
    assert read_password(None, {PASSWORD_ENV: "from-env"}) == "from-env"
    assert read_password(None, {}) is None
    with pytest.raises(StoreConfigError):
        read_password(str(tmp_path / "missing"), {})


def test_store_from_env() -> None:
    assert resolve_store_url(None, {"HALLKPI_STORE": "http://h/db"}).host == "h"
    assert resolve_store_url("http://a/db", {"HALLKPI_STORE": "http://h/db"}).host == "a"
    with pytest.raises(StoreConfigError, match="HALLKPI_STORE"):
        resolve_store_url(None, {})


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a.b", "a`b", "x" * 64, "a b", "é"])
def test_identifiers_are_strict(name: str) -> None:
    with pytest.raises(StoreConfigError):
        check_ident(name)


def test_qualified_names() -> None:
    assert qualified("hallkpi", "events") == "`hallkpi`.`events`"


@pytest.mark.parametrize(
    "url",
    [
        "chdb://user:s3cret@/var/lib/hallkpi",
        "chdb://user@/var/lib/hallkpi",
        "chdb://:s3cret@/var/lib/hallkpi",
        "chdb://user:s3/cret@/var/lib/hallkpi",
        "chdb://user:s3cret@relative/dir",
    ],
)
def test_credentials_in_a_chdb_url_are_refused_and_never_shown(url: str) -> None:
    """chDB is embedded: a user or password in its URL is a mistake, and the text after
    ``chdb://`` would otherwise become a directory named after the credentials."""
    with pytest.raises(StoreConfigError, match="chDB is embedded") as err:
        parse_store_url(url)
    assert "s3cret" not in str(err.value) and "s3/cret" not in str(err.value)


def test_chdb_paths_may_hold_at_signs_and_colons_after_the_first_slash() -> None:
    assert parse_store_url("chdb:///data/a@b:c").path == "/data/a@b:c"


def test_the_no_password_rule_is_one_for_every_url() -> None:
    assert url_has_password("mqtt://u:pw@broker:1883")
    assert url_has_password("chdb://u:pw@/x") and url_has_password("http://u:p/w@h/db")
    assert not url_has_password("http://u@h/db") and not url_has_password("chdb:///a@b")
