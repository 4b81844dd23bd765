// Columns: a columnar batch of events in (backfills), and the snapshot out as numpy
// columns (one row per hall x horizon, or per hall x staff x horizon) for the store.
#include <pybind11/stl.h>

#include <algorithm>

#include "columns.hpp"
#include "py_engine.hpp"

namespace hallkpi::py_binding {

namespace {

// The string fields a batch may carry, named as the event fields.
constexpr Field kStringFields[] = {F_ID,      F_TYPE,   F_HALL,  F_TICKET,  F_SERVICE,
                                   F_CHANNEL, F_WINDOW, F_STAFF, F_OPINION, F_CALL,
                                   F_QUEUE,   F_AGENT,  F_STATE, F_PRODUCER};

// A KPI column of the output: int64 for counts, float64 otherwise.
struct OutColumn {
  const KpiInfo* info;
  int64_t* ints = nullptr;
  double* doubles = nullptr;

  OutColumn(const KpiInfo* i, size_t rows, py::dict& out) : info(i) {
    py::str name(std::string(info->name));
    if (info->integer) {
      py::array_t<int64_t> a(rows);
      ints = a.mutable_data();
      out[name] = a;
    } else {
      py::array_t<double> a(rows);
      doubles = a.mutable_data();
      out[name] = a;
    }
  }
  void put(size_t r, double v) const {
    if (ints)
      ints[r] = static_cast<int64_t>(v);
    else
      doubles[r] = v;
  }
};

// Fills an object column with new references to `values`.
py::array object_column(const std::vector<py::object>& values) {
  py::array a = object_array(values.size());
  auto** p = static_cast<PyObject**>(a.mutable_data());
  for (size_t r = 0; r < values.size(); ++r) {
    Py_XDECREF(p[r]);
    p[r] = values[r].inc_ref().ptr();
  }
  return a;
}

py::array_t<int64_t> filled(size_t rows, int64_t v) {
  py::array_t<int64_t> a(rows);
  std::fill(a.mutable_data(), a.mutable_data() + rows, v);
  return a;
}

}  // namespace

// Columnar batch: numpy columns, one row per event (see hallkpi.core.Engine.push_columns).
py::tuple PyEngine::push_columns(const py::dict& cols, const py::list& traces) {
  if (!cols.contains("ts") || !cols.contains("type") || !cols.contains("id") ||
      !cols.contains("hall"))
    throw py::value_error("columns 'id', 'type', 'ts' and 'hall' are required");
  auto ts = py::array_t<int64_t, py::array::forcecast>::ensure(cols["ts"]);
  if (!ts) throw py::type_error("column 'ts' must be integer milliseconds");
  if (ts.ndim() != 1) throw py::value_error("column 'ts' must be 1-d");
  const size_t n = static_cast<size_t>(ts.shape(0));
  std::vector<std::pair<Field, StrColumn>> strs;
  for (Field f : kStringFields)
    if (cols.contains(field_name(f)))
      strs.emplace_back(f, StrColumn(cols[field_name(f)].cast<py::array>(), n, field_name(f)));
  const NumColumn<int64_t> score(cols, "score", n, "integers");
  const NumColumn<double> hold(cols, "hold_s", n, "numbers"), talk(cols, "talk_s", n, "numbers");
  // Contract v1.1: seq -1 and epoch 0 mean absent (as an empty producer does).
  const NumColumn<int64_t> seq(cols, "seq", n, "integers"), epoch(cols, "epoch", n, "integers");

  // The traced figures: (KPI, output horizon) pairs, one column each of the trace.
  struct Traced {
    Kpi kpi;
    size_t output;
    bool gauge;
  };
  std::vector<Traced> traced;
  for (const py::handle t : traces) {
    auto [kname, hname] = t.cast<std::pair<std::string, std::string>>();
    Traced x{Kpi::Count, 0, false};  // kpi_by_name knows the hall KPIs, not per-staff ones
    if (!kpi_by_name(kname, &x.kpi)) throw py::value_error("unknown KPI '" + kname + "'");
    x.gauge = kpi_info(x.kpi).scope == Scope::Gauge;
    if (kpi_info(x.kpi).scope == Scope::Windowed) {
      x.output = engine_.output_count();
      for (size_t o = 0; o < engine_.output_count(); ++o)
        if (engine_.output_name(o) == hname) x.output = o;
      if (x.output == engine_.output_count())
        throw py::value_error("horizon '" + hname + "' is not an output horizon");
    }
    traced.push_back(x);
  }
  const size_t k = traced.size();
  py::array_t<double> trace(
      std::vector<py::ssize_t>{static_cast<py::ssize_t>(k ? n : 0), static_cast<py::ssize_t>(k)});
  double* tr = k ? trace.mutable_data() : nullptr;
  auto tsv = ts.unchecked<1>();
  PushResult res;
  for (size_t i = 0; i < n; ++i) {
    raw_.clear();
    raw_.set_int(F_TS, tsv(i));
    for (const auto& [f, col] : strs) col.read(i, f, raw_);
    if (score.present() && score[i] != 0) raw_.set_int(F_SCORE, score[i]);
    if (hold.present() && !std::isnan(hold[i])) raw_.set_number(F_HOLD_S, hold[i]);
    if (talk.present() && !std::isnan(talk[i])) raw_.set_number(F_TALK_S, talk[i]);
    if (seq.present() && seq[i] != -1) raw_.set_int(F_SEQ, seq[i]);
    if (epoch.present() && epoch[i] != 0) raw_.set_int(F_EPOCH, epoch[i]);
    std::string reason;
    Outcome o = engine_.push(raw_, &reason);
    if (o == Outcome::Applied)
      ++res.applied;
    else if (o == Outcome::Duplicate)
      ++res.duplicates;
    else {
      ++res.rejected;
      res.rejections.push_back({i, std::move(reason)});
    }
    if (k) {
      double* row = tr + i * k;
      std::fill(row, row + k, NAN);
      if (o == Outcome::Applied && raw_.f[F_HALL].kind == Kind::String) {
        const int64_t h = engine_.find_hall(raw_.f[F_HALL].s);
        if (h >= 0)
          for (size_t j = 0; j < k; ++j)
            row[j] = traced[j].gauge ? engine_.gauge(static_cast<size_t>(h), traced[j].kpi)
                                     : engine_.windowed(static_cast<size_t>(h), traced[j].output,
                                                        traced[j].kpi);
      }
    }
  }
  return py::make_tuple(result_tuple(res), k ? py::object(trace) : py::object(py::none()));
}

// One row per hall x output horizon; gauges repeated on each row of a hall. Filled hall
// by hall (gauges computed once per hall) so each hall's state is read while cached.
py::dict PyEngine::snapshot_columns() {
  const size_t halls = engine_.hall_count(), outs = engine_.output_count(), rows = halls * outs;
  py::dict out;
  py::array hall_col = object_array(rows), horizon_col = object_array(rows);
  auto** hp = static_cast<PyObject**>(hall_col.mutable_data());
  auto** op = static_cast<PyObject**>(horizon_col.mutable_data());
  out["hall"] = hall_col;
  out["horizon"] = horizon_col;
  out["ts"] = filled(rows, engine_.now());
  std::vector<OutColumn> gauges, windowed;
  for (const KpiInfo* info : kpis_of(Scope::Gauge)) gauges.emplace_back(info, rows, out);
  for (const KpiInfo* info : kpis_of(Scope::Windowed)) windowed.emplace_back(info, rows, out);
  for (size_t h = 0; h < halls; ++h) {
    py::str name(engine_.hall_name(h));
    for (const OutColumn& c : gauges) {
      const double v = engine_.gauge(h, c.info->kpi);
      for (size_t o = 0; o < outs; ++o) c.put(h * outs + o, v);
    }
    for (size_t o = 0; o < outs; ++o) {
      const size_t r = h * outs + o;
      Py_XDECREF(hp[r]);
      hp[r] = name.inc_ref().ptr();
      Py_XDECREF(op[r]);
      op[r] = horizon_keys_[o].inc_ref().ptr();
      for (const OutColumn& c : windowed) c.put(r, engine_.windowed(h, o, c.info->kpi));
    }
  }
  return out;
}

// One row per hall x staff x output horizon.
py::dict PyEngine::staff_columns() {
  const auto& kpis = kpis_of(Scope::Staff);
  const size_t outs = engine_.output_count();
  std::vector<py::object> hall_v, staff_v, hz_v;
  std::vector<std::vector<double>> vals(kpis.size());
  for (size_t h = 0; h < engine_.hall_count(); ++h) {
    py::str hname(engine_.hall_name(h));
    for (size_t s = 0; s < engine_.staff_count(h); ++s) {
      py::str sname(engine_.staff_name(h, s));
      for (size_t o = 0; o < outs; ++o) {
        hall_v.push_back(hname);
        staff_v.push_back(sname);
        hz_v.push_back(horizon_keys_[o]);
        for (size_t j = 0; j < kpis.size(); ++j)
          vals[j].push_back(engine_.staff_value(h, o, s, kpis[j]->kpi));
      }
    }
  }
  const size_t rows = hall_v.size();
  py::dict out;
  out["hall"] = object_column(hall_v);
  out["staff"] = object_column(staff_v);
  out["horizon"] = object_column(hz_v);
  out["ts"] = filled(rows, engine_.now());
  for (size_t j = 0; j < kpis.size(); ++j) {
    const OutColumn c(kpis[j], rows, out);
    for (size_t r = 0; r < rows; ++r) c.put(r, vals[j][r]);
  }
  return out;
}

void register_columns(py::class_<PyEngine>& cls) {
  cls.def("_push_columns", &PyEngine::push_columns, py::arg("columns"), py::arg("traces"),
          "Columnar batch of events; traces: (kpi, horizon) pairs read after each row.")
      .def("snapshot_columns", &PyEngine::snapshot_columns, "One row per hall x horizon.")
      .def("staff_columns", &PyEngine::staff_columns, "One row per hall x staff x horizon.");
}

}  // namespace hallkpi::py_binding
