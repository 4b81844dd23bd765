// Engine: construction from one Config, events in (dict, JSON, JSON lines), the clock,
// alert and gap changes out, and the counters.
#include <pybind11/stl.h>

#include "py_engine.hpp"

namespace hallkpi::py_binding {

bool PyEngine::push(py::handle event) {
  read_dict(event.ptr(), raw_);
  raw_.lookup = dict_lookup;  // an extension event's own fields (contract v1.2)
  raw_.lookup_ctx = event.ptr();
  std::string reason;
  Outcome o = engine_.push(raw_, &reason);
  raw_.lookup = nullptr;  // the dict is the caller's: never looked at after this call
  if (o == Outcome::Rejected) {
    PyErr_SetObject(g_invalid_event, text(reason).ptr());
    throw py::error_already_set();
  }
  return o == Outcome::Applied;
}

py::tuple PyEngine::push_json(const py::buffer& payload) {
  py::buffer_info info;
  return result_tuple(engine_.push_json(bytes_view(payload, info)));
}

py::tuple PyEngine::push_jsonl(const py::buffer& data) {
  py::buffer_info info;
  return result_tuple(engine_.push_jsonl(bytes_view(data, info)));
}

py::list PyEngine::drain_alerts() {
  Keys& k = keys();
  py::list out;
  for (const AlertChange& c : engine_.drain_alerts()) {
    py::object owner = new_dict();
    PyObject* d = owner.ptr();
    set_steal(d, k.hall, PyUnicode_FromString(engine_.hall_name(c.hall).c_str()));
    set_steal(d, k.alert, PyUnicode_FromString(engine_.rule_name(c.rule).c_str()));
    set_steal(d, k.state, PyUnicode_FromString(state_name(c.state)));
    set_steal(d, k.value, number(c.value, false));
    set_steal(d, k.threshold, PyFloat_FromDouble(c.threshold));
    set_steal(d, k.ts, PyLong_FromLongLong(c.ts));
    if (!c.detail.empty()) set_steal(d, k.detail, text(c.detail).release().ptr());
    out.append(owner);
  }
  return out;
}

// Every counter; the snapshot's document has the upstream ones only once a sequenced
// event was applied (KPIS.md lists the first five).
py::dict PyEngine::diagnostics(bool snapshot) const {
  const Diagnostics& d = engine_.diagnostics();
  py::dict out;
  out["events_applied"] = d.events_applied;
  out["duplicate_events"] = d.duplicate_events;
  out["late_events"] = d.late_events;
  out["orphan_events"] = d.orphan_events;
  out["rejected_events"] = d.rejected_events;
  if (snapshot && !engine_.gaps().seen()) return out;
  const GapStats& g = engine_.gaps().stats();
  out["upstream_lost_events"] = g.lost;
  out["upstream_gaps"] = g.gaps;
  out["upstream_recovered_events"] = g.recovered;
  out["seq_repeats"] = g.repeats;
  out["producers"] = engine_.gaps().streams();
  out["producers_overflow"] = g.overflow;
  out["upstream_gaps_forgotten"] = g.forgotten;
  return out;
}

py::object PyEngine::gap_dict(const GapChange& c, bool change) const {
  Keys& k = keys();
  py::object owner = new_dict();
  PyObject* d = owner.ptr();
  set_steal(d, k.producer, text(c.producer).release().ptr());
  set_steal(d, k.epoch, PyLong_FromLongLong(c.epoch));
  set_steal(d, k.hall, PyUnicode_FromString(engine_.hall_name(c.hall).c_str()));
  set_steal(d, k.first_seq, PyLong_FromLongLong(c.first_seq));
  set_steal(d, k.last_seq, PyLong_FromLongLong(c.last_seq));
  set_steal(d, k.missing, PyLong_FromLongLong(c.count));
  set_steal(d, k.since_ts, PyLong_FromLongLong(c.since_ts));
  if (change) {
    set_steal(d, k.state, PyUnicode_FromString(c.filled ? "filled" : "missing"));
    set_steal(d, k.ts, PyLong_FromLongLong(c.ts));
  }
  return owner;
}

py::list PyEngine::producer_gaps() const {
  py::list out;
  for (const GapChange& c : engine_.gaps().open_gaps()) out.append(gap_dict(c, false));
  return out;
}

py::list PyEngine::drain_gap_changes() {
  py::list out;
  for (const GapChange& c : engine_.drain_gap_changes()) out.append(gap_dict(c, true));
  return out;
}

std::vector<std::string> PyEngine::halls() const {
  std::vector<std::string> out;
  for (size_t h = 0; h < engine_.hall_count(); ++h) out.push_back(engine_.hall_name(h));
  return out;
}

std::vector<std::string> PyEngine::horizons() const {
  std::vector<std::string> out;
  for (size_t o = 0; o < engine_.output_count(); ++o) out.push_back(engine_.output_name(o));
  return out;
}

void register_engine(py::class_<PyEngine>& cls) {
  cls.def(py::init<const Config&>(), py::arg("config"), "An engine built from one Config.")
      .def("push", &PyEngine::push, py::arg("event"),
           "Applies one event dict; False for a duplicate.")
      .def("_push_json", &PyEngine::push_json, py::arg("payload"), "One JSON object or array.")
      .def("_push_jsonl", &PyEngine::push_jsonl, py::arg("data"), "JSON lines.")
      .def("_advance", &PyEngine::advance, py::arg("now_ms"), "Moves the clock, evaluates alerts.")
      .def("drain_alerts", &PyEngine::drain_alerts, "Alert changes not yet drained, oldest first.")
      .def_property_readonly("now", &PyEngine::now, "The engine clock, ms since the epoch (UTC).")
      .def(
          "diagnostics", [](const PyEngine& e) { return e.diagnostics(false); },
          "Engine counters (upstream loss ones included).")
      .def("producer_gaps", &PyEngine::producer_gaps,
           "Open reported holes of the producers' sequences, by producer, epoch, seq.")
      .def("drain_gap_changes", &PyEngine::drain_gap_changes,
           "Holes reported (missing) and filled since the last call, oldest first.")
      .def_property_readonly("gap_changes_dropped", &PyEngine::gap_changes_dropped,
                             "Gap changes dropped because nobody drained them.")
      .def_property_readonly("alerts_dropped", &PyEngine::alerts_dropped,
                             "Alert changes dropped because nobody drained them.")
      .def("halls", &PyEngine::halls, "Hall names in first-seen order.")
      .def("horizons", &PyEngine::horizons, "Output horizon names, today last.")
      .def("memory_bytes", &PyEngine::memory_bytes, "Approximate heap bytes held.");
}

}  // namespace hallkpi::py_binding
