if __name__ != "hallkpi.ingest.store":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.store, not {__name__!r}")

__doc__ = """The ClickHouse store: client and URLs (``connection``, ``url``), schema and migrations
(``schema``, ``sql``), the native block encoding (``native``, ``batch``, ``split``), the
writer and its delivery path (``writer``, ``conveyor``, ``delivery``, ``refusals``,
``spool``), recovery of the engine from stored events (``recovery``), and ``hallkpi load``
(``load``, ``load_chunk``, ``jsonl``).

May import: ``hallkpi.core`` and ``hallkpi.ingest.errors``; nothing of the other rooms of
``hallkpi.ingest`` (service, report, decide, demo). ``cli_options`` is command glue (the
``--store`` options): only command modules import it.
"""
