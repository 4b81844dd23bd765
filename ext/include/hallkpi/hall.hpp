// The live state of one hall: tickets, windows, calls, agents, opinions, staff, its
// windowed figures and its alert states. The Engine changes it; this file only holds it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "hallkpi/alerts.hpp"
#include "hallkpi/dense_map.hpp"
#include "hallkpi/event.hpp"
#include "hallkpi/flat_map.hpp"
#include "hallkpi/windows.hpp"

namespace hallkpi {

constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
constexpr int64_t kUnknown = std::numeric_limits<int64_t>::max();  // a cache not filled

// A timestamp of a valid event (0 ..= kMaxTs < 2^48 ms) in 6 bytes: the ticket table is
// the largest per-hall state (a ticket of 36 bytes, was 48).
struct Ts48 {
  uint16_t w[3] = {0, 0, 0};
  Ts48() = default;
  Ts48(int64_t v) { *this = v; }  // NOLINT: converts like the int64 it stands for
  Ts48& operator=(int64_t v) {
    const auto u = static_cast<uint64_t>(v);
    w[0] = static_cast<uint16_t>(u);
    w[1] = static_cast<uint16_t>(u >> 16);
    w[2] = static_cast<uint16_t>(u >> 32);
    return *this;
  }
  operator int64_t() const {  // NOLINT
    return static_cast<int64_t>(w[0] | (uint64_t{w[1]} << 16) | (uint64_t{w[2]} << 32));
  }
};
static_assert(kMaxTs < (int64_t{1} << 48), "Ts48 holds every valid ts");

struct Ticket {
  enum : uint8_t {
    Issued = 1,
    Called = 2,
    Started = 4,
    Completed = 8,
    NoShow = 16,
    Cancelled = 32
  };
  Ts48 issued_ts, call_ts, start_ts, done_ts;
  uint32_t completed_staff = kNoStaff;
  uint32_t orphan_events = 0;  // applied events while no ticket.issued was applied
  uint8_t flags = 0;

  bool waiting() const {
    return (flags & Issued) && !(flags & (Called | Started | Completed | NoShow | Cancelled));
  }
  bool serving() const { return (flags & Started) && !(flags & Completed); }
  // Latest time the ticket is known by (what old-state cleanup goes by).
  int64_t last_ts() const {
    int64_t t = kNever;
    if (flags & Issued) t = std::max<int64_t>(t, issued_ts);
    if (flags & Called) t = std::max<int64_t>(t, call_ts);
    if (flags & Started) t = std::max<int64_t>(t, start_ts);
    if (flags & Completed) t = std::max<int64_t>(t, done_ts);
    return t;
  }
};

struct CallState {
  enum : uint8_t { Queued = 1, Resolved = 2 };
  int64_t queued_ts = 0, last_ts = kNever;
  uint8_t flags = 0;
  bool waiting() const { return (flags & Queued) && !(flags & Resolved); }
};

struct WindowState {
  enum : uint8_t { None, Open, Paused, Closed };
  int64_t last_ts = kNever, opened_ts = kNever;
  uint8_t state = None;
};

struct AgentRecord {
  int64_t last_ts = kNever;
  AgentStateKind state = AgentStateKind::None;
};

struct Opinion {
  enum : uint8_t { Submitted = 1, Resolved = 2 };
  int64_t submitted_ts = 0, last_ts = kNever;
  uint8_t flags = 0;
  bool open() const { return (flags & Submitted) && !(flags & Resolved); }
};

// Oldest-first queue of (start ts, key) with lazy deletion: entries that no longer
// hold are dropped when they reach the top (see Engine::oldest_waiting).
using OldestFirst =
    std::priority_queue<std::pair<int64_t, uint64_t>, std::vector<std::pair<int64_t, uint64_t>>,
                        std::greater<std::pair<int64_t, uint64_t>>>;

struct Hall {
  Hall(std::string n, const std::vector<int64_t>& seconds, const std::vector<int64_t>& panes,
       size_t rules)
      : name(std::move(n)), win(seconds, panes), alerts(rules) {}

  std::string name;
  uint32_t index = 0;  // position in the engine's hall list
  NameTable staff;
  DenseMap<Ticket> tickets{64};
  HashMap64<CallState> calls{16};
  HashMap64<WindowState> windows{16};
  HashMap64<AgentRecord> agents{16};
  HashMap64<Opinion> opinions{16};
  int64_t waiting = 0, serving = 0, open_windows = 0, paused_windows = 0, calls_waiting = 0,
          opinions_open = 0;
  int64_t agents_in[5] = {0, 0, 0, 0, 0};  // by AgentStateKind
  OldestFirst waiting_queue, call_queue;
  std::vector<int64_t> open_opinions;  // submitted ts of open opinions, sorted
  int64_t configured_windows = -1;     // -1: not configured
  HallWindows win;
  std::vector<AlertState> alerts;
  // Earliest pane at which an alert rule could change state with no new event of this
  // hall (a window expiring, a pending period ending, a waiting time crossing a threshold).
  int64_t wake_pane = std::numeric_limits<int64_t>::min();  // evaluate from this pane
  int64_t due_pane = std::numeric_limits<int64_t>::min();   // every rule, from this pane
  uint32_t dirty = ~0u;  // inputs (inputs.hpp) changed since the last evaluation
  int64_t oldest_waiting = kUnknown, oldest_call = kUnknown;  // see Engine::oldest_waiting
};

}  // namespace hallkpi
