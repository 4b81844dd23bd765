if __name__ != "hallkpi.ingest.credit":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.credit, not {__name__!r}")

__doc__ = """Taxpayer credit room: the facts and results in the store (migration 7), import
from CSV/Parquet exports, city/county scopes, the publication files, and the command
``hallkpi credit``. The evaluation itself is :mod:`hallkpi.core.credit.evaluate`.

May import: ``hallkpi.core`` and ``hallkpi.ingest.store`` (not service, report, decide,
demo). See ``docs/CREDIT.md``.
"""
