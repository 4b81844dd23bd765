// The own fields of an extension event (contract v1.2) checked against its row of
// kExtensionTypes and copied into a plain record that outlives the payload.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hallkpi/event.hpp"
#include "hallkpi/extension_events.hpp"
#include "hallkpi/json.hpp"

namespace hallkpi {

struct ExtValue {
  std::string_view name;  // the table's (static) name
  ExtKind kind = ExtKind::String;
  std::string s;
  int64_t i = 0;
  double d = 0;
};

// A validated extension event: the common fields and the fields of its row that are
// present, in the row's order (other keys of the event are ignored, as everywhere).
struct ExtensionRecord {
  size_t index = 0;  // as Rejection::index
  int type = -1;     // kExtensionTypes row
  std::string id, hall;
  int64_t ts = 0;
  std::string producer;  // contract v1.1, empty when absent
  int64_t seq = -1, epoch = 0;
  std::vector<ExtValue> fields;
};

namespace detail {

// One field's value, from the event's JSON text or its caller's lookup.
inline bool ext_lookup(const RawEvent& raw, std::string_view name, Value* out, std::string* buf) {
  if (raw.lookup != nullptr) return raw.lookup(raw.lookup_ctx, name, out);
  if (raw.object.empty()) return false;
  JsonReader reader;
  return reader.member(raw.object, name, out, buf);
}

inline std::string ext_field(const ExtFieldSpec& spec, const Value& v, ExtValue& out) {
  const std::string name(spec.name);
  out.name = spec.name;
  out.kind = spec.kind;
  switch (spec.kind) {
    case ExtKind::String: {
      if (v.kind == Kind::InvalidText) return "field '" + name + "' is not valid Unicode";
      if (v.kind != Kind::String)
        return "field '" + name + "' must be a string, not " + kind_name(v.kind);
      const size_t n = code_points(v.s);
      if (n < 1 || n > kMaxExtString)
        return "field '" + name + "' must be 1.." + std::to_string(kMaxExtString) +
               " characters, got " + std::to_string(n);
      out.s.assign(v.s);
      return {};
    }
    case ExtKind::Int:
      if (v.kind == Kind::BigInt) return "field '" + name + "' out of range (a 64-bit integer)";
      if (v.kind != Kind::Int)
        return "field '" + name + "' must be an integer, not " + kind_name(v.kind);
      out.i = v.i;
      return {};
    case ExtKind::Number: {
      double d;
      if (v.kind == Kind::Int)
        d = static_cast<double>(v.i);
      else if (v.kind == Kind::Float || v.kind == Kind::BigInt)
        d = v.d;
      else
        return "field '" + name + "' must be a number, not " + kind_name(v.kind);
      if (!std::isfinite(d)) return "field '" + name + "' must be a finite number";
      out.d = d;
      return {};
    }
  }
  return "field '" + name + "' has an unknown kind";
}

}  // namespace detail

// Checks the own fields of `ev` (validated, type Extension) into `rec`; an empty string
// when valid, else the reason (the event is then rejected like any invalid event).
inline std::string extension_fields(const RawEvent& raw, const Event& ev, ExtensionRecord& rec) {
  const ExtensionType& row = kExtensionTypes[ev.ext];
  rec.type = ev.ext;
  rec.fields.clear();
  std::string buf;
  for (const ExtFieldSpec& spec : row.fields) {
    if (spec.name.empty()) break;
    Value v;
    buf.clear();
    if (!detail::ext_lookup(raw, spec.name, &v, &buf)) {
      if (spec.need == ExtNeed::Required) return "missing field '" + std::string(spec.name) + "'";
      continue;
    }
    rec.fields.emplace_back();
    std::string err = detail::ext_field(spec, v, rec.fields.back());
    if (!err.empty()) return err;
  }
  rec.id.assign(ev.id);
  rec.hall.assign(ev.hall);
  rec.ts = ev.ts;
  rec.producer.assign(ev.producer);
  rec.seq = ev.seq;
  rec.epoch = ev.epoch;
  return {};
}

}  // namespace hallkpi
