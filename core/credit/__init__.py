if __name__ != "hallkpi.core.credit":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.core.credit, not {__name__!r}")

__doc__ = """Taxpayer credit (纳税信用): the indicator catalogue as data (``catalogue/*.toml``,
loaded by :mod:`hallkpi.core.credit.catalogue`), the unified social credit code
(:mod:`hallkpi.core.credit.uscc`) and the pure evaluator (:mod:`hallkpi.core.credit.evaluate`):
facts in, score, grade and every deduction with its fact out. No I/O beyond reading the
packaged catalogue files; the store and commands are in ``hallkpi.ingest.credit``.

May import: ``hallkpi.core.errors`` only. See ``docs/CREDIT.md``.
"""
