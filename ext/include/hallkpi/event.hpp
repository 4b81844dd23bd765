// Events of the wire contract (EVENTS.md): raw fields as decoded from JSON or Python,
// and their validation into a typed Event. A rejected event gets a reason.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "hallkpi/extension_events.hpp"

namespace hallkpi {

enum Field : uint8_t {
  F_ID,
  F_TYPE,
  F_TS,
  F_HALL,
  F_TICKET,
  F_SERVICE,
  F_CHANNEL,
  F_WINDOW,
  F_STAFF,
  F_SCORE,
  F_OPINION,
  F_CALL,
  F_QUEUE,
  F_AGENT,
  F_HOLD_S,
  F_TALK_S,
  F_STATE,
  F_PRODUCER,  // contract v1.1, optional: see producers.hpp
  F_SEQ,
  F_EPOCH,
  F_COUNT
};

inline const char* field_name(Field f) {
  static const char* const names[F_COUNT] = {"id",      "type",    "ts",       "hall",  "ticket",
                                             "service", "channel", "window",   "staff", "score",
                                             "opinion", "call",    "queue",    "agent", "hold_s",
                                             "talk_s",  "state",   "producer", "seq",   "epoch"};
  return names[f];
}

// Maps a JSON key to the field it names, or F_COUNT for an unknown (ignored) key.
inline Field field_of(std::string_view k) {
  auto is = [&](const char* name) { return std::memcmp(k.data(), name, k.size()) == 0; };
  switch (k.size()) {
    case 2:
      if (k[0] == 'i' && k[1] == 'd') return F_ID;
      if (k[0] == 't' && k[1] == 's') return F_TS;
      break;
    case 3:
      if (is("seq")) return F_SEQ;
      break;
    case 4:
      if (is("type")) return F_TYPE;
      if (is("hall")) return F_HALL;
      if (is("call")) return F_CALL;
      break;
    case 5:
      switch (k[3]) {
        case 'f':
          if (is("staff")) return F_STAFF;
          break;
        case 'r':
          if (is("score")) return F_SCORE;
          break;
        case 'u':
          if (is("queue")) return F_QUEUE;
          break;
        case 'n':
          if (is("agent")) return F_AGENT;
          break;
        case 't':
          if (is("state")) return F_STATE;
          break;
        case 'c':
          if (is("epoch")) return F_EPOCH;
          break;
      }
      break;
    case 6:
      switch (k[0]) {
        case 't':
          if (is("ticket")) return F_TICKET;
          if (is("talk_s")) return F_TALK_S;
          break;
        case 'w':
          if (is("window")) return F_WINDOW;
          break;
        case 'h':
          if (is("hold_s")) return F_HOLD_S;
          break;
      }
      break;
    case 7:
      switch (k[0]) {
        case 's':
          if (is("service")) return F_SERVICE;
          break;
        case 'c':
          if (is("channel")) return F_CHANNEL;
          break;
        case 'o':
          if (is("opinion")) return F_OPINION;
          break;
      }
      break;
    case 8:
      if (is("producer")) return F_PRODUCER;
      break;
  }
  return F_COUNT;
}

// A JSON (or Python) value as seen by validation.
// InvalidText: a string that is not valid Unicode (from Python: lone surrogates).
enum class Kind : uint8_t { Absent, Null, Bool, Int, BigInt, Float, String, InvalidText, Other };

struct Value {
  Kind kind = Kind::Absent;
  int64_t i = 0;
  double d = 0;
  std::string_view s;
};

// One event's fields before validation. Strings are views: into the payload, into
// `buf` (decoded escapes), or into caller-owned memory.
struct RawEvent {
  Value f[F_COUNT];
  std::string buf[F_COUNT];
  // Where an extension event's own fields are read (extension_record.hpp): the JSON text
  // of the event's object, or a caller's lookup (the binding reads a dict's items).
  std::string_view object;
  bool (*lookup)(const void* ctx, std::string_view name, Value* out) = nullptr;
  const void* lookup_ctx = nullptr;

  void clear() {
    for (auto& v : f) v.kind = Kind::Absent;
    object = {};
  }
  void set_string(Field k, std::string_view s) {
    f[k].kind = Kind::String;
    f[k].s = s;
  }
  void set_int(Field k, int64_t v) {
    f[k].kind = Kind::Int;
    f[k].i = v;
  }
  void set_number(Field k, double v) {
    f[k].kind = Kind::Float;
    f[k].d = v;
  }
};

enum class EventType : uint8_t {
  TicketIssued,
  TicketCalled,
  TicketStarted,
  TicketCompleted,
  TicketNoShow,
  TicketCancelled,
  TicketRated,
  WindowOpened,
  WindowPaused,
  WindowResumed,
  WindowClosed,
  OpinionSubmitted,
  OpinionResolved,
  CallQueued,
  CallAnswered,
  CallAbandoned,
  CallTimeout,
  CallCompleted,
  CallRated,
  AgentState,
  Extension,  // contract v1.2: a row of kExtensionTypes (Event::ext)
  Count
};

enum class AgentStateKind : uint8_t { None, Available, Busy, Paused, Offline };

// A validated event. Views point into the RawEvent it came from.
struct Event {
  EventType type = EventType::Count;
  int64_t ts = 0;
  std::string_view id, hall, ticket, service, channel, window, staff, opinion, call, queue, agent;
  int score = 0;
  double hold_s = 0, talk_s = 0;    // as given (seconds)
  double hold_ms = 0, talk_ms = 0;  // seconds_to_ms of them: what sums add

  bool wechat = false;  // ticket.issued from the wechat or appointment channel
  AgentStateKind state = AgentStateKind::None;
  // Contract v1.1: the producer's id and sequence number, or seq < 0 when absent.
  std::string_view producer;
  int64_t seq = -1, epoch = 0;
  int ext = -1;  // contract v1.2: the kExtensionTypes row of an Extension event
};

constexpr int64_t kMaxTs = 253402300799999;  // 9999-12-31T23:59:59.999Z

// Durations at or above this many milliseconds (2^31, 24.8 days, never seen in practice)
// are not rounded and are summed apart, as doubles, so that no int64 sum can overflow.
constexpr double kExactMsCap = 2147483648.0;

// Whole milliseconds of `seconds` (finite, >= 0), rounded to the nearest with halves up:
// floor(s * 1000 + 0.5) in IEEE double arithmetic (tests/reference does the same). At or
// above kExactMsCap the product, unrounded.
inline double seconds_to_ms(double seconds) {
  const double x = seconds * 1000.0;
  return x < kExactMsCap ? std::floor(x + 0.5) : x;
}

namespace detail {

inline bool type_of(std::string_view t, EventType* out) {
  // Dispatch on the family prefix, then compare the few names of that family.
  struct Name {
    std::string_view name;
    EventType type;
  };
  static constexpr Name ticket[] = {{"ticket.issued", EventType::TicketIssued},
                                    {"ticket.called", EventType::TicketCalled},
                                    {"ticket.started", EventType::TicketStarted},
                                    {"ticket.completed", EventType::TicketCompleted},
                                    {"ticket.no_show", EventType::TicketNoShow},
                                    {"ticket.cancelled", EventType::TicketCancelled},
                                    {"ticket.rated", EventType::TicketRated}};
  static constexpr Name window[] = {{"window.opened", EventType::WindowOpened},
                                    {"window.paused", EventType::WindowPaused},
                                    {"window.resumed", EventType::WindowResumed},
                                    {"window.closed", EventType::WindowClosed}};
  static constexpr Name call[] = {
      {"call.queued", EventType::CallQueued},       {"call.answered", EventType::CallAnswered},
      {"call.abandoned", EventType::CallAbandoned}, {"call.timeout", EventType::CallTimeout},
      {"call.completed", EventType::CallCompleted}, {"call.rated", EventType::CallRated}};
  static constexpr Name other[] = {{"opinion.submitted", EventType::OpinionSubmitted},
                                   {"opinion.resolved", EventType::OpinionResolved},
                                   {"agent.state", EventType::AgentState}};
  auto find = [&](const Name* names, size_t n) {
    for (size_t i = 0; i < n; ++i)
      if (names[i].name.size() == t.size() && names[i].name == t) {
        *out = names[i].type;
        return true;
      }
    return false;
  };
  if (t.empty()) return false;
  switch (t[0]) {
    case 't':
      return find(ticket, 7);
    case 'w':
      return find(window, 4);
    case 'c':
      return find(call, 6);
    default:
      return find(other, 3);
  }
}

// Number of code points of valid UTF-8.
inline size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

inline std::string quoted(std::string_view s) {
  std::string out = "'";
  size_t cut = s.size() <= 64 ? s.size() : 64;
  while (cut < s.size() && cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
    --cut;  // never split a UTF-8 sequence
  out.append(s.substr(0, cut));
  if (cut < s.size()) out += "...";
  out += "'";
  return out;
}

inline const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Null:
      return "null";
    case Kind::Bool:
      return "a boolean";
    case Kind::Int:
    case Kind::BigInt:
      return "an integer";
    case Kind::Float:
      return "a float";
    case Kind::String:
      return "a string";
    case Kind::InvalidText:
      return "invalid Unicode text";
    default:
      return "an object or array";
  }
}

inline std::string counter_error(const Value& v, const char* name) {
  if (v.kind == Kind::BigInt || v.kind == Kind::Int)
    return std::string("field '") + name + "' out of range (0 <= " + name + " < 2^63)";
  return std::string("field '") + name + "' must be an integer, not " + kind_name(v.kind);
}

// Contract v1.1: `producer` (text) and `seq` come together, `epoch` only with them.
// `text` validates a string field as the common fields are. No string is built unless
// the event is rejected.
template <class Text>
std::string sequence_fields(const RawEvent& raw, Event& ev, Text&& text) {
  const Value &producer = raw.f[F_PRODUCER], &seq = raw.f[F_SEQ], &epoch = raw.f[F_EPOCH];
  const bool has_producer = producer.kind != Kind::Absent, has_seq = seq.kind != Kind::Absent;
  if (!has_producer && !has_seq) {
    if (epoch.kind != Kind::Absent) return "field 'epoch' needs the fields 'producer' and 'seq'";
    return {};
  }
  if (!has_producer) return "field 'seq' needs the field 'producer'";
  if (!has_seq) return "field 'producer' needs the field 'seq'";
  std::string err = text(F_PRODUCER, &ev.producer);
  if (!err.empty()) return err;
  if (seq.kind != Kind::Int || seq.i < 0) return counter_error(seq, "seq");
  ev.seq = seq.i;
  if (epoch.kind != Kind::Absent) {
    if (epoch.kind != Kind::Int || epoch.i < 0) return counter_error(epoch, "epoch");
    ev.epoch = epoch.i;
  }
  return err;
}

}  // namespace detail

// Validates raw fields into `ev`. Returns an empty string when valid, else the reason.
inline std::string validate(const RawEvent& raw, Event& ev) {
  using detail::quoted;
  auto missing = [](Field f) { return std::string("missing field '") + field_name(f) + "'"; };
  auto mistyped = [&](Field f, const char* want) {
    return std::string("field '") + field_name(f) + "' must be " + want + ", not " +
           detail::kind_name(raw.f[f].kind);
  };
  auto text = [&](Field f, std::string_view* out) -> std::string {
    const Value& v = raw.f[f];
    if (v.kind == Kind::Absent) return missing(f);
    if (v.kind == Kind::InvalidText)
      return std::string("field '") + field_name(f) + "' is not valid Unicode";
    if (v.kind != Kind::String) return mistyped(f, "a string");
    // Byte length bounds the code points: count only when it could exceed 64.
    size_t n = v.s.size() <= 64 ? (v.s.empty() ? 0 : 1) : detail::code_points(v.s);
    if (n < 1 || n > 64)
      return std::string("field '") + field_name(f) + "' must be 1..64 characters, got " +
             std::to_string(detail::code_points(v.s));
    *out = v.s;
    return {};
  };
  auto number = [&](Field f, double* out) -> std::string {
    const Value& v = raw.f[f];
    if (v.kind == Kind::Absent) return missing(f);
    double d;
    if (v.kind == Kind::Int)
      d = static_cast<double>(v.i);
    else if (v.kind == Kind::Float)
      d = v.d;
    else if (v.kind == Kind::BigInt)
      d = v.d;
    else
      return mistyped(f, "a number");
    if (!std::isfinite(d) || d < 0)
      return std::string("field '") + field_name(f) + "' must be a finite number >= 0";
    *out = d;
    return {};
  };

  std::string err;
  if (!(err = text(F_ID, &ev.id)).empty()) return err;
  const Value& type = raw.f[F_TYPE];
  if (type.kind == Kind::Absent) return missing(F_TYPE);
  if (type.kind != Kind::String) return mistyped(F_TYPE, "a string");
  if (!detail::type_of(type.s, &ev.type)) {
    ev.ext = extension_index(type.s);  // its own fields: extension_record.hpp
    if (ev.ext < 0) return "unknown type " + quoted(type.s);
    ev.type = EventType::Extension;
  }
  const Value& ts = raw.f[F_TS];
  if (ts.kind == Kind::Absent) return missing(F_TS);
  if (ts.kind == Kind::BigInt) return "field 'ts' out of range";
  if (ts.kind != Kind::Int) return mistyped(F_TS, "an integer");
  if (ts.i < 0 || ts.i > kMaxTs) return "field 'ts' out of range (milliseconds since 1970, UTC)";
  ev.ts = ts.i;
  if (!(err = text(F_HALL, &ev.hall)).empty()) return err;
  for (unsigned char c : ev.hall) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return "field 'hall' may only contain A-Z a-z 0-9 _ . -, got " + quoted(ev.hall);
  }
  if (raw.f[F_PRODUCER].kind != Kind::Absent || raw.f[F_SEQ].kind != Kind::Absent ||
      raw.f[F_EPOCH].kind != Kind::Absent) {
    std::string bad = detail::sequence_fields(raw, ev, text);  // no move on the common path
    if (!bad.empty()) return bad;
  }

  auto score = [&]() -> std::string {
    const Value& v = raw.f[F_SCORE];
    if (v.kind == Kind::Absent) return missing(F_SCORE);
    if (v.kind != Kind::Int && v.kind != Kind::BigInt) return mistyped(F_SCORE, "an integer");
    if (v.kind == Kind::BigInt || v.i < 1 || v.i > 5) return "field 'score' must be 1..5";
    ev.score = static_cast<int>(v.i);
    return {};
  };

  switch (ev.type) {
    case EventType::TicketIssued: {
      if (!(err = text(F_TICKET, &ev.ticket)).empty()) return err;
      if (!(err = text(F_SERVICE, &ev.service)).empty()) return err;
      const Value& ch = raw.f[F_CHANNEL];
      if (ch.kind == Kind::Absent) return missing(F_CHANNEL);
      if (ch.kind != Kind::String) return mistyped(F_CHANNEL, "a string");
      if (ch.s != "kiosk" && ch.s != "wechat" && ch.s != "appointment" && ch.s != "web" &&
          ch.s != "other")
        return "field 'channel' must be one of kiosk, wechat, appointment, web, other, got " +
               quoted(ch.s);
      ev.channel = ch.s;
      ev.wechat = ch.s == "wechat" || ch.s == "appointment";
      return {};
    }
    case EventType::TicketCalled:
    case EventType::TicketStarted:
    case EventType::TicketCompleted:
    case EventType::TicketNoShow:
    case EventType::TicketRated:
      if (!(err = text(F_TICKET, &ev.ticket)).empty()) return err;
      if (!(err = text(F_WINDOW, &ev.window)).empty()) return err;
      if (!(err = text(F_STAFF, &ev.staff)).empty()) return err;
      if (ev.type == EventType::TicketRated) return score();
      return {};
    case EventType::TicketCancelled:
      return text(F_TICKET, &ev.ticket);
    case EventType::WindowOpened:
      if (!(err = text(F_WINDOW, &ev.window)).empty()) return err;
      return text(F_STAFF, &ev.staff);
    case EventType::WindowPaused:
    case EventType::WindowResumed:
    case EventType::WindowClosed:
      return text(F_WINDOW, &ev.window);
    case EventType::OpinionSubmitted:
      if (!(err = text(F_OPINION, &ev.opinion)).empty()) return err;
      return text(F_CHANNEL, &ev.channel);
    case EventType::OpinionResolved:
      return text(F_OPINION, &ev.opinion);
    case EventType::CallQueued:
    case EventType::CallAnswered:
    case EventType::CallAbandoned:
    case EventType::CallTimeout:
    case EventType::CallCompleted:
    case EventType::CallRated:
      if (!(err = text(F_CALL, &ev.call)).empty()) return err;
      if (!(err = text(F_QUEUE, &ev.queue)).empty()) return err;
      if (ev.type == EventType::CallAnswered || ev.type == EventType::CallCompleted ||
          ev.type == EventType::CallRated)
        if (!(err = text(F_AGENT, &ev.agent)).empty()) return err;
      if (ev.type == EventType::CallAnswered || ev.type == EventType::CallAbandoned ||
          ev.type == EventType::CallTimeout) {
        if (!(err = number(F_HOLD_S, &ev.hold_s)).empty()) return err;
        ev.hold_ms = seconds_to_ms(ev.hold_s);
        return {};
      }
      if (ev.type == EventType::CallCompleted) {
        if (!(err = number(F_TALK_S, &ev.talk_s)).empty()) return err;
        ev.talk_ms = seconds_to_ms(ev.talk_s);
        return {};
      }
      if (ev.type == EventType::CallRated) return score();
      return {};
    case EventType::AgentState: {
      if (!(err = text(F_AGENT, &ev.agent)).empty()) return err;
      if (!(err = text(F_QUEUE, &ev.queue)).empty()) return err;
      const Value& st = raw.f[F_STATE];
      if (st.kind == Kind::Absent) return missing(F_STATE);
      if (st.kind != Kind::String) return mistyped(F_STATE, "a string");
      if (st.s == "available")
        ev.state = AgentStateKind::Available;
      else if (st.s == "busy")
        ev.state = AgentStateKind::Busy;
      else if (st.s == "paused")
        ev.state = AgentStateKind::Paused;
      else if (st.s == "offline")
        ev.state = AgentStateKind::Offline;
      else
        return "field 'state' must be one of available, busy, paused, offline, got " + quoted(st.s);
      return {};
    }
    case EventType::Extension:
      return {};
    case EventType::Count:
      break;
  }
  return "unknown type";
}

}  // namespace hallkpi
