// Conversions between Python objects and the engine's C++ values, shared by the
// register_*.cpp files. The hot ones (an event dict, snapshot dicts) use the CPython API
// directly, so that Python crosses into C++ once per event or payload, never per field.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "hallkpi/hallkpi.hpp"

namespace hallkpi::py_binding {

namespace py = pybind11;

// The exception class raised for an invalid event (hallkpi.core.InvalidEvent once set).
inline PyObject* g_invalid_event = PyExc_ValueError;

// Interned key objects, made once.
struct Keys {
  PyObject* kpi[static_cast<size_t>(Kpi::Count)];
  PyObject *now, *staff, *hall, *alert, *state, *value, *threshold, *ts;
  PyObject *detail, *producer, *epoch, *first_seq, *last_seq, *missing, *since_ts;
  Keys() {
    for (size_t i = 0; i < static_cast<size_t>(Kpi::Count); ++i)
      kpi[i] = PyUnicode_InternFromString(std::string(kKpis[i].name).c_str());
    now = PyUnicode_InternFromString("now");
    staff = PyUnicode_InternFromString("staff");
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
  PyObject* of(Kpi k) const { return kpi[static_cast<size_t>(k)]; }
};

inline Keys& keys() {
  static Keys* k = new Keys();  // lives as long as the interpreter
  return *k;
}

// Sets d[key] = value, stealing the value reference.
inline void set_steal(PyObject* d, PyObject* key, PyObject* value) {
  if (!value) throw py::error_already_set();
  int rc = PyDict_SetItem(d, key, value);
  Py_DECREF(value);
  if (rc < 0) throw py::error_already_set();
}

// Sets d[key] = value without taking the value's reference.
inline void set_item(PyObject* d, PyObject* key, PyObject* value) {
  if (PyDict_SetItem(d, key, value) < 0) throw py::error_already_set();
}

// A new dict, owned by the returned object.
inline py::object new_dict() {
  PyObject* d = PyDict_New();
  if (!d) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(d);
}

// A KPI value: None for NaN (null in KPIS.md), int for counts.
inline PyObject* number(double v, bool integer) {
  if (std::isnan(v)) Py_RETURN_NONE;
  if (integer) return PyLong_FromLongLong(static_cast<long long>(v));
  return PyFloat_FromDouble(v);
}

// Reasons quote input: decode leniently so odd bytes can never raise here.
inline py::str text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

// The bytes of bytes, bytearray or a 1-d byte buffer, valid while `info` lives.
inline std::string_view bytes_view(const py::buffer& b, py::buffer_info& info) {
  info = b.request();
  if (info.ndim > 1 || (info.ndim == 1 && info.itemsize != 1))
    throw py::type_error("expected bytes, bytearray or a 1-d byte buffer");
  return std::string_view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size));
}

inline py::array object_array(size_t n) {
  return py::array(py::dtype("O"), std::vector<py::ssize_t>{static_cast<py::ssize_t>(n)});
}

// One Python value as validation sees it (strings are views into the str's UTF-8).
inline void read_value(PyObject* v, Value& val) {
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

// Reads a dict event into raw fields without copying strings (views into the str's UTF-8).
inline void read_dict(PyObject* obj, RawEvent& raw) {
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

// The lookup of an extension event's own fields in the event dict (contract v1.2).
inline bool dict_lookup(const void* ctx, std::string_view name, Value* out) {
  PyObject* item = PyDict_GetItemString(static_cast<PyObject*>(const_cast<void*>(ctx)),
                                        std::string(name).c_str());
  if (item == nullptr) return false;  // borrowed, absent
  read_value(item, *out);
  return true;
}

// A validated extension event as a plain dict: the common fields and its own fields.
inline py::dict extension_dict(const ExtensionRecord& r) {
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

// (applied, duplicates, rejected, [(index, reason)], [(index, extension dict)]):
// PushResult._of in core/engine.py.
inline py::tuple result_tuple(const PushResult& r) {
  py::list rej;
  for (const auto& x : r.rejections) rej.append(py::make_tuple(x.index, text(x.reason)));
  py::list ext;
  for (const auto& x : r.extensions) ext.append(py::make_tuple(x.index, extension_dict(x)));
  return py::make_tuple(r.applied, r.duplicates, r.rejected, rej, ext);
}

// The KPIs of one scope, in kKpis order (the order of every snapshot and column set).
inline const std::vector<const KpiInfo*>& kpis_of(Scope scope) {
  static const auto lists = [] {
    std::vector<std::vector<const KpiInfo*>> by(3);
    for (const auto& info : kKpis) by[static_cast<size_t>(info.scope)].push_back(&info);
    return by;
  }();
  return lists[static_cast<size_t>(scope)];
}

}  // namespace hallkpi::py_binding
