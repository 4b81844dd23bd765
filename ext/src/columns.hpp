// Reading the numpy columns of a batch (Engine.push_columns): string columns as dtype S
// or object, numeric columns as int64 or float64, each checked once for its length.
#pragma once

#include <string>

#include "conversions.hpp"

namespace hallkpi::py_binding {

// A string column of a batch: numpy 'S' (fixed-width bytes), or object (str/bytes/None).
class StrColumn {
 public:
  StrColumn(py::array a, size_t n, const char* name) : arr_(std::move(a)) {
    if (arr_.ndim() != 1 || static_cast<size_t>(arr_.shape(0)) != n)
      throw py::value_error(std::string("column '") + name +
                            "' must be 1-d with one value per event");
    char kind = arr_.dtype().kind();
    if (kind == 'S') {
      width_ = static_cast<size_t>(arr_.itemsize());
      bytes_ = true;
    } else if (kind != 'O') {
      throw py::type_error(std::string("column '") + name +
                           "' must have dtype S (UTF-8 bytes) or object (str)");
    }
    stride_ = arr_.strides(0);
    data_ = static_cast<const char*>(arr_.data());
  }

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
  bool bytes_ = false;
};

// An optional numeric column: absent, or 1-d of n values converted to T once.
template <class T>
class NumColumn {
 public:
  NumColumn(const py::dict& cols, const char* name, size_t n, const char* what) {
    if (!cols.contains(name)) return;
    arr_ = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(cols[name]);
    if (!arr_) throw py::type_error(std::string("column '") + name + "' must be " + what);
    if (arr_.ndim() != 1 || static_cast<size_t>(arr_.shape(0)) != n)
      throw py::value_error(std::string("column '") + name +
                            "' must be 1-d with one value per event");
    data_ = arr_.data();
  }
  bool present() const { return data_ != nullptr; }
  T operator[](size_t i) const { return data_[i]; }

 private:
  py::array_t<T, py::array::c_style | py::array::forcecast> arr_;
  const T* data_ = nullptr;
};

}  // namespace hallkpi::py_binding
