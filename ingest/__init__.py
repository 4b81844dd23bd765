if __name__ != "hallkpi.ingest":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest, not {__name__!r}")

# hallkpi.ingest: the service side, in rooms (docs/ARCHITECTURE.md): store (ClickHouse,
# writer, spool, recovery, load), service (`hallkpi serve`), report, decide, demo. The
# store is the floor; service and report build on it, decide on both store and report;
# the demo drives them all and nothing imports it (tests/test_layering.py).
# Needs the `server` extra: pip install 'hallkpi[server]'.
