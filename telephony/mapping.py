"""Which hall a queue's calls belong to.

Configured in the ``[telephony]`` section of the TOML file and/or with ``--hall-map
queue=hall,...`` (the command line wins)::

    [telephony]
    unmapped = "skip"              # skip | default | queue
    default_hall = "city-hotline"  # the hall of unmapped queues when unmapped = "default"

    [telephony.queues]
    "12366-yuhua" = "yuhua"
    "12366-xinhua" = "xinhua"

Queue names compare without case (as Asterisk's ``app_queue`` does). Unmapped queues
are skipped and counted (``CallTranslator.stats.unmapped``) unless ``unmapped`` is
``"default"`` (their calls go to ``default_hall``) or ``"queue"`` (the queue name is
the hall, when it is a valid hall name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from hallkpi.telephony.errors import TelephonyConfigError

Unmapped = Literal["skip", "default", "queue"]
HALL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def check_hall(hall: str, where: str) -> str:
    """``hall`` if it is a valid EVENTS.md hall name, else TelephonyConfigError."""
    if not isinstance(hall, str) or not HALL_RE.fullmatch(hall):
        raise TelephonyConfigError(
            f"{where}: hall {hall!r} must be 1..64 characters of A-Z a-z 0-9 _ . -"
        )
    return hall


@dataclass(frozen=True)
class QueueMap:
    """Queue name -> hall, with a policy for queues not listed."""

    queues: Mapping[str, str] = field(default_factory=dict)
    unmapped: Unmapped = "skip"
    default_hall: str | None = None
    _lowered: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lowered: dict[str, str] = {}
        for queue, hall in self.queues.items():
            if not queue:
                raise TelephonyConfigError("a queue name in the hall map is empty")
            lowered[queue.lower()] = check_hall(hall, f"queue {queue!r}")
        object.__setattr__(self, "_lowered", lowered)
        if self.unmapped not in ("skip", "default", "queue"):
            raise TelephonyConfigError(
                f"unmapped must be 'skip', 'default' or 'queue', not {self.unmapped!r}"
            )
        if self.default_hall is not None:
            check_hall(self.default_hall, "default_hall")
        if self.unmapped == "default" and self.default_hall is None:
            raise TelephonyConfigError("unmapped = 'default' needs default_hall = '<hall>'")

    def hall(self, queue: str) -> str | None:
        """The hall of ``queue``, or None when its calls are to be skipped."""
        hall = self._lowered.get(queue.lower())
        if hall is not None:
            return hall
        if self.unmapped == "default":
            return self.default_hall
        if self.unmapped == "queue" and HALL_RE.fullmatch(queue):
            return queue
        return None

    def merged(self, other: Mapping[str, str]) -> QueueMap:
        """This map with ``other``'s entries added (they win)."""
        return QueueMap({**self.queues, **other}, self.unmapped, self.default_hall)

    @staticmethod
    def parse_pairs(text: str) -> dict[str, str]:
        """``"q1=hall1,q2=hall2"`` (the ``--hall-map`` option) as a dict."""
        out: dict[str, str] = {}
        for item in text.split(","):
            if not item.strip():
                continue
            queue, sep, hall = item.partition("=")
            if not sep or not queue.strip() or not hall.strip():
                raise TelephonyConfigError(
                    f"--hall-map: {item.strip()!r} is not queue=hall (e.g. 12366-yuhua=yuhua)"
                )
            out[queue.strip()] = check_hall(hall.strip(), f"--hall-map {queue.strip()!r}")
        return out

    @classmethod
    def from_section(cls, section: Mapping[str, object], *, source: str) -> QueueMap:
        """From the ``[telephony]`` table of a configuration file."""
        queues = section.get("queues", {})
        if not isinstance(queues, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in queues.items()
        ):
            raise TelephonyConfigError(f'{source}: [telephony.queues] must map "queue" = "hall"')
        unmapped = section.get("unmapped", "default" if "default_hall" in section else "skip")
        default_hall = section.get("default_hall")
        if default_hall is not None and not isinstance(default_hall, str):
            raise TelephonyConfigError(f"{source}: telephony.default_hall must be a string")
        try:
            return cls(dict(queues), cast(Unmapped, unmapped), default_hall)
        except TelephonyConfigError as exc:
            raise TelephonyConfigError(f"{source}: [telephony] {exc}") from None
