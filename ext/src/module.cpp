// hallkpi.core._engine: the thin Python binding of the header-only engine. Each subject
// registers itself from its own file (register_*.cpp); conversions.hpp holds the shared
// Python <-> C++ conversions; py_engine.hpp the engine object they all extend.
#include <pybind11/pybind11.h>

#include "py_engine.hpp"

namespace py = pybind11;
using hallkpi::py_binding::PyEngine;

PYBIND11_MODULE(_engine, m) {
  m.doc() = "The compiled hallkpi KPI engine (use hallkpi.core.Engine).";
  m.def(
      "_set_invalid_event",
      [](py::object cls) {
        Py_INCREF(cls.ptr());
        hallkpi::py_binding::g_invalid_event = cls.ptr();
      },
      "Sets the exception class raised for an invalid event.");
  hallkpi::py_binding::register_config(m);
  hallkpi::py_binding::register_extensions(m);
  py::class_<PyEngine> engine(m, "Engine", "The compiled engine; see hallkpi.core.Engine.");
  hallkpi::py_binding::register_engine(engine);
  hallkpi::py_binding::register_snapshot(engine);
  hallkpi::py_binding::register_columns(engine);
  hallkpi::py_binding::register_store(m);
}
