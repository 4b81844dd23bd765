if __name__ != "hallkpi.ingest.service":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.service, not {__name__!r}")

__doc__ = """``hallkpi serve``: MQTT in, KPIs live, status and alerts out, the store behind.

``logic`` is the sans-IO service (an event in, what to publish and store out); ``app``
the asyncio service around it; ``broker_link`` the MQTT connection, with the one place
that reaches into gmqtt's internals in ``gmqtt_takeover``; ``acks``, ``outbox``,
``topics``, ``decode``, ``counters``, ``health`` and ``http`` its parts; ``live_advice``
the advice published live; ``cli`` the command.

May import: ``hallkpi.core``, ``hallkpi.telephony`` (the AMI source) and
``hallkpi.ingest.store``; nothing of report, decide or demo.
"""
