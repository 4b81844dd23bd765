if __name__ != "hallkpi.telephony":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.telephony, not {__name__!r}")

# hallkpi.telephony: our own asyncio Asterisk AMI client (sans-IO protocol layer and a
# thin transport) and the translation of queue events into EVENTS.md call events.
#
#     from hallkpi.telephony import CallEventSource, TelephonyConfig
#     async with CallEventSource.from_config(TelephonyConfig.load("hallkpi.toml")) as calls:
#         async for event in calls:          # EVENTS.md dicts
#             engine.push(event)
#
# Layers, bottom up: protocol (bytes <-> messages), session (ActionIDs, list actions),
# client (asyncio connection, watchdog), translate + members (messages -> events),
# source (servers, reconnects, resync), cli (`hallkpi ami`). See docs/TELEPHONY.md.

from hallkpi.telephony.client import AmiClient
from hallkpi.telephony.config import (
    DEFAULT_EVENTS,
    AmiServer,
    Backoff,
    ClientOptions,
    TelephonyConfig,
    read_secret,
)
from hallkpi.telephony.errors import (
    AmiActionError,
    AmiAuthError,
    AmiConnectionLost,
    AmiError,
    AmiProtocolError,
    AmiTimeout,
    TelephonyConfigError,
)
from hallkpi.telephony.mapping import QueueMap
from hallkpi.telephony.protocol import AmiParser, Message, encode_action
from hallkpi.telephony.records import Event, GapReport, TranslateOptions, TranslateStats
from hallkpi.telephony.session import AmiSession, Reply
from hallkpi.telephony.source import CallEventSource, ServerStatus
from hallkpi.telephony.translate import CallTranslator, translate_stream, translate_with

__all__ = [
    "DEFAULT_EVENTS",
    "AmiActionError",
    "AmiAuthError",
    "AmiClient",
    "AmiConnectionLost",
    "AmiError",
    "AmiParser",
    "AmiProtocolError",
    "AmiServer",
    "AmiSession",
    "AmiTimeout",
    "Backoff",
    "CallEventSource",
    "CallTranslator",
    "ClientOptions",
    "Event",
    "GapReport",
    "Message",
    "QueueMap",
    "Reply",
    "ServerStatus",
    "TelephonyConfig",
    "TelephonyConfigError",
    "TranslateOptions",
    "TranslateStats",
    "encode_action",
    "read_secret",
    "translate_stream",
    "translate_with",
]
