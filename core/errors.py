"""Errors of hallkpi.core. One base class; specific errors also subclass a builtin."""

from __future__ import annotations


class HallkpiError(Exception):
    """Base class of every error hallkpi raises on purpose."""


class InvalidEvent(HallkpiError, ValueError):
    """An event breaks the contract of EVENTS.md; the message says which rule."""


class ConfigError(HallkpiError, ValueError):
    """A configuration file or option is wrong; the message says what to change."""


class CommandError(HallkpiError):
    """A command failed for a reason the user can fix; printed without a traceback."""
