if __name__ != "hallkpi.ingest.demo":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.demo, not {__name__!r}")

__doc__ = """``hallkpi demo``: a simulated business day, live on a wall screen, into the store,
then a report. ``day`` runs it in-process (engine and store writer, no MQTT client
loaded); ``mqtt_day`` through a local Mosquitto and ``hallkpi serve``; ``wall`` draws the
screen; ``sim_publish`` publishes simulator output for ``hallkpi simulate --mqtt``.

May import every room below it (store, service, report) and ``hallkpi.core``; nothing
imports the demo.
"""
