"""A small W3C WebDriver client for Debian's chromium + chromium-driver (stdlib only).

Why not selenium: the tests need a dozen commands; speaking the standard protocol to
``chromedriver`` directly keeps the dev dependencies as they are and can never fetch
a driver at run time (selenium's manager would try when it finds none). The browser
is sandboxed from the network: every non-loopback request goes to a closed proxy port
(``--proxy-server``; Chromium bypasses the proxy for loopback only), and the
background services that phone home are switched off.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C element reference key


def browser_binaries() -> tuple[str, str] | None:
    """(chromium, chromedriver) when both are installed."""
    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


class WebDriverError(AssertionError):
    pass


CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",  # tests run as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
    "--proxy-server=http://127.0.0.1:9",  # discard port: nothing leaves loopback
    "--lang=zh-CN",
]


class Browser:
    """One chromedriver process and one headless Chromium session, 390x844 CSS px at
    device pixel ratio 1 (so a screenshot is 390x844 pixels)."""

    def __init__(self, workdir: Path, port: int, *, width: int = 390, height: int = 844) -> None:
        found = browser_binaries()
        if found is None:
            raise WebDriverError("chromium and chromedriver are not installed")
        chromium, driver = found
        workdir.mkdir(parents=True, exist_ok=True)
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "chromedriver.log"
        self.process = subprocess.Popen(
            [driver, f"--port={port}", f"--log-path={self.log_path}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.session = ""
        deadline = time.monotonic() + 30
        while not self._ready():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.process.kill()
                raise WebDriverError(f"chromedriver did not start (log: {self.log_path})")
            time.sleep(0.05)
        options = {
            "binary": chromium,
            "args": [*CHROMIUM_ARGS, f"--user-data-dir={workdir / 'profile'}"],
            "mobileEmulation": {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1},
                # the WeChat in-app browser on Android names itself so; the page does not care
                "userAgent": "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 "
                "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47",
            },
        }
        caps = {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"implicit": 0, "pageLoad": 30000, "script": 30000},
        }
        try:
            value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        except Exception:
            self.process.kill()
            self.process.wait()
            raise
        self.session = value["sessionId"]

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/status", timeout=1) as r:
                return bool(json.loads(r.read())["value"]["ready"])
        except (OSError, ValueError, KeyError):
            return False

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as e:
            value = json.loads(e.read() or b"{}").get("value", {})
            message = f"{method} {path}: {value.get('error')}: {value.get('message')}"
            raise WebDriverError(message) from e

    def _s(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    # --- the commands the tests use ---
    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        """Runs ``script`` (a function body; ``arguments`` are ``args``) in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find_all(self, css: str) -> list[str]:
        found = self._s("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in found]

    def click(self, css: str) -> None:
        """Clicks the first element matching ``css`` (as a person would: scrolled into
        view, refused when hidden or covered)."""
        found = self.find_all(css)
        if not found:
            raise WebDriverError(f"nothing matches {css!r}")
        self._s("POST", f"/element/{found[0]}/click")

    def text(self, css: str) -> str:
        """The rendered text of the first match; '' when there is none."""
        found = self.find_all(css)
        return str(self._s("GET", f"/element/{found[0]}/text")) if found else ""

    def wait(self, cond: Callable[[], Any], what: str, timeout: float = 20) -> Any:
        """Polls ``cond`` (bounded) until it returns a true value, and returns it."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = cond()
            except WebDriverError as e:  # e.g. an element replaced between find and read
                last = e
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")

    def wait_text(self, css: str, needle: str, timeout: float = 20) -> str:
        what = f"{needle!r} in {css}"
        found = self.wait(lambda: needle in (t := self.text(css)) and t, what, timeout)
        return str(found)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def console(self) -> list[dict[str, Any]]:
        """Browser log entries since the last call (chromedriver's log endpoint)."""
        return list(self._s("POST", "/se/log", {"type": "browser"}))

    def close(self) -> None:
        try:
            if self.session:
                self._s("DELETE", "")
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
