// Snapshot: the KPIS.md snapshot document as dicts (all halls, one hall, one hall's
// gauges), as JSON text, and the state of every alert.
#include <pybind11/stl.h>

#include "py_engine.hpp"

namespace hallkpi::py_binding {

py::object PyEngine::gauges_dict(size_t h) {
  Keys& k = keys();
  py::object g = new_dict();
  for (const KpiInfo* info : kpis_of(Scope::Gauge))
    set_steal(g.ptr(), k.of(info->kpi), number(engine_.gauge(h, info->kpi), info->integer));
  return g;
}

py::object PyEngine::hall_dict(size_t h) {
  Keys& k = keys();
  const auto windowed = kpis_of(Scope::Windowed), staff = kpis_of(Scope::Staff);
  py::object hd = new_dict();
  set_item(hd.ptr(), k.now, gauges_dict(h).ptr());
  for (size_t o = 0; o < engine_.output_count(); ++o) {
    py::object w = new_dict();
    for (const KpiInfo* info : windowed)
      set_steal(w.ptr(), k.of(info->kpi), number(engine_.windowed(h, o, info->kpi), info->integer));
    set_item(hd.ptr(), horizon_keys_[o].ptr(), w.ptr());
  }
  py::object sd = new_dict();
  for (size_t s = 0; s < engine_.staff_count(h); ++s) {
    py::object per = new_dict();
    for (size_t o = 0; o < engine_.output_count(); ++o) {
      py::object w = new_dict();
      for (const KpiInfo* info : staff)
        set_steal(w.ptr(), k.of(info->kpi),
                  number(engine_.staff_value(h, o, s, info->kpi), info->integer));
      set_item(per.ptr(), horizon_keys_[o].ptr(), w.ptr());
    }
    py::str name(engine_.staff_name(h, s));
    set_item(sd.ptr(), name.ptr(), per.ptr());
  }
  set_item(hd.ptr(), k.staff, sd.ptr());
  return hd;
}

// The `now` row of one hall only (cheap: for live status documents).
py::object PyEngine::gauges(const std::string& name) { return gauges_dict(hall_of(name)); }

py::object PyEngine::hall(const std::string& name) { return hall_dict(hall_of(name)); }

py::dict PyEngine::snapshot() {
  py::dict out;
  out["now"] = engine_.now();
  py::dict halls;
  for (size_t h = 0; h < engine_.hall_count(); ++h)
    halls[py::str(engine_.hall_name(h))] = hall_dict(h);
  out["halls"] = halls;
  out["diagnostics"] = diagnostics(true);
  return out;
}

py::list PyEngine::alert_states() const {
  py::list out;
  for (size_t h = 0; h < engine_.hall_count(); ++h)
    for (size_t r = 0; r < engine_.rules().size(); ++r)
      out.append(py::make_tuple(engine_.hall_name(h), engine_.rules()[r].name,
                                state_name(engine_.alert_state(h, r))));
  for (size_t h = 0; h < engine_.hall_count(); ++h)
    if (engine_.gaps().tracked(static_cast<uint32_t>(h)))
      out.append(py::make_tuple(engine_.hall_name(h), upstream_rule_name(),
                                state_name(engine_.gaps().alert_state(static_cast<uint32_t>(h)))));
  return out;
}

void register_snapshot(py::class_<PyEngine>& cls) {
  cls.def("hall", &PyEngine::hall, py::arg("name"), "One hall's part of the snapshot.")
      .def("gauges", &PyEngine::gauges, py::arg("name"), "One hall's `now` row.")
      .def("snapshot", &PyEngine::snapshot, "The KPIS.md snapshot document as dicts.")
      .def("snapshot_json", &PyEngine::snapshot_json, "The KPIS.md snapshot document as JSON text.")
      .def("alert_states", &PyEngine::alert_states, "(hall, rule, state) of every alert.");
}

}  // namespace hallkpi::py_binding
