if __name__ != "hallkpi.ingest.report":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.ingest.report, not {__name__!r}")

__doc__ = """Reports from the store: ``hallkpi trends`` (``trends``), ``hallkpi report``
(``staff``), their SQL (``history_sql``), tables (``output``) and plots (``plot``), and
the demo's HTML/SVG report (``data``, ``html``, ``svg``). ``cli`` holds the two commands' argument
code, so the report modules themselves never import a command module.

May import: ``hallkpi.core`` and ``hallkpi.ingest.store``; nothing of service, decide or
demo.
"""
