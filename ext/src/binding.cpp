// hallkpi.core._engine: the thin Python binding of the header-only engine.
// Hot paths (push of a dict, snapshots) use the CPython API directly so that Python
// crosses into C++ once per event or per payload, never once per field.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <string>
#include <vector>

#include "hallkpi/hallkpi.hpp"

namespace py = pybind11;
using namespace hallkpi;

namespace {

PyObject* g_invalid_event = PyExc_ValueError;  // replaced by hallkpi.core.InvalidEvent

// Interned key objects, made once.
struct Keys {
  PyObject* kpi[static_cast<size_t>(Kpi::Count)];
  PyObject *now, *staff, *halls, *diagnostics, *hall, *alert, *state, *value, *threshold, *ts;
  PyObject *detail, *producer, *epoch, *first_seq, *last_seq, *missing, *since_ts;
  Keys() {
    for (size_t i = 0; i < static_cast<size_t>(Kpi::Count); ++i)
      kpi[i] = PyUnicode_InternFromString(std::string(kKpis[i].name).c_str());
    now = PyUnicode_InternFromString("now");
    staff = PyUnicode_InternFromString("staff");
    halls = PyUnicode_InternFromString("halls");
    diagnostics = PyUnicode_InternFromString("diagnostics");
    hall = PyUnicode_InternFromString("hall");
    alert = PyUnicode_InternFromString("alert");
    state = PyUnicode_InternFromString("state");
    value = PyUnicode_InternFromString("value");
    threshold = PyUnicode_InternFromString("threshold");
    ts = PyUnicode_InternFromString("ts");
    detail = PyUnicode_InternFromString("detail");
    producer = PyUnicode_InternFromString("producer");
    epoch = PyUnicode_InternFromString("epoch");
    first_seq = PyUnicode_InternFromString("first_seq");
    last_seq = PyUnicode_InternFromString("last_seq");
    missing = PyUnicode_InternFromString("missing");
    since_ts = PyUnicode_InternFromString("since_ts");
  }
};

Keys& keys() {
  static Keys* k = new Keys();  // lives as long as the interpreter
  return *k;
}

// Sets d[key] = value, stealing the value reference.
void set_steal(PyObject* d, PyObject* key, PyObject* value) {
  if (!value) throw py::error_already_set();
  int rc = PyDict_SetItem(d, key, value);
  Py_DECREF(value);
  if (rc < 0) throw py::error_already_set();
}

PyObject* number(double v, bool integer) {
  if (std::isnan(v)) Py_RETURN_NONE;
  if (integer) return PyLong_FromLongLong(static_cast<long long>(v));
  return PyFloat_FromDouble(v);
}

void read_value(PyObject* v, Value& val);

// Reads a dict event into raw fields without copying strings (views into the str's UTF-8).
void read_dict(PyObject* obj, RawEvent& raw) {
  if (!PyDict_Check(obj)) throw py::type_error("an event is a dict");
  raw.clear();
  PyObject *k, *v;
  Py_ssize_t pos = 0;
  while (PyDict_Next(obj, &pos, &k, &v)) {
    if (!PyUnicode_Check(k)) continue;
    Py_ssize_t klen;
    const char* kp = PyUnicode_AsUTF8AndSize(k, &klen);
    if (!kp) {
      PyErr_Clear();
      continue;
    }
    Field f = field_of(std::string_view(kp, static_cast<size_t>(klen)));
    if (f == F_COUNT) continue;
    read_value(v, raw.f[f]);
  }
}

// One Python value as validation sees it (strings are views into the str's UTF-8).
void read_value(PyObject* v, Value& val) {
  if (PyUnicode_Check(v)) {
    Py_ssize_t n;
    const char* p = PyUnicode_AsUTF8AndSize(v, &n);
    if (!p) {
      PyErr_Clear();
      val.kind = Kind::InvalidText;
    } else {
      val.kind = Kind::String;
      val.s = std::string_view(p, static_cast<size_t>(n));
    }
  } else if (PyBool_Check(v)) {
    val.kind = Kind::Bool;
  } else if (PyLong_Check(v)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) {
      val.kind = Kind::BigInt;
      val.d = PyLong_AsDouble(v);  // inf (with an error to clear) past double range
      if (val.d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        val.d = overflow > 0 ? HUGE_VAL : -HUGE_VAL;
      }
    } else {
      val.kind = Kind::Int;
      val.i = x;
    }
  } else if (PyFloat_Check(v)) {
    val.kind = Kind::Float;
    val.d = PyFloat_AS_DOUBLE(v);
  } else if (v == Py_None) {
    val.kind = Kind::Null;
  } else {
    val.kind = Kind::Other;
  }
}

// --- contract v1.2: extension events (extension_events.hpp) ------------------------

// The lookup of an extension event's own fields in the event dict.
bool dict_lookup(const void* ctx, std::string_view name, Value* out) {
  PyObject* item = PyDict_GetItemString(static_cast<PyObject*>(const_cast<void*>(ctx)),
                                        std::string(name).c_str());
  if (item == nullptr) return false;  // borrowed, absent
  read_value(item, *out);
  return true;
}

// A validated extension event as a plain dict: the common fields and its own fields.
py::dict extension_dict(const ExtensionRecord& r) {
  py::dict d;
  d["id"] = py::str(r.id);
  d["type"] = py::str(std::string(kExtensionTypes[r.type].type));
  d["ts"] = r.ts;
  d["hall"] = py::str(r.hall);
  if (r.seq >= 0) {
    d["producer"] = py::str(r.producer);
    d["seq"] = r.seq;
    d["epoch"] = r.epoch;
  }
  for (const ExtValue& f : r.fields) {
    py::str key(std::string(f.name));
    if (f.kind == ExtKind::String)
      d[key] = py::str(f.s);
    else if (f.kind == ExtKind::Int)
      d[key] = f.i;
    else
      d[key] = f.d;
  }
  return d;
}

py::list extension_list(const PushResult& r) {
  py::list out;
  for (const auto& x : r.extensions) out.append(py::make_tuple(x.index, extension_dict(x)));
  return out;
}

void register_extension_events(py::module_& m) {
  m.def(
      "extension_types",
      []() {
        py::dict out;
        for (const auto& row : kExtensionTypes) {
          py::list fields;
          for (const auto& f : row.fields) {
            if (f.name.empty()) break;
            const char* kind = f.kind == ExtKind::String ? "string"
                               : f.kind == ExtKind::Int  ? "int"
                                                         : "number";
            fields.append(py::make_tuple(std::string(f.name), kind, f.need == ExtNeed::Required));
          }
          out[py::str(std::string(row.type))] = fields;
        }
        return out;
      },
      "The extension event types (contract v1.2): type -> [(field, kind, required)].");
}

// Reasons quote input: decode leniently so odd bytes can never raise here.
py::str text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

py::tuple result_tuple(const PushResult& r) {
  py::list rej;
  for (const auto& x : r.rejections) rej.append(py::make_tuple(x.index, text(x.reason)));
  return py::make_tuple(r.applied, r.duplicates, r.rejected, rej, extension_list(r));
}

std::string_view bytes_view(const py::buffer& b, py::buffer_info& info) {
  info = b.request();
  if (info.ndim > 1 || (info.ndim == 1 && info.itemsize != 1))
    throw py::type_error("expected bytes, bytearray or a 1-d byte buffer");
  return std::string_view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size));
}

py::array object_array(size_t n) {
  return py::array(py::dtype("O"), std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
}

TimeZone make_tz(const std::vector<std::pair<int64_t, int64_t>>& segments) {
  return TimeZone(segments);
}

// A string column of a batch: numpy 'S' (fixed-width bytes), or object (str/bytes/None).
class StrColumn {
 public:
  StrColumn() = default;
  StrColumn(py::array a, size_t n, const char* name) : arr_(std::move(a)) {
    if (arr_.ndim() != 1 || static_cast<size_t>(arr_.shape(0)) != n)
      throw py::value_error(std::string("column '") + name +
                            "' must be 1-d with one value per event");
    char kind = arr_.dtype().kind();
    if (kind == 'S') {
      width_ = static_cast<size_t>(arr_.itemsize());
      stride_ = arr_.strides(0);
      data_ = static_cast<const char*>(arr_.data());
      bytes_ = true;
    } else if (kind == 'O') {
      stride_ = arr_.strides(0);
      data_ = static_cast<const char*>(arr_.data());
    } else {
      throw py::type_error(std::string("column '") + name +
                           "' must have dtype S (UTF-8 bytes) or object (str)");
    }
    present_ = true;
  }
  bool present() const { return present_; }
  // Sets the field from row i; an empty or None value leaves it absent.
  void read(size_t i, Field f, RawEvent& raw) const {
    const char* p = data_ + static_cast<std::ptrdiff_t>(i) * stride_;
    if (bytes_) {
      size_t n = width_;
      while (n > 0 && p[n - 1] == '\0') --n;
      if (n) raw.set_string(f, std::string_view(p, n));
      return;
    }
    PyObject* o = *reinterpret_cast<PyObject* const*>(p);
    if (o == Py_None) return;
    if (PyUnicode_Check(o)) {
      Py_ssize_t n;
      const char* s = PyUnicode_AsUTF8AndSize(o, &n);
      if (!s) {
        PyErr_Clear();
        raw.f[f].kind = Kind::InvalidText;
      } else {
        raw.set_string(f, std::string_view(s, static_cast<size_t>(n)));
      }
    } else if (PyBytes_Check(o)) {
      raw.set_string(
          f, std::string_view(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o))));
    } else {
      raw.f[f].kind = Kind::Other;
    }
  }

 private:
  py::array arr_;
  const char* data_ = nullptr;
  size_t width_ = 0;
  py::ssize_t stride_ = 0;
  bool bytes_ = false, present_ = false;
};

class PyEngine {
 public:
  PyEngine(std::vector<int64_t> horizons_s, int64_t pane_ms,
           std::vector<std::pair<int64_t, int64_t>> tz_segments, double short_abandon_s,
           double service_level_s, double default_handle_s, int64_t opinion_sla_s,
           std::vector<py::tuple> rules, std::vector<std::pair<std::string, int64_t>> windows,
           std::vector<std::string> halls, size_t max_payload_bytes, int64_t max_lead_ms,
           int64_t max_age_ms, int64_t seq_grace_ms, int64_t upstream_alert_ms,
           size_t max_producers)
      : engine_(with_v11(make_config(std::move(horizons_s), pane_ms, tz_segments, short_abandon_s,
                                     service_level_s, default_handle_s, opinion_sla_s, rules,
                                     std::move(windows), std::move(halls), max_payload_bytes),
                         max_lead_ms, max_age_ms, seq_grace_ms, upstream_alert_ms, max_producers)) {
    for (size_t o = 0; o < engine_.output_count(); ++o)
      horizon_keys_.push_back(py::reinterpret_steal<py::object>(
          PyUnicode_InternFromString(engine_.output_name(o).c_str())));
  }

  static Config make_config(std::vector<int64_t> horizons_s, int64_t pane_ms,
                            const std::vector<std::pair<int64_t, int64_t>>& tz, double sa,
                            double sl, double dh, int64_t sla, const std::vector<py::tuple>& rules,
                            std::vector<std::pair<std::string, int64_t>> windows,
                            std::vector<std::string> halls, size_t max_payload) {
    Config c;
    c.horizons_s = std::move(horizons_s);
    c.pane_ms = pane_ms;
    c.timezone = make_tz(tz);
    c.short_abandon_s = sa;
    c.service_level_s = sl;
    c.default_handle_s = dh;
    c.opinion_sla_s = sla;
    c.alert_rules.clear();
    for (const auto& t : rules) {
      // (name, kpi, horizon, op, threshold, for_s, guard_kpi|None, guard_horizon|None, guard_min)
      AlertRule r;
      r.name = t[0].cast<std::string>();
      r.kpi = t[1].cast<std::string>();
      r.horizon = t[2].cast<std::string>();
      r.op = op_by_name(t[3].cast<std::string>());
      r.threshold = t[4].cast<double>();
      r.for_s = t[5].cast<double>();
      if (!t[6].is_none()) {
        r.has_guard = true;
        r.guard_kpi = t[6].cast<std::string>();
        r.guard_horizon = t[7].cast<std::string>();
        r.guard_min = t[8].cast<double>();
      }
      c.alert_rules.push_back(std::move(r));
    }
    c.configured_windows = std::move(windows);
    c.halls = std::move(halls);
    c.max_payload_bytes = max_payload;
    return c;
  }

  // Contract v1.1 options: clock bounds and upstream loss detection.
  static Config with_v11(Config c, int64_t lead, int64_t age, int64_t grace, int64_t alert,
                         size_t producers) {
    c.clock.max_lead_ms = lead;
    c.clock.max_age_ms = age;
    c.gaps.grace_ms = grace;
    c.gaps.alert_ms = alert;
    c.gaps.max_streams = producers;
    return c;
  }

  bool push(py::handle event) {
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

  py::tuple push_json(const py::buffer& payload) {
    py::buffer_info info;
    return result_tuple(engine_.push_json(bytes_view(payload, info)));
  }
  py::tuple push_jsonl(const py::buffer& data) {
    py::buffer_info info;
    return result_tuple(engine_.push_jsonl(bytes_view(data, info)));
  }

  // Columnar batch: numpy columns, one row per event (see hallkpi.core.Engine.push_columns).
  py::tuple push_columns(py::dict cols, py::object trace_kpi, py::object trace_horizon) {
    if (!cols.contains("ts") || !cols.contains("type") || !cols.contains("id") ||
        !cols.contains("hall"))
      throw py::value_error("columns 'id', 'type', 'ts' and 'hall' are required");
    auto ts = py::array_t<int64_t, py::array::forcecast>::ensure(cols["ts"]);
    if (!ts) throw py::type_error("column 'ts' must be integer milliseconds");
    if (ts.ndim() != 1) throw py::value_error("column 'ts' must be 1-d");
    const size_t n = static_cast<size_t>(ts.shape(0));
    static const Field string_fields[] = {F_ID,      F_TYPE,   F_HALL,  F_TICKET,  F_SERVICE,
                                          F_CHANNEL, F_WINDOW, F_STAFF, F_OPINION, F_CALL,
                                          F_QUEUE,   F_AGENT,  F_STATE, F_PRODUCER};
    std::vector<std::pair<Field, StrColumn>> strs;
    for (Field f : string_fields)
      if (cols.contains(field_name(f)))
        strs.emplace_back(f, StrColumn(cols[field_name(f)].cast<py::array>(), n, field_name(f)));
    py::array_t<int64_t, py::array::forcecast> score;
    py::array_t<double, py::array::forcecast> hold, talk;
    bool has_score = cols.contains("score"), has_hold = cols.contains("hold_s"),
         has_talk = cols.contains("talk_s");
    if (has_score) score = py::array_t<int64_t, py::array::forcecast>::ensure(cols["score"]);
    if (has_hold) hold = py::array_t<double, py::array::forcecast>::ensure(cols["hold_s"]);
    if (has_talk) talk = py::array_t<double, py::array::forcecast>::ensure(cols["talk_s"]);
    if ((has_score && !score) || (has_hold && !hold) || (has_talk && !talk))
      throw py::type_error("columns score, hold_s and talk_s must be numeric");
    for (auto* a : {&score})
      if (has_score && (a->ndim() != 1 || static_cast<size_t>(a->shape(0)) != n))
        throw py::value_error("column 'score' must be 1-d with one value per event");
    if ((has_hold && (hold.ndim() != 1 || static_cast<size_t>(hold.shape(0)) != n)) ||
        (has_talk && (talk.ndim() != 1 || static_cast<size_t>(talk.shape(0)) != n)))
      throw py::value_error("columns 'hold_s' and 'talk_s' need one value per event");
    // Contract v1.1: seq -1 and epoch 0 mean absent (as an empty producer does).
    py::array_t<int64_t, py::array::forcecast> seq, epoch;
    const bool has_seq = cols.contains("seq"), has_epoch = cols.contains("epoch");
    for (auto [has, arr, name] :
         {std::make_tuple(has_seq, &seq, "seq"), std::make_tuple(has_epoch, &epoch, "epoch")}) {
      if (!has) continue;
      *arr = py::array_t<int64_t, py::array::forcecast>::ensure(cols[name]);
      if (!*arr) throw py::type_error(std::string("column '") + name + "' must be integers");
      if (arr->ndim() != 1 || static_cast<size_t>(arr->shape(0)) != n)
        throw py::value_error(std::string("column '") + name +
                              "' must be 1-d with one value per event");
    }

    bool tracing = !trace_kpi.is_none();
    Kpi tk = Kpi::Count;
    size_t th = 0;
    if (tracing) {
      if (!kpi_by_name(trace_kpi.cast<std::string>(), &tk))
        throw py::value_error("unknown KPI '" + trace_kpi.cast<std::string>() + "'");
      std::string hn = trace_horizon.is_none() ? "now" : trace_horizon.cast<std::string>();
      if (kpi_info(tk).scope == Scope::Windowed) {
        bool found = false;
        for (size_t o = 0; o < engine_.output_count(); ++o)
          if (engine_.output_name(o) == hn) {
            th = o;
            found = true;
          }
        if (!found) throw py::value_error("horizon '" + hn + "' is not an output horizon");
      }
    }
    py::array_t<double> trace(tracing ? n : 0);
    double* tr = tracing ? trace.mutable_data() : nullptr;
    auto tsv = ts.unchecked<1>();
    PushResult res;
    for (size_t i = 0; i < n; ++i) {
      raw_.clear();
      raw_.set_int(F_TS, tsv(i));
      for (const auto& [f, col] : strs) col.read(i, f, raw_);
      if (has_score) {
        int64_t s = score.at(i);
        if (s != 0) raw_.set_int(F_SCORE, s);
      }
      if (has_hold && !std::isnan(hold.at(i))) raw_.set_number(F_HOLD_S, hold.at(i));
      if (has_talk && !std::isnan(talk.at(i))) raw_.set_number(F_TALK_S, talk.at(i));
      if (has_seq && seq.at(i) != -1) raw_.set_int(F_SEQ, seq.at(i));
      if (has_epoch && epoch.at(i) != 0) raw_.set_int(F_EPOCH, epoch.at(i));
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
      if (tracing) {
        double v = NAN;
        if (o == Outcome::Applied && raw_.f[F_HALL].kind == Kind::String) {
          int64_t h = engine_.find_hall(raw_.f[F_HALL].s);
          if (h >= 0)
            v = kpi_info(tk).scope == Scope::Gauge
                    ? engine_.gauge(static_cast<size_t>(h), tk)
                    : engine_.windowed(static_cast<size_t>(h), th, tk);
        }
        tr[i] = v;
      }
    }
    return py::make_tuple(result_tuple(res), tracing ? py::object(trace) : py::object(py::none()));
  }

  void advance(int64_t now_ms) { engine_.advance(now_ms); }

  py::list drain_alerts() {
    Keys& k = keys();
    py::list out;
    for (const AlertChange& c : engine_.drain_alerts()) {
      PyObject* d = PyDict_New();
      py::object owner = py::reinterpret_steal<py::object>(d);
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

  int64_t now() const { return engine_.now(); }

  // Every counter; the snapshot's document has the upstream ones only once a sequenced
  // event was applied (KPIS.md lists the first five).
  py::dict diagnostics(bool snapshot = false) const {
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

  static py::dict gap_dict(const Engine& e, const GapChange& c, bool change) {
    Keys& k = keys();
    PyObject* d = PyDict_New();
    py::object owner = py::reinterpret_steal<py::object>(d);
    set_steal(d, k.producer, text(c.producer).release().ptr());
    set_steal(d, k.epoch, PyLong_FromLongLong(c.epoch));
    set_steal(d, k.hall, PyUnicode_FromString(e.hall_name(c.hall).c_str()));
    set_steal(d, k.first_seq, PyLong_FromLongLong(c.first_seq));
    set_steal(d, k.last_seq, PyLong_FromLongLong(c.last_seq));
    set_steal(d, k.missing, PyLong_FromLongLong(c.count));
    set_steal(d, k.since_ts, PyLong_FromLongLong(c.since_ts));
    if (change) {
      set_steal(d, k.state, PyUnicode_FromString(c.filled ? "filled" : "missing"));
      set_steal(d, k.ts, PyLong_FromLongLong(c.ts));
    }
    return py::reinterpret_borrow<py::dict>(owner);
  }

  py::list producer_gaps() const {
    py::list out;
    for (const GapChange& c : engine_.gaps().open_gaps()) out.append(gap_dict(engine_, c, false));
    return out;
  }

  py::list drain_gap_changes() {
    py::list out;
    for (const GapChange& c : engine_.drain_gap_changes()) out.append(gap_dict(engine_, c, true));
    return out;
  }

  int64_t gap_changes_dropped() const { return engine_.gaps().stats().changes_dropped; }

  int64_t alerts_dropped() const { return engine_.diagnostics().alerts_dropped; }

  py::object hall_dict(size_t h) {
    Keys& k = keys();
    PyObject* hd = PyDict_New();
    py::object owner = py::reinterpret_steal<py::object>(hd);
    PyObject* g = PyDict_New();
    set_steal(hd, k.now, g);
    Py_INCREF(g);  // set_steal consumed one reference; keep using g
    py::object gown = py::reinterpret_steal<py::object>(g);
    for (const auto& info : kKpis)
      if (info.scope == Scope::Gauge)
        set_steal(g, k.kpi[static_cast<size_t>(info.kpi)],
                  number(engine_.gauge(h, info.kpi), info.integer));
    for (size_t o = 0; o < engine_.output_count(); ++o) {
      PyObject* w = PyDict_New();
      py::object wown = py::reinterpret_steal<py::object>(w);
      for (const auto& info : kKpis)
        if (info.scope == Scope::Windowed)
          set_steal(w, k.kpi[static_cast<size_t>(info.kpi)],
                    number(engine_.windowed(h, o, info.kpi), info.integer));
      if (PyDict_SetItem(hd, horizon_keys_[o].ptr(), w) < 0) throw py::error_already_set();
    }
    PyObject* sd = PyDict_New();
    py::object sown = py::reinterpret_steal<py::object>(sd);
    for (size_t s = 0; s < engine_.staff_count(h); ++s) {
      PyObject* per = PyDict_New();
      py::object pown = py::reinterpret_steal<py::object>(per);
      for (size_t o = 0; o < engine_.output_count(); ++o) {
        PyObject* w = PyDict_New();
        py::object wown = py::reinterpret_steal<py::object>(w);
        for (const auto& info : kKpis)
          if (info.scope == Scope::Staff)
            set_steal(w, k.kpi[static_cast<size_t>(info.kpi)],
                      number(engine_.staff_value(h, o, s, info.kpi), info.integer));
        if (PyDict_SetItem(per, horizon_keys_[o].ptr(), w) < 0) throw py::error_already_set();
      }
      py::str name(engine_.staff_name(h, s));
      if (PyDict_SetItem(sd, name.ptr(), per) < 0) throw py::error_already_set();
    }
    if (PyDict_SetItem(hd, k.staff, sd) < 0) throw py::error_already_set();
    return owner;
  }

  // The `now` row of one hall only (cheap: for live status documents).
  py::object gauges(const std::string& name) {
    int64_t h = engine_.find_hall(name);
    if (h < 0) throw py::key_error("no hall named '" + name + "'");
    Keys& k = keys();
    PyObject* g = PyDict_New();
    py::object owner = py::reinterpret_steal<py::object>(g);
    for (const auto& info : kKpis)
      if (info.scope == Scope::Gauge)
        set_steal(g, k.kpi[static_cast<size_t>(info.kpi)],
                  number(engine_.gauge(static_cast<size_t>(h), info.kpi), info.integer));
    return owner;
  }

  py::object hall(const std::string& name) {
    int64_t h = engine_.find_hall(name);
    if (h < 0) throw py::key_error("no hall named '" + name + "'");
    return hall_dict(static_cast<size_t>(h));
  }

  py::dict snapshot() {
    py::dict out;
    out["now"] = engine_.now();
    py::dict halls;
    for (size_t h = 0; h < engine_.hall_count(); ++h)
      halls[py::str(engine_.hall_name(h))] = hall_dict(h);
    out["halls"] = halls;
    out["diagnostics"] = diagnostics(true);
    return out;
  }

  std::string snapshot_json() { return engine_.snapshot_json(); }

  // One row per hall x output horizon; gauges repeated on each row of a hall. Filled hall
  // by hall (gauges computed once per hall) so each hall's state is read while cached.
  py::dict snapshot_columns() {
    const size_t halls = engine_.hall_count(), outs = engine_.output_count(), rows = halls * outs;
    py::dict out;
    py::array hall_col = object_array(rows), horizon_col = object_array(rows);
    auto** hp = static_cast<PyObject**>(hall_col.mutable_data());
    auto** op = static_cast<PyObject**>(horizon_col.mutable_data());
    out["hall"] = hall_col;
    out["horizon"] = horizon_col;
    py::array_t<int64_t> ts(rows);
    std::fill(ts.mutable_data(), ts.mutable_data() + rows, engine_.now());
    out["ts"] = ts;
    struct Column {
      const KpiInfo* info;
      int64_t* ints;
      double* doubles;
    };
    std::vector<Column> cols;
    for (const auto& info : kKpis) {
      if (info.scope == Scope::Staff) continue;
      Column c{&info, nullptr, nullptr};
      if (info.integer) {
        py::array_t<int64_t> a(rows);
        c.ints = a.mutable_data();
        out[py::str(std::string(info.name))] = a;
      } else {
        py::array_t<double> a(rows);
        c.doubles = a.mutable_data();
        out[py::str(std::string(info.name))] = a;
      }
      cols.push_back(c);
    }
    for (size_t h = 0; h < halls; ++h) {
      py::str name(engine_.hall_name(h));
      for (const Column& c : cols) {
        if (c.info->scope != Scope::Gauge) continue;
        const double v = engine_.gauge(h, c.info->kpi);
        for (size_t o = 0; o < outs; ++o) put(c, h * outs + o, v);
      }
      for (size_t o = 0; o < outs; ++o) {
        const size_t r = h * outs + o;
        Py_XDECREF(hp[r]);
        hp[r] = name.inc_ref().ptr();
        Py_XDECREF(op[r]);
        op[r] = horizon_keys_[o].inc_ref().ptr();
        for (const Column& c : cols)
          if (c.info->scope == Scope::Windowed) put(c, r, engine_.windowed(h, o, c.info->kpi));
      }
    }
    return out;
  }

  template <class C>
  static void put(const C& c, size_t r, double v) {
    if (c.ints)
      c.ints[r] = static_cast<int64_t>(v);
    else
      c.doubles[r] = v;
  }

  // One row per hall x staff x output horizon.
  py::dict staff_columns() {
    const size_t outs = engine_.output_count();
    std::vector<py::object> hall_v, staff_v, hz_v;
    std::vector<std::vector<double>> vals(6);
    for (size_t h = 0; h < engine_.hall_count(); ++h) {
      py::str hname(engine_.hall_name(h));
      for (size_t s = 0; s < engine_.staff_count(h); ++s) {
        py::str sname(engine_.staff_name(h, s));
        for (size_t o = 0; o < outs; ++o) {
          hall_v.push_back(hname);
          staff_v.push_back(sname);
          hz_v.push_back(horizon_keys_[o]);
          size_t j = 0;
          for (const auto& info : kKpis)
            if (info.scope == Scope::Staff)
              vals[j++].push_back(engine_.staff_value(h, o, s, info.kpi));
        }
      }
    }
    const size_t rows = hall_v.size();
    py::dict out;
    auto objects = [&](std::vector<py::object>& v) {
      py::array a = object_array(rows);
      auto** p = static_cast<PyObject**>(a.mutable_data());
      for (size_t r = 0; r < rows; ++r) {
        Py_XDECREF(p[r]);
        p[r] = v[r].inc_ref().ptr();
      }
      return a;
    };
    out["hall"] = objects(hall_v);
    out["staff"] = objects(staff_v);
    out["horizon"] = objects(hz_v);
    py::array_t<int64_t> ts(rows);
    std::fill(ts.mutable_data(), ts.mutable_data() + rows, engine_.now());
    out["ts"] = ts;
    size_t j = 0;
    for (const auto& info : kKpis) {
      if (info.scope != Scope::Staff) continue;
      if (info.integer) {
        py::array_t<int64_t> a(rows);
        for (size_t r = 0; r < rows; ++r) a.mutable_data()[r] = static_cast<int64_t>(vals[j][r]);
        out[py::str(std::string(info.name))] = a;
      } else {
        py::array_t<double> a(rows);
        std::copy(vals[j].begin(), vals[j].end(), a.mutable_data());
        out[py::str(std::string(info.name))] = a;
      }
      ++j;
    }
    return out;
  }

  py::list alert_states() {
    py::list out;
    for (size_t h = 0; h < engine_.hall_count(); ++h)
      for (size_t r = 0; r < engine_.rules().size(); ++r)
        out.append(py::make_tuple(engine_.hall_name(h), engine_.rules()[r].name,
                                  state_name(engine_.alert_state(h, r))));
    for (size_t h = 0; h < engine_.hall_count(); ++h)
      if (engine_.gaps().tracked(static_cast<uint32_t>(h)))
        out.append(
            py::make_tuple(engine_.hall_name(h), upstream_rule_name(),
                           state_name(engine_.gaps().alert_state(static_cast<uint32_t>(h)))));
    return out;
  }

  std::vector<std::string> halls() const {
    std::vector<std::string> out;
    for (size_t h = 0; h < engine_.hall_count(); ++h) out.push_back(engine_.hall_name(h));
    return out;
  }
  std::vector<std::string> horizons() const {
    std::vector<std::string> out;
    for (size_t o = 0; o < engine_.output_count(); ++o) out.push_back(engine_.output_name(o));
    return out;
  }
  size_t memory_bytes() const { return engine_.memory_bytes(); }

 private:
  Engine engine_;
  RawEvent raw_;
  std::vector<py::object> horizon_keys_;
};

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "The compiled hallkpi KPI engine (use hallkpi.core.Engine).";
  register_extension_events(m);
  m.def(
      "_set_invalid_event",
      [](py::object cls) {
        Py_INCREF(cls.ptr());
        g_invalid_event = cls.ptr();
      },
      "Sets the exception class raised for an invalid event.");
  m.def(
      "kpi_names",
      [](const std::string& scope) {
        std::vector<std::string> out;
        Scope want = scope == "gauge"      ? Scope::Gauge
                     : scope == "windowed" ? Scope::Windowed
                                           : Scope::Staff;
        if (scope != "gauge" && scope != "windowed" && scope != "staff")
          throw py::value_error("scope is gauge, windowed or staff");
        for (const auto& info : kKpis)
          if (info.scope == want) out.emplace_back(info.name);
        return out;
      },
      py::arg("scope"), "Public KPI names of a scope: 'gauge', 'windowed' or 'staff'.");
  m.def(
      "integer_kpis",
      []() {
        std::vector<std::string> out;
        for (const auto& info : kKpis)
          if (info.integer) out.emplace_back(info.name);
        return out;
      },
      "Names of the KPIs that are counts (integers).");
  m.def(
      "default_rules",
      []() {
        py::list out;
        for (const auto& r : default_alert_rules())
          out.append(py::make_tuple(
              r.name, r.kpi, r.horizon, op_name(r.op), r.threshold, r.for_s,
              r.has_guard ? py::object(py::str(r.guard_kpi)) : py::object(py::none()),
              r.has_guard ? py::object(py::str(r.guard_horizon)) : py::object(py::none()),
              r.guard_min));
        return out;
      },
      "The KPIS.md default alert rules as tuples.");
  py::class_<PyEngine>(m, "Engine", "The compiled engine; see hallkpi.core.Engine.")
      .def(py::init<std::vector<int64_t>, int64_t, std::vector<std::pair<int64_t, int64_t>>, double,
                    double, double, int64_t, std::vector<py::tuple>,
                    std::vector<std::pair<std::string, int64_t>>, std::vector<std::string>, size_t,
                    int64_t, int64_t, int64_t, int64_t, size_t>(),
           py::arg("horizons_s"), py::arg("pane_ms"), py::arg("tz_segments"),
           py::arg("short_abandon_s"), py::arg("service_level_s"), py::arg("default_handle_s"),
           py::arg("opinion_sla_s"), py::arg("rules"), py::arg("configured_windows"),
           py::arg("halls"), py::arg("max_payload_bytes"), py::arg("max_lead_ms"),
           py::arg("max_age_ms"), py::arg("seq_grace_ms"), py::arg("upstream_alert_ms"),
           py::arg("max_producers"))
      .def("push", &PyEngine::push, py::arg("event"),
           "Applies one event dict; False for a duplicate.")
      .def("_push_json", &PyEngine::push_json, py::arg("payload"), "One JSON object or array.")
      .def("_push_jsonl", &PyEngine::push_jsonl, py::arg("data"), "JSON lines.")
      .def("_push_columns", &PyEngine::push_columns, py::arg("columns"), py::arg("trace_kpi"),
           py::arg("trace_horizon"), "Columnar batch of events.")
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
      .def("hall", &PyEngine::hall, py::arg("name"), "One hall's part of the snapshot.")
      .def("gauges", &PyEngine::gauges, py::arg("name"), "One hall's `now` row.")
      .def("snapshot", &PyEngine::snapshot, "The KPIS.md snapshot document as dicts.")
      .def("snapshot_json", &PyEngine::snapshot_json, "The KPIS.md snapshot document as JSON text.")
      .def("snapshot_columns", &PyEngine::snapshot_columns, "One row per hall x horizon.")
      .def("staff_columns", &PyEngine::staff_columns, "One row per hall x staff x horizon.")
      .def("alert_states", &PyEngine::alert_states, "(hall, rule, state) of every alert.")
      .def("halls", &PyEngine::halls, "Hall names in first-seen order.")
      .def("horizons", &PyEngine::horizons, "Output horizon names, today last.")
      .def("memory_bytes", &PyEngine::memory_bytes, "Approximate heap bytes held.");
}
