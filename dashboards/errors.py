"""Errors of hallkpi.dashboards: one base class; specific errors also subclass a builtin."""

from __future__ import annotations

from hallkpi.core.errors import ConfigError, HallkpiError


class GrafanaError(HallkpiError):
    """Base class of every error hallkpi.dashboards raises on purpose."""


class GrafanaConfigError(GrafanaError, ConfigError):
    """The ``[grafana]`` configuration is wrong; the message says what to change."""


class PushError(GrafanaError, RuntimeError):
    """Grafana refused or could not be reached; the message names the object and why."""
