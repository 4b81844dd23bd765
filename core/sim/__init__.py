if __name__ != "hallkpi.core.sim":  # first line on purpose: see STYLE.md, packaging rules
    raise ImportError(f"import this package as hallkpi.core.sim, not {__name__!r}")

__doc__ = """The simulator: business days of halls (``hall``), phone lines (``calls``), injected
faults (``faults``), put together as one event stream (``simulate``) and the
``hallkpi simulate`` command (``cli``).

May import: ``hallkpi.core.errors`` only: the simulator knows the event contract, not
the engine, the decision maths or any package above core.
"""
