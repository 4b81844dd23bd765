// Store: `hallkpi load` parses once. StoreChunker.parse reads, validates and lays out a
// chunk of JSON lines in C++ without the GIL (store_columns.hpp), then hands the columns
// over as numpy arrays: one crossing per chunk.
#include <pybind11/stl.h>

#include <cstring>

#include "py_engine.hpp"
#include "store_columns.hpp"

namespace hallkpi::py_binding {

namespace {

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v) {
  py::array_t<T> a(static_cast<py::ssize_t>(v.size()));
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

py::bytes to_bytes(const std::string& s) { return py::bytes(s.data(), s.size()); }

py::dict chunk_dict(const StoreChunk& c) {
  py::dict cols;
  for (size_t k = 0; k < kStoreStringCount; ++k) {
    const PackedColumn& p = c.strings[k];
    py::array_t<uint8_t> data(static_cast<py::ssize_t>(p.data.size()));
    if (!p.data.empty()) std::memcpy(data.mutable_data(), p.data.data(), p.data.size());
    cols[field_name(kStoreStrings[k])] = py::make_tuple(data, to_numpy(p.lengths));
  }
  cols["ts"] = to_numpy(c.ts);
  cols["score"] = to_numpy(c.score);
  cols["hold_s"] = to_numpy(c.hold_s);
  cols["talk_s"] = to_numpy(c.talk_s);
  cols["seq"] = to_numpy(c.seq);
  cols["epoch"] = to_numpy(c.epoch);
  cols["ingest_seq"] = to_numpy(c.arrival);
  py::list dead;
  for (const DeadRow& d : c.dead)
    dead.append(py::make_tuple(d.position, d.arrival, d.duplicate ? "duplicate" : "rejected",
                               text(d.reason), to_bytes(d.payload), d.ts, d.clock, text(d.hall),
                               text(d.id)));
  py::dict out;
  out["lines"] = c.lines;
  out["arrivals"] = c.arrivals;
  out["max_ts"] = c.max_ts;
  out["columns"] = cols;
  out["positions"] = to_numpy(c.positions);
  out["id_hash"] = to_numpy(c.id_hash);
  out["dead"] = dead;
  return out;
}

}  // namespace

void register_store(py::module_& m) {
  py::class_<StoreChunker>(m, "StoreChunker",
                           "Chunks of JSON lines into the store's event columns, validated "
                           "as the engine validates (hallkpi load).")
      .def(py::init<size_t>(), py::arg("max_payload_bytes"))
      .def(
          "parse",
          [](StoreChunker& self, const py::buffer& data) {
            py::buffer_info info;
            const std::string_view bytes = bytes_view(data, info);
            StoreChunk chunk;
            {
              py::gil_scoped_release unlocked;  // the store's writer thread runs meanwhile
              chunk = self.parse(bytes);
            }
            return chunk_dict(chunk);
          },
          py::arg("data"),
          "{lines, arrivals, max_ts, columns, positions, id_hash, dead}: see load_chunk.py.");
}

}  // namespace hallkpi::py_binding
