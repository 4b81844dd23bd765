// One parse for `hallkpi load`: JSON lines read by the engine's reader and checked by its
// validate() (exactly what an Engine applies, clock bounds aside: the load has no
// reference clock), the valid events written straight into the columns of the store's
// `events` table. Pure C++ (no Python): register_store.cpp turns the result into numpy.
#pragma once

#include <cmath>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "hallkpi/hallkpi.hpp"

namespace hallkpi::py_binding {

// The string columns of `events`, in the store's order (ingest/store/schema.py
// EVENT_STRINGS, then producer). Empty means absent.
constexpr Field kStoreStrings[] = {F_ID,      F_TYPE,   F_HALL,  F_TICKET,  F_SERVICE,
                                   F_CHANNEL, F_WINDOW, F_STAFF, F_OPINION, F_CALL,
                                   F_QUEUE,   F_AGENT,  F_STATE, F_PRODUCER};
constexpr size_t kStoreStringCount = sizeof(kStoreStrings) / sizeof(kStoreStrings[0]);

// A string column as one byte buffer and a length per row (PackedStrings in native.py).
struct PackedColumn {
  std::string data;
  std::vector<int64_t> lengths;
  void add(std::string_view s) {
    data.append(s.data(), s.size());
    lengths.push_back(static_cast<int64_t>(s.size()));
  }
};

// A rejected or duplicate arrival (DeadArrival in ingest/store/load_chunk.py).
struct DeadRow {
  int64_t position, arrival;
  bool duplicate;
  std::string reason, payload;  // payload: the line, for rejections
  int64_t ts, clock;            // ts of a duplicate; the largest valid ts before a rejection
  std::string hall, id;         // of a duplicate
};

struct StoreChunk {
  int64_t lines = 0, arrivals = 0, max_ts = -1;
  PackedColumn strings[kStoreStringCount];
  std::vector<int64_t> ts, positions;
  std::vector<uint8_t> score;                          // 1..5, 0: none
  std::vector<double> hold_s, talk_s;                  // NaN: none
  std::vector<uint64_t> seq, epoch, arrival, id_hash;  // seq/epoch 0: none
  std::vector<DeadRow> dead;
};

// The value a stored string column gets from a valid event: the fields its type has
// (validate() sets only those), the type's name, the state as given.
inline std::string_view stored_string(const Event& e, const RawEvent& raw, Field f) {
  switch (f) {
    case F_ID:
      return e.id;
    case F_TYPE:
      return raw.f[F_TYPE].s;
    case F_HALL:
      return e.hall;
    case F_TICKET:
      return e.ticket;
    case F_SERVICE:
      return e.service;
    case F_CHANNEL:
      return e.channel;
    case F_WINDOW:
      return e.window;
    case F_STAFF:
      return e.staff;
    case F_OPINION:
      return e.opinion;
    case F_CALL:
      return e.call;
    case F_QUEUE:
      return e.queue;
    case F_AGENT:
      return e.agent;
    case F_STATE:
      return e.type == EventType::AgentState ? raw.f[F_STATE].s : std::string_view();
    case F_PRODUCER:
      return e.seq >= 0 ? e.producer : std::string_view();
    default:
      return {};
  }
}

inline bool has_hold(EventType t) {
  return t == EventType::CallAnswered || t == EventType::CallAbandoned ||
         t == EventType::CallTimeout;
}

class StoreChunker {
 public:
  explicit StoreChunker(size_t max_payload_bytes) : max_payload_(max_payload_bytes) {}

  // Lines from 1, arrivals from 0, positions line << 16 | array element: local to the
  // chunk (the caller shifts them). Within the chunk the first valid arrival of an id
  // wins, as in the engine (same id hash).
  StoreChunk parse(std::string_view data) {
    StoreChunk out;
    seen_.clear();
    int64_t clock = -1;
    while (!data.empty()) {
      ++out.lines;
      const size_t nl = data.find('\n');
      const std::string_view line = data.substr(0, nl);
      data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
      if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;  // as push_jsonl
      const int64_t at = out.lines << kPositionBits;
      auto reject = [&](int64_t element, std::string reason) {
        out.dead.push_back({at | element,
                            out.arrivals++,
                            false,
                            std::move(reason),
                            std::string(line),
                            -1,
                            clock,
                            {},
                            {}});
      };
      if (line.size() > max_payload_) {
        reject(0, "payload of " + std::to_string(line.size()) + " bytes exceeds the limit of " +
                      std::to_string(max_payload_) + " bytes");
        continue;
      }
      size_t n = 0;
      if (!reader_.read(line, raws_, not_object_, n)) {
        reject(0, reader_.error());
        continue;
      }
      for (size_t i = 0; i < n; ++i) {
        const auto element = static_cast<int64_t>(i);
        if (not_object_[i]) {
          reject(element, "event must be a JSON object");
          continue;
        }
        Event ev;
        std::string err = validate(raws_[i], ev);
        if (!err.empty()) {
          reject(element, std::move(err));
          continue;
        }
        clock = std::max(clock, ev.ts);
        const uint64_t h = hash_bytes(ev.id);
        if (!seen_.insert(h).second) {
          out.dead.push_back({at | element,
                              out.arrivals++,
                              true,
                              {},
                              {},
                              ev.ts,
                              -1,
                              std::string(ev.hall),
                              std::string(ev.id)});
          continue;
        }
        add(out, ev, raws_[i], at | element, h);
      }
    }
    out.max_ts = out.ts.empty() ? -1 : *std::max_element(out.ts.begin(), out.ts.end());
    return out;
  }

  static constexpr int kPositionBits = 16;

 private:
  static void add(StoreChunk& out, const Event& ev, const RawEvent& raw, int64_t position,
                  uint64_t hash) {
    for (size_t c = 0; c < kStoreStringCount; ++c)
      out.strings[c].add(stored_string(ev, raw, kStoreStrings[c]));
    out.ts.push_back(ev.ts);
    out.positions.push_back(position);
    const bool scored = ev.type == EventType::TicketRated || ev.type == EventType::CallRated;
    out.score.push_back(static_cast<uint8_t>(scored ? ev.score : 0));
    out.hold_s.push_back(has_hold(ev.type) ? ev.hold_s : NAN);
    out.talk_s.push_back(ev.type == EventType::CallCompleted ? ev.talk_s : NAN);
    out.seq.push_back(ev.seq >= 0 ? static_cast<uint64_t>(ev.seq) : 0);
    out.epoch.push_back(static_cast<uint64_t>(ev.epoch));
    out.arrival.push_back(static_cast<uint64_t>(out.arrivals++));
    out.id_hash.push_back(hash);
  }

  size_t max_payload_;
  JsonReader reader_;
  std::vector<RawEvent> raws_;
  std::vector<uint8_t> not_object_;
  std::unordered_set<uint64_t> seen_;
};

}  // namespace hallkpi::py_binding
