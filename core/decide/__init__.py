if __name__ != "hallkpi.core.decide":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.core.decide, not {__name__!r}")

__doc__ = """Decision maths, pure functions on numbers: queueing models (``erlang``), live advice
(``advice``), the quoted wait (``quoted_wait``), forecasts (``forecast``) and suggestions
(``suggest``, ``suggest_schedule``); ``cli`` is ``hallkpi erlang``.

May import: ``hallkpi.core.errors`` only (no engine, no simulator, no package above
core); configuration arrives as plain mappings.
"""
