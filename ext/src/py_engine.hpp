// The engine as the binding holds it: the C++ Engine, the scratch event of the dict path,
// and the interned horizon names. Its methods live in the register_*.cpp file of their
// subject (engine, snapshot, columns); each is one crossing from Python.
#pragma once

#include <string>
#include <vector>

#include "conversions.hpp"

namespace hallkpi::py_binding {

class PyEngine {
 public:
  explicit PyEngine(const Config& config) : engine_(config) {
    for (size_t o = 0; o < engine_.output_count(); ++o)
      horizon_keys_.push_back(py::reinterpret_steal<py::object>(
          PyUnicode_InternFromString(engine_.output_name(o).c_str())));
  }

  // register_engine.cpp: events in, clock, alerts, counters.
  bool push(py::handle event);
  py::tuple push_json(const py::buffer& payload);
  py::tuple push_jsonl(const py::buffer& data);
  void advance(int64_t now_ms) { engine_.advance(now_ms); }
  py::list drain_alerts();
  int64_t now() const { return engine_.now(); }
  py::dict diagnostics(bool snapshot) const;
  py::list producer_gaps() const;
  py::list drain_gap_changes();
  int64_t gap_changes_dropped() const { return engine_.gaps().stats().changes_dropped; }
  int64_t alerts_dropped() const { return engine_.diagnostics().alerts_dropped; }
  std::vector<std::string> halls() const;
  std::vector<std::string> horizons() const;
  size_t memory_bytes() const { return engine_.memory_bytes(); }

  // register_snapshot.cpp: the KPIS.md snapshot as dicts.
  py::object hall(const std::string& name);
  py::object gauges(const std::string& name);
  py::dict snapshot();
  std::string snapshot_json() { return engine_.snapshot_json(); }
  py::list alert_states() const;

  // register_columns.cpp: numpy columns in and out.
  py::tuple push_columns(const py::dict& cols, const py::list& traces);
  py::dict snapshot_columns();
  py::dict staff_columns();

 private:
  size_t hall_of(const std::string& name) const {
    int64_t h = engine_.find_hall(name);
    if (h < 0) throw py::key_error("no hall named '" + name + "'");
    return static_cast<size_t>(h);
  }
  py::object hall_dict(size_t h);
  py::object gauges_dict(size_t h);
  py::object gap_dict(const GapChange& c, bool change) const;

  Engine engine_;
  RawEvent raw_;
  std::vector<py::object> horizon_keys_;
};

// Each adds its methods to the one Engine class (module.cpp makes it).
void register_config(py::module_& m);
void register_engine(py::class_<PyEngine>& cls);
void register_snapshot(py::class_<PyEngine>& cls);
void register_columns(py::class_<PyEngine>& cls);
void register_extensions(py::module_& m);  // register_extensions.cpp: contract v1.2
void register_store(py::module_& m);       // register_store.cpp: hallkpi load's one parse

}  // namespace hallkpi::py_binding
