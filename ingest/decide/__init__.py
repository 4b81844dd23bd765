if __name__ != "hallkpi.ingest.decide":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.decide, not {__name__!r}")

__doc__ = """Decision-support commands over the store's history: ``hallkpi advise``, ``hallkpi
schedule`` and ``hallkpi backtest-wait``. The history they share is ``history`` (SQL over
the store), their shared options ``options``; the maths is :mod:`hallkpi.core.decide`.

May import: ``hallkpi.core``, ``hallkpi.ingest.store`` and ``hallkpi.ingest.report``
(tables); nothing of service or demo. No command module imports another.
"""
