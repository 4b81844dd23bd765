// Engine::snapshot_json: the KPIS.md snapshot document, for C++ embedders (Python
// builds the same document as dicts in the binding).
#pragma once

#include <charconv>
#include <cmath>
#include <string>

#include "hallkpi/engine.hpp"

namespace hallkpi {

namespace detail {

inline void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void json_number(std::string& out, double v, bool integer) {
  if (std::isnan(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::to_chars_result r = integer ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v))
                                   : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

}  // namespace detail

inline std::string Engine::snapshot_json() {
  using detail::json_number;
  using detail::json_string;
  std::string out;
  out.reserve(4096 * (halls_.size() + 1));
  out += "{\"now\":";
  json_number(out, static_cast<double>(now_), true);
  out += ",\"halls\":{";
  for (size_t h = 0; h < halls_.size(); ++h) {
    if (h) out += ',';
    json_string(out, halls_[h]->name);
    out += ":{\"now\":{";
    bool first = true;
    for (const auto& info : kKpis) {
      if (info.scope != Scope::Gauge) continue;
      if (!first) out += ',';
      first = false;
      json_string(out, info.name);
      out += ':';
      json_number(out, gauge(h, info.kpi), info.integer);
    }
    out += '}';
    for (size_t o = 0; o < output_count(); ++o) {
      out += ',';
      json_string(out, output_name(o));
      out += ":{";
      first = true;
      for (const auto& info : kKpis) {
        if (info.scope != Scope::Windowed) continue;
        if (!first) out += ',';
        first = false;
        json_string(out, info.name);
        out += ':';
        json_number(out, windowed(h, o, info.kpi), info.integer);
      }
      out += '}';
    }
    out += ",\"staff\":{";
    for (size_t s = 0; s < staff_count(h); ++s) {
      if (s) out += ',';
      json_string(out, staff_name(h, s));
      out += ":{";
      for (size_t o = 0; o < output_count(); ++o) {
        if (o) out += ',';
        json_string(out, output_name(o));
        out += ":{";
        first = true;
        for (const auto& info : kKpis) {
          if (info.scope != Scope::Staff) continue;
          if (!first) out += ',';
          first = false;
          json_string(out, info.name);
          out += ':';
          json_number(out, staff_value(h, o, s, info.kpi), info.integer);
        }
        out += '}';
      }
      out += '}';
    }
    out += "}}";
  }
  const Diagnostics& d = diag_;
  out += "},\"diagnostics\":{\"events_applied\":" + std::to_string(d.events_applied) +
         ",\"duplicate_events\":" + std::to_string(d.duplicate_events) +
         ",\"late_events\":" + std::to_string(d.late_events) +
         ",\"orphan_events\":" + std::to_string(d.orphan_events) +
         ",\"rejected_events\":" + std::to_string(d.rejected_events);
  if (gaps_.seen()) {  // contract v1.1 figures, once a sequenced event was applied
    const GapStats& g = gaps_.stats();
    out += ",\"upstream_lost_events\":" + std::to_string(g.lost) +
           ",\"upstream_gaps\":" + std::to_string(g.gaps) +
           ",\"upstream_recovered_events\":" + std::to_string(g.recovered) +
           ",\"seq_repeats\":" + std::to_string(g.repeats) +
           ",\"producers\":" + std::to_string(gaps_.streams()) +
           ",\"producers_overflow\":" + std::to_string(g.overflow) +
           ",\"upstream_gaps_forgotten\":" + std::to_string(g.forgotten);
  }
  out += "}}";
  return out;
}

}  // namespace hallkpi
