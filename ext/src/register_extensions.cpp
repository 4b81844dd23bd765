// Contract v1.2: the extension event types (extension_events.hpp) as Python sees them.
#include "py_engine.hpp"

namespace hallkpi::py_binding {

void register_extensions(py::module_& m) {
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

}  // namespace hallkpi::py_binding
