"""Errors of hallkpi.telephony. One base class; specific errors also subclass a builtin
(asyncpg's habit), so ``except PermissionError`` or ``except ConnectionError`` work too."""

from __future__ import annotations

from hallkpi.core.errors import ConfigError, HallkpiError


class AmiError(HallkpiError):
    """Base class of every error hallkpi.telephony raises on purpose."""


class AmiProtocolError(AmiError, ValueError):
    """The byte stream is not AMI (no banner, a line or message over the size limit).
    The connection cannot be trusted any more: close it (the client reconnects)."""


class AmiAuthError(AmiError, PermissionError):
    """The server refused the login. Not retried: fix the username or the secret
    (``HALLKPI_AMI_SECRET`` or the secret file) and the manager.conf user."""


class AmiActionError(AmiError, RuntimeError):
    """An action got ``Response: Error`` (unknown action, missing parameter, no
    permission). ``message`` is the server's text; ``reply`` the whole reply."""

    def __init__(self, action: str, message: str, reply: object = None) -> None:
        super().__init__(f"AMI action {action!r} failed: {message or 'no message'}")
        self.action = action
        self.message = message
        self.reply = reply


class AmiConnectionLost(AmiError, ConnectionError):
    """The connection ended: end of stream, a cut socket, a protocol error, or the
    Ping/Pong watchdog found the server frozen. The client may reconnect."""


class AmiTimeout(AmiConnectionLost, TimeoutError):
    """No answer in time: a frozen server (watchdog), or an action without reply."""


class TelephonyConfigError(AmiError, ConfigError):
    """The ``[telephony]`` configuration or a command option is wrong; the message says
    what to change."""
