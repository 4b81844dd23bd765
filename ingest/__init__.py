if __name__ != "hallkpi.ingest":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest, not {__name__!r}")

# hallkpi.ingest: the service side: ClickHouse store (schema, writer, recovery, reports),
# MQTT in and out. Needs the `server` extra: pip install 'hallkpi[server]'.
