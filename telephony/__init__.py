if __name__ != "hallkpi.telephony":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.telephony, not {__name__!r}")

# hallkpi.telephony: our own asyncio Asterisk AMI client (sans-IO protocol layer and a
# thin transport) and the translation of queue events into EVENTS.md call events.
