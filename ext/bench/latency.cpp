// Per-event latency of hallkpi::Engine::push(const RawEvent&, std::string*) on a synthetic,
// realistic stream: kHalls halls over kDays days (tickets issued, called, started, completed,
// no-shows, cancellations and ratings from a FIFO queue per hall; windows opening, pausing and
// closing; phone calls with agents; a few opinions), time-ordered across halls.
//
// Two configurations, run alternately kRuns times each (the machine is noisy):
//   5m only: horizons_s {300}
//   full:    horizons_s {300, 900, 3600}
// Both use the default alert rules with their 15m horizons read as 5m, so that the rules do
// not add the 15m horizon back to the 5m-only engine. The engine always keeps `today` and a
// 1h horizon (for est_wait_s), so "5m only" slides {5m, 1h} and "full" {5m, 15m, 1h}.
//
// Each push is timed alone with std::chrono::steady_clock (the RawEvent is filled outside the
// timed region). Reported: p50, p99, p99.9, p99.99, max and mean per run, their median over
// the runs, and the ratio p99.99(full) / p99.99(5m only), goal <= 2x. Build and run with
// `make cpp-bench`. Exits 0 whatever the numbers (no timed assertion).
#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <queue>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hallkpi/hallkpi.hpp"
#include "single_kpi.hpp"

namespace {

using hallkpi::Field;
using Clock = std::chrono::steady_clock;

constexpr int kHalls = 32;
constexpr int kDays = 3;
constexpr int kTicketsPerHall = 2000;
constexpr int kCallsPerHall = 400;
constexpr int kOpinionsPerHall = 3;
constexpr int kRuns = 3;
constexpr double kGoal = 2.0;
constexpr double kFloorGoal = 3.0;   // engine mean / single-KPI loop mean
constexpr double kMeanGoalNs = 250;  // Engine::push mean, all KPIs, 4 horizons
constexpr double kMaxGoalUs = 100;   // worst single push in the run
constexpr int64_t kSecond = 1000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kFirstMidnight = 1795708800000;  // 2026-11-27 00:00 in Asia/Shanghai (UTC+8)

enum class T : uint8_t {
  Issued,
  Called,
  Started,
  Completed,
  NoShow,
  Cancelled,
  Rated,
  WindowOpened,
  WindowPaused,
  WindowResumed,
  WindowClosed,
  CallQueued,
  CallAnswered,
  CallAbandoned,
  CallTimeout,
  CallCompleted,
  CallRated,
  AgentState,
  OpinionSubmitted,
  OpinionResolved,
};

constexpr const char* kTypeNames[] = {
    "ticket.issued",    "ticket.called", "ticket.started", "ticket.completed",  "ticket.no_show",
    "ticket.cancelled", "ticket.rated",  "window.opened",  "window.paused",     "window.resumed",
    "window.closed",    "call.queued",   "call.answered",  "call.abandoned",    "call.timeout",
    "call.completed",   "call.rated",    "agent.state",    "opinion.submitted", "opinion.resolved"};
constexpr const char* kChannels[] = {"kiosk", "wechat", "appointment", "web"};
constexpr const char* kServices[] = {"tax", "invoice", "social", "registration"};
constexpr const char* kAgentStates[] = {"available", "busy", "paused", "offline"};

// One event, compact; its strings are formatted just before it is pushed.
struct Ev {
  int64_t ts;
  uint32_t seq;  // generation order within its hall and day: ties in ts keep causal order
  uint32_t obj;  // ticket, call or opinion number within the hall and day
  uint16_t hall, day, unit;  // unit: window or agent number
  T type;
  uint8_t aux;  // channel, service*4+channel, score or agent state
  float secs;   // hold_s or talk_s
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::vector<Ev> stream() {
    for (uint16_t day = 0; day < kDays; ++day)
      for (uint16_t hall = 0; hall < kHalls; ++hall) hall_day(hall, day);
    std::sort(out_.begin(), out_.end(), [](const Ev& a, const Ev& b) {
      if (a.ts != b.ts) return a.ts < b.ts;
      if (a.hall != b.hall) return a.hall < b.hall;
      if (a.day != b.day) return a.day < b.day;
      return a.seq < b.seq;
    });
    return std::move(out_);
  }

 private:
  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }
  double exponential(double mean) { return std::exponential_distribution<>(1.0 / mean)(rng_); }
  bool chance(double p) { return uniform(0, 1) < p; }
  int64_t secs(double lo, double hi) { return static_cast<int64_t>(uniform(lo, hi) * kSecond); }

  void emit(int64_t ts, T type, uint32_t obj = 0, uint16_t unit = 0, uint8_t aux = 0, float s = 0) {
    out_.push_back(Ev{ts, seq_++, obj, hall_, day_, unit, type, aux, s});
  }

  void hall_day(uint16_t hall, uint16_t day) {
    hall_ = hall;
    day_ = day;
    seq_ = 0;
    const int64_t midnight = kFirstMidnight + day * kDay;
    const double volume = 0.8 + 0.35 * ((hall * 7 + day * 3) % 10) / 9.0;
    const int windows = 8 + hall % 7;
    const int64_t open = midnight + 8 * kHour + 30 * 60 * kSecond;
    const int64_t last_issue = midnight + 17 * kHour;
    const int64_t close = midnight + 17 * kHour + 30 * 60 * kSecond;

    for (int w = 0; w < windows; ++w) {
      emit(open - secs(0, 600), T::WindowOpened, 0, static_cast<uint16_t>(w));
      if (w % 2) {
        emit(midnight + 12 * kHour + secs(0, 600), T::WindowPaused, 0, static_cast<uint16_t>(w));
        emit(midnight + 13 * kHour + secs(0, 600), T::WindowResumed, 0, static_cast<uint16_t>(w));
      }
      emit(close + secs(0, 600), T::WindowClosed, 0, static_cast<uint16_t>(w));
    }

    // Tickets: arrivals peak at 10:00 and 14:30; a FIFO queue served by the windows.
    const int n = static_cast<int>(kTicketsPerHall * volume);
    std::vector<int64_t> arrivals(static_cast<size_t>(n));
    std::normal_distribution<> morning(10.0 * kHour, 1.0 * kHour),
        afternoon(14.5 * kHour, 1.0 * kHour);
    for (int i = 0; i < n; ++i) {
      double t = i % 2 ? afternoon(rng_) : morning(rng_);
      arrivals[static_cast<size_t>(i)] =
          std::clamp<int64_t>(midnight + static_cast<int64_t>(t), open, last_issue);
    }
    std::sort(arrivals.begin(), arrivals.end());
    using Free = std::pair<int64_t, int>;  // when a window is free again, which window
    std::priority_queue<Free, std::vector<Free>, std::greater<Free>> free;
    for (int w = 0; w < windows; ++w) free.push({open, w});
    const double mean_service_ms = 0.85 * windows * static_cast<double>(last_issue - open) / n;
    for (int i = 0; i < n; ++i) {
      const auto ticket = static_cast<uint32_t>(i + 1);
      const int64_t issued = arrivals[static_cast<size_t>(i)];
      const auto channel = static_cast<uint8_t>(chance(0.5) ? 0 : 1 + rng_() % 3);
      const auto service = static_cast<uint8_t>(rng_() % 4);
      emit(issued, T::Issued, ticket, 0, static_cast<uint8_t>(service * 4 + channel));
      if (chance(0.01)) {
        emit(issued + secs(60, 1200), T::Cancelled, ticket);
        continue;
      }
      auto [at, w] = free.top();
      free.pop();
      const auto window = static_cast<uint16_t>(w);
      const int64_t called = std::max(issued + secs(0, 5), at);
      emit(called, T::Called, ticket, window);
      if (chance(0.02)) {
        emit(called + 60 * kSecond, T::NoShow, ticket, window);
        free.push({called + 60 * kSecond, w});
        continue;
      }
      const int64_t started = called + secs(5, 40);
      const int64_t done = started + kSecond + static_cast<int64_t>(exponential(mean_service_ms));
      emit(started, T::Started, ticket, window);
      emit(done, T::Completed, ticket, window);
      if (chance(0.5)) emit(done + secs(5, 60), T::Rated, ticket, window, score());
      free.push({done + secs(2, 10), w});
    }

    // Calls: agents come online, calls are answered (agent busy, then available again),
    // abandoned or time out.
    const int agents = 4 + hall % 3;
    for (int a = 0; a < agents; ++a) {
      emit(midnight + 8 * kHour + 55 * 60 * kSecond, T::AgentState, 0, static_cast<uint16_t>(a), 0);
      emit(close + secs(0, 300), T::AgentState, 0, static_cast<uint16_t>(a), 3);
    }
    const int calls = static_cast<int>(kCallsPerHall * volume);
    std::vector<int64_t> queued(static_cast<size_t>(calls));
    for (auto& t : queued) t = midnight + 9 * kHour + secs(0, 8 * 3600);
    std::sort(queued.begin(), queued.end());
    for (int c = 0; c < calls; ++c) {
      const auto call = static_cast<uint32_t>(c + 1);
      const int64_t q = queued[static_cast<size_t>(c)];
      emit(q, T::CallQueued, call);
      const double p = uniform(0, 1);
      if (p < 0.85) {
        const auto agent = static_cast<uint16_t>(rng_() % static_cast<uint64_t>(agents));
        const double hold = uniform(0, 60), talk = 10 + exponential(240);
        const int64_t answered = q + static_cast<int64_t>(hold * kSecond);
        const int64_t ended = answered + static_cast<int64_t>(talk * kSecond);
        emit(answered, T::CallAnswered, call, agent, 0, static_cast<float>(hold));
        emit(answered, T::AgentState, 0, agent, 1);
        emit(ended, T::CallCompleted, call, agent, 0, static_cast<float>(talk));
        emit(ended, T::AgentState, 0, agent, 0);
        if (chance(0.3)) emit(ended + 30 * kSecond, T::CallRated, call, agent, score());
      } else if (p < 0.99) {
        const double hold = uniform(0, 90);
        emit(q + static_cast<int64_t>(hold * kSecond), T::CallAbandoned, call, 0, 0,
             static_cast<float>(hold));
      } else {
        emit(q + 120 * kSecond, T::CallTimeout, call, 0, 0, 120.0f);
      }
    }

    for (int o = 0; o < kOpinionsPerHall; ++o) {
      const auto opinion = static_cast<uint32_t>(o + 1);
      const int64_t at = midnight + 9 * kHour + secs(0, 7 * 3600);
      emit(at, T::OpinionSubmitted, opinion);
      if (chance(0.5)) emit(at + secs(600, 3600), T::OpinionResolved, opinion);
    }
  }

  uint8_t score() {
    const double p = uniform(0, 1);
    return p < 0.55 ? 5 : p < 0.80 ? 4 : p < 0.90 ? 3 : p < 0.95 ? 2 : 1;
  }

  std::mt19937_64 rng_;
  std::vector<Ev> out_;
  uint16_t hall_ = 0, day_ = 0;
  uint32_t seq_ = 0;
};

// Formats an Ev's strings into fixed buffers and points a RawEvent at them.
class Filler {
 public:
  void fill(const Ev& e, hallkpi::RawEvent& raw) {
    raw.clear();
    const char* type = kTypeNames[static_cast<int>(e.type)];
    raw.set_string(hallkpi::F_TYPE, type);
    raw.set_int(hallkpi::F_TS, e.ts);
    set(raw, hallkpi::F_HALL, hall_, {"hall", e.hall});
    set(raw, hallkpi::F_ID, id_, {"hall", e.hall, "-", e.day, "-", e.seq});
    switch (e.type) {
      case T::Issued:
        set(raw, hallkpi::F_TICKET, ticket_, {"A", e.obj});
        raw.set_string(hallkpi::F_SERVICE, kServices[e.aux / 4]);
        raw.set_string(hallkpi::F_CHANNEL, kChannels[e.aux % 4]);
        break;
      case T::Called:
      case T::Started:
      case T::Completed:
      case T::NoShow:
      case T::Rated:
        set(raw, hallkpi::F_TICKET, ticket_, {"A", e.obj});
        set(raw, hallkpi::F_WINDOW, window_, {"W", e.unit});
        set(raw, hallkpi::F_STAFF, staff_, {"S", e.unit});
        if (e.type == T::Rated) raw.set_int(hallkpi::F_SCORE, e.aux);
        break;
      case T::Cancelled:
        set(raw, hallkpi::F_TICKET, ticket_, {"A", e.obj});
        break;
      case T::WindowOpened:
        set(raw, hallkpi::F_STAFF, staff_, {"S", e.unit});
        [[fallthrough]];
      case T::WindowPaused:
      case T::WindowResumed:
      case T::WindowClosed:
        set(raw, hallkpi::F_WINDOW, window_, {"W", e.unit});
        break;
      case T::AgentState:
        set(raw, hallkpi::F_AGENT, agent_, {"agent", e.unit});
        set(raw, hallkpi::F_QUEUE, queue_, {"12366-", e.hall});
        raw.set_string(hallkpi::F_STATE, kAgentStates[e.aux]);
        break;
      case T::OpinionSubmitted:
        raw.set_string(hallkpi::F_CHANNEL, "hotline");
        [[fallthrough]];
      case T::OpinionResolved:
        set(raw, hallkpi::F_OPINION, opinion_, {"op", e.day, "-", e.obj});
        break;
      default:  // calls
        set(raw, hallkpi::F_CALL, call_, {"c", e.day, "-", e.obj});
        set(raw, hallkpi::F_QUEUE, queue_, {"12366-", e.hall});
        if (e.type == T::CallAnswered || e.type == T::CallCompleted || e.type == T::CallRated)
          set(raw, hallkpi::F_AGENT, agent_, {"agent", e.unit});
        if (e.type == T::CallAnswered || e.type == T::CallAbandoned || e.type == T::CallTimeout)
          raw.set_number(hallkpi::F_HOLD_S, e.secs);
        if (e.type == T::CallCompleted) raw.set_number(hallkpi::F_TALK_S, e.secs);
        if (e.type == T::CallRated) raw.set_int(hallkpi::F_SCORE, e.aux);
        break;
    }
  }

 private:
  // A piece of a formatted string: text, or a number.
  struct Part {
    Part(const char* s) : text(s) {}  // NOLINT: implicit on purpose
    Part(uint32_t n) : number(n), is_number(true) {}
    std::string_view text;
    uint32_t number = 0;
    bool is_number = false;
  };
  using Buf = char[48];

  static void set(hallkpi::RawEvent& raw, Field f, Buf& buf, std::initializer_list<Part> parts) {
    char* p = buf;
    char* end = buf + sizeof(Buf);
    for (const Part& part : parts) {
      if (part.is_number) {
        p = std::to_chars(p, end, part.number).ptr;
      } else {
        p = std::copy(part.text.begin(), part.text.end(), p);
      }
    }
    raw.set_string(f, std::string_view(buf, static_cast<size_t>(p - buf)));
  }

  Buf id_, hall_, ticket_, window_, staff_, call_, queue_, agent_, opinion_;
};

// Context switches of this thread so far: a push during which the thread was switched out
// measured the scheduler (other processes on a busy machine), not the engine.
int64_t context_switches() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<int64_t>(u.ru_nvcsw) + static_cast<int64_t>(u.ru_nivcsw);
}

struct Percentiles {
  double p50, p99, p999, p9999, max, mean;
};

Percentiles percentiles(std::vector<uint32_t> ns) {
  auto at = [&](double q) {
    auto k = static_cast<size_t>(std::ceil(q * static_cast<double>(ns.size()))) - 1;
    std::nth_element(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(k), ns.end());
    return static_cast<double>(ns[k]);
  };
  double sum = 0;
  for (uint32_t x : ns) sum += x;
  Percentiles p{};
  p.mean = sum / static_cast<double>(ns.size());
  p.max = static_cast<double>(*std::max_element(ns.begin(), ns.end()));
  p.p9999 = at(0.9999);
  p.p999 = at(0.999);
  p.p99 = at(0.99);
  p.p50 = at(0.5);
  return p;
}

struct Setup {
  const char* name;
  std::vector<int64_t> horizons_s;
};

hallkpi::Config config(const Setup& s) {
  hallkpi::Config c;
  c.horizons_s = s.horizons_s;
  for (auto& rule : c.alert_rules) {
    if (rule.horizon == "15m") rule.horizon = "5m";
    if (rule.has_guard && rule.guard_horizon == "15m") rule.guard_horizon = "5m";
  }
  return c;
}

struct RunResult {
  Percentiles all, clean;  // clean: pushes without a context switch
  size_t switched;
};

void print_row(const char* name, const char* what, const Percentiles& p, const char* tail) {
  std::printf("%-8s %-13s %8.0f %8.0f %8.0f %8.0f %10.0f %8.0f%s\n", name, what, p.p50, p.p99,
              p.p999, p.p9999, p.max, p.mean, tail);
}

// Times every push of `events` into a fresh engine configured by `s`; with no `s`, times an
// empty region instead (the floor: clock reads plus what the machine adds by itself), or
// with `one_kpi` the hand-written single-KPI loop (single_kpi.hpp).
RunResult run(const Setup* s, const std::vector<Ev>& events, int round, bool one_kpi = false) {
  hallkpi::Engine engine(s ? config(*s) : hallkpi::Config{});
  bench::SingleKpiLoop loop;
  volatile double sink = 0;
  hallkpi::RawEvent raw;
  Filler filler;
  std::string reason;
  std::vector<uint32_t> all(events.size()), clean;
  clean.reserve(events.size());
  int64_t rejected = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    filler.fill(events[i], raw);
    if (i % 1024 == 0) engine.drain_alerts();  // a consumer reads alert changes now and then
    const int64_t switches = context_switches();
    const auto t0 = Clock::now();
    hallkpi::Outcome o = hallkpi::Outcome::Applied;
    if (s)
      o = engine.push(raw, &reason);
    else if (one_kpi)
      sink = sink + loop.push(raw);
    const auto t1 = Clock::now();
    const bool switched = context_switches() != switches;
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
    all[i] = static_cast<uint32_t>(std::min<int64_t>(ns, UINT32_MAX));
    if (!switched) clean.push_back(all[i]);
    if (o == hallkpi::Outcome::Rejected && rejected++ == 0)
      std::printf("  first rejection: %s\n", reason.c_str());
  }
  const size_t switched = events.size() - clean.size();
  RunResult r{percentiles(std::move(all)), percentiles(std::move(clean)), switched};
  const char* name = s ? s->name : one_kpi ? "1 KPI" : "floor";
  char what[32], tail[96];
  std::snprintf(what, sizeof what, "run %d", round);
  std::snprintf(tail, sizeof tail, "   applied %lld, rejected %lld",
                static_cast<long long>(engine.diagnostics().events_applied),
                static_cast<long long>(rejected));
  print_row(name, what, r.all, s ? tail : "");
  std::snprintf(tail, sizeof tail, "   (%zu samples with a context switch left out)", r.switched);
  print_row(name, "  unswitched", r.clean, tail);
  return r;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

Percentiles median_of(const std::vector<RunResult>& runs, Percentiles RunResult::* which) {
  auto m = [&](double Percentiles::* field) {
    std::vector<double> xs;
    for (const auto& r : runs) xs.push_back((r.*which).*field);
    return median(xs);
  };
  return Percentiles{m(&Percentiles::p50),   m(&Percentiles::p99), m(&Percentiles::p999),
                     m(&Percentiles::p9999), m(&Percentiles::max), m(&Percentiles::mean)};
}

}  // namespace

int main() {
  const std::vector<Ev> events = Generator(20261127).stream();
  std::printf(
      "hallkpi latency: Engine::push(RawEvent) per event, ns; %d halls x %d days, %zu events\n",
      kHalls, kDays, events.size());
  const Setup setups[2] = {{"5m only", {300}}, {"full", {300, 900, 3600}}};
  std::printf("%-8s %-13s %8s %8s %8s %8s %10s %8s\n", "config", "", "p50", "p99", "p99.9",
              "p99.99", "max", "mean");
  run(nullptr, events, 0);
  std::vector<RunResult> runs[2], one;
  for (int r = 1; r <= kRuns; ++r) {
    one.push_back(run(nullptr, events, r, true));
    for (int s = 0; s < 2; ++s) runs[s].push_back(run(&setups[s], events, r));
  }
  Percentiles all[2], clean[2];
  for (int s = 0; s < 2; ++s) {
    all[s] = median_of(runs[s], &RunResult::all);
    clean[s] = median_of(runs[s], &RunResult::clean);
    print_row(setups[s].name, "median", all[s], "");
    print_row(setups[s].name, "  unswitched", clean[s], "");
  }
  const double ratio = clean[1].p9999 / clean[0].p9999;
  std::printf("p99.99 full / p99.99 5m only = %.2fx (goal <= %.0fx): %s\n", ratio, kGoal,
              ratio <= kGoal ? "pass" : "short");
  std::printf("  (unswitched pushes, median of %d runs; all pushes: %.2fx)\n", kRuns,
              all[1].p9999 / all[0].p9999);
  std::printf("p50 full / 5m only = %.2fx; p99 %.2fx; p99.9 %.2fx (unswitched)\n",
              clean[1].p50 / clean[0].p50, clean[1].p99 / clean[0].p99,
              clean[1].p999 / clean[0].p999);
  // The engine against the floor: every KPI on every horizon (5m, 15m, 1h, today) and
  // the alert rules, vs the one hand-written KPI, both per RawEvent, same stream.
  const Percentiles floor = median_of(one, &RunResult::clean);
  print_row("1 KPI", "median", floor, "   (unswitched)");
  const double vs_floor = clean[1].mean / floor.mean;
  std::printf("mean full / mean single-KPI loop = %.2fx (goal <= %.0fx): %s\n", vs_floor,
              kFloorGoal, vs_floor <= kFloorGoal ? "pass" : "short");
  std::printf(
      "mean full = %.0f ns (goal <= %.0f ns): %s; max full = %.0f us (goal <= %.0f us): %s "
      "(unswitched)\n",
      clean[1].mean, kMeanGoalNs, clean[1].mean <= kMeanGoalNs ? "pass" : "short",
      clean[1].max / 1000, kMaxGoalUs, clean[1].max / 1000 <= kMaxGoalUs ? "pass" : "short");
  return 0;
}
