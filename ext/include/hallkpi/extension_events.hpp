// Extension events (contract v1.2, docs/SEMANTICS.md): event types of registered
// families (appointment.*, eticket.*, quote.*, and the families other rooms add) that the
// engine validates against a per-type field table and hands back as plain records. They
// share the common fields, de-duplication by id, the clock and the producer sequences
// with every event, and change no KPI of KPIS.md.
//
// Adding a type is ONE row of kExtensionTypes: its name and its fields (name, kind,
// required or optional). The service routes a validated record to the Python room that
// registered the type's family (hallkpi.ingest.service.extensions).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace hallkpi {

// String: 1..256 code points of valid Unicode. Int: a JSON integer (int64, not a bool).
// Number: a finite JSON number (an integer or a float).
enum class ExtKind : uint8_t { String, Int, Number };
enum class ExtNeed : uint8_t { Required, Optional };

struct ExtFieldSpec {
  std::string_view name;  // empty: the end of the row
  ExtKind kind = ExtKind::String;
  ExtNeed need = ExtNeed::Required;
};

constexpr size_t kMaxExtFields = 12;
constexpr size_t kMaxExtString = 256;  // code points

struct ExtensionType {
  std::string_view type;
  ExtFieldSpec fields[kMaxExtFields];
};

namespace ext {
constexpr ExtKind S = ExtKind::String, I = ExtKind::Int, N = ExtKind::Number;
constexpr ExtNeed R = ExtNeed::Required, O = ExtNeed::Optional;
}  // namespace ext

// clang-format off
inline constexpr ExtensionType kExtensionTypes[] = {
    // appointments (ingest/web): `taxpayer` is the keyed hash, never the openid or phone
    {"appointment.booked", {{"appointment", ext::S, ext::R}, {"service", ext::S, ext::R},
                            {"slot_start", ext::I, ext::R}, {"slot_end", ext::I, ext::R},
                            {"taxpayer", ext::S, ext::R}, {"code", ext::S, ext::R}}},
    {"appointment.cancelled", {{"appointment", ext::S, ext::R}, {"reason", ext::S, ext::O}}},
    {"appointment.checked_in", {{"appointment", ext::S, ext::R}, {"ticket", ext::S, ext::R}}},
    {"appointment.missed", {{"appointment", ext::S, ext::R}}},
    // remote e-tickets (ingest/web): the ticket itself is a ticket.issued, channel wechat
    {"eticket.taken", {{"eticket", ext::S, ext::R}, {"ticket", ext::S, ext::R},
                       {"service", ext::S, ext::R}, {"taxpayer", ext::S, ext::R},
                       {"channel", ext::S, ext::R}}},
    {"eticket.cancelled", {{"eticket", ext::S, ext::R}, {"ticket", ext::S, ext::R}}},
    // quoted waits (ingest/web): every quote given with a ticket, checked when it is called
    {"quote.given", {{"ticket", ext::S, ext::R}, {"service", ext::S, ext::R},
                     {"channel", ext::S, ext::R}, {"wait_s", ext::N, ext::R},
                     {"p10_s", ext::N, ext::R}, {"p90_s", ext::N, ext::R},
                     {"people_ahead", ext::I, ext::O}}},
};
// clang-format on

constexpr size_t kExtensionTypeCount = sizeof(kExtensionTypes) / sizeof(kExtensionTypes[0]);

// The row of `type`, or -1 when it is no extension type. A linear scan: the table is
// small and only types that are not EVENTS.md types get here.
inline int extension_index(std::string_view type) {
  for (size_t i = 0; i < kExtensionTypeCount; ++i)
    if (kExtensionTypes[i].type == type) return static_cast<int>(i);
  return -1;
}

}  // namespace hallkpi
