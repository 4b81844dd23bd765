// The KPI engine: applies events (EVENTS.md) to per-hall state and computes the KPIs
// of KPIS.md, evaluates alert rules, and answers snapshots. Header-only, no Python.
//
//   hallkpi::Engine engine(hallkpi::Config{});
//   auto result = engine.push_jsonl(data);
//   double waiting = engine.gauge(0, hallkpi::Kpi::Waiting);
//   std::string json = engine.snapshot_json();
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hallkpi/alerts.hpp"
#include "hallkpi/clock_bounds.hpp"
#include "hallkpi/event.hpp"
#include "hallkpi/extension_record.hpp"
#include "hallkpi/flat_map.hpp"
#include "hallkpi/hall.hpp"
#include "hallkpi/id_set.hpp"
#include "hallkpi/inputs.hpp"
#include "hallkpi/json.hpp"
#include "hallkpi/kpi.hpp"
#include "hallkpi/producers.hpp"
#include "hallkpi/timezone.hpp"
#include "hallkpi/windows.hpp"

namespace hallkpi {

struct Config {
  std::vector<int64_t> horizons_s{300, 900, 3600};
  int64_t pane_ms = 1000;
  TimeZone timezone = TimeZone::fixed(8 * 3600 * 1000);  // Asia/Shanghai has no DST
  double short_abandon_s = 5;
  double service_level_s = 20;
  double default_handle_s = 600;
  int64_t opinion_sla_s = 172800;
  std::vector<AlertRule> alert_rules = default_alert_rules();
  std::vector<std::pair<std::string, int64_t>> configured_windows;  // hall -> windows
  std::vector<std::string> halls;  // listed in every snapshot even without events
  size_t max_payload_bytes = 262144;
  size_t max_pending_alerts = 1000000;
  ClockBounds clock;  // against the reference clock of advance(); off by default
  GapConfig gaps;     // upstream loss detection (contract v1.1)
};

struct Diagnostics {
  int64_t events_applied = 0, duplicate_events = 0, late_events = 0, orphan_events = 0,
          rejected_events = 0, alerts_dropped = 0;
};

enum class Outcome : uint8_t { Applied, Duplicate, Rejected };

struct Rejection {
  size_t index;  // array element (0-based) for push_json, line (1-based) for push_jsonl
  std::string reason;
};

struct PushResult {
  int64_t applied = 0, duplicates = 0, rejected = 0;
  std::vector<Rejection> rejections;
  std::vector<ExtensionRecord> extensions;  // contract v1.2: the applied extension events
};

class Engine {
 public:
  explicit Engine(Config cfg) : cfg_(std::move(cfg)), gaps_(cfg_.gaps) {
    if (cfg_.pane_ms <= 0 || 900000 % cfg_.pane_ms != 0)
      throw std::invalid_argument(
          "pane_ms must divide 15 minutes (900000 ms), so that local midnight (UTC offsets "
          "are whole quarter hours) starts a pane");
    if (cfg_.opinion_sla_s < 0) throw std::invalid_argument("opinion_sla_s must be >= 0");
    if (!(cfg_.default_handle_s >= 0)) throw std::invalid_argument("default_handle_s must be >= 0");
    if (cfg_.clock.max_lead_ms < 0 || cfg_.clock.max_age_ms < 0)
      throw std::invalid_argument("max_lead_ms and max_age_ms must be >= 0 (0: off)");
    if (cfg_.gaps.grace_ms < 0 || cfg_.gaps.alert_ms < 0)
      throw std::invalid_argument("the seq grace and the upstream alert time must be >= 0");
    for (int64_t s : cfg_.horizons_s) {
      if (s <= 0) throw std::invalid_argument("horizons must be > 0 seconds");
      if (sliding_index(s) >= 0) throw std::invalid_argument("horizon listed twice");
      add_sliding(s);
      longest_out_panes_ = std::max(longest_out_panes_, panes_of(s));
    }
    outputs_ = sliding_s_.size();
    for (const auto& r : cfg_.alert_rules) rules_.push_back(compile(r));
    est_index_ = sliding_index(3600);
    if (est_index_ < 0) est_index_ = add_sliding(3600);
    plan_wakes();
    for (int64_t s : sliding_s_) longest_ms_ = std::max(longest_ms_, s * 1000);
    for (const auto& [hall, n] : cfg_.configured_windows) {
      if (n < 0) throw std::invalid_argument("configured windows must be >= 0");
      hall_index(hall).configured_windows = n;
    }
    for (const auto& hall : cfg_.halls) hall_index(hall);
    set_now(0);
  }

  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- input -------------------------------------------------------------------------

  // Validates and applies one event. On rejection `reason` says why.
  Outcome push(const RawEvent& raw, std::string* reason) {
    prefetch(raw);
    Event ev;
    std::string err = admit(raw, ev, &ext_scratch_);
    if (!err.empty()) {
      ++diag_.rejected_events;
      if (reason) *reason = std::move(err);
      return Outcome::Rejected;
    }
    return apply(ev);
  }

  // One JSON object or an array of objects. Never throws on bad data.
  PushResult push_json(std::string_view payload) {
    PushResult out;
    push_payload(payload, 0, false, out);
    return out;
  }

  // JSON lines; each non-blank line is a payload as for push_json.
  PushResult push_jsonl(std::string_view data) {
    PushResult out;
    size_t line = 0;
    while (!data.empty()) {
      ++line;
      size_t nl = data.find('\n');
      std::string_view one = data.substr(0, nl);
      data = nl == std::string_view::npos ? std::string_view() : data.substr(nl + 1);
      bool blank = true;
      for (char c : one)
        if (c != ' ' && c != '\t' && c != '\r') {
          blank = false;
          break;
        }
      if (!blank) push_payload(one, line, true, out);
    }
    return out;
  }

  // Moves the clock to now_ms (never back) and evaluates every hall's alert rules.
  // It is also the reference of the clock bounds (Config::clock).
  void advance(int64_t now_ms) {
    if (!has_reference_ || now_ms > reference_) reference_ = now_ms;
    has_reference_ = true;
    if (now_ms > now_) set_now(now_ms);
    evaluate_due(nullptr);
    if (gaps_.due(now_)) check_gaps();
  }

  std::vector<AlertChange> drain_alerts() {
    std::vector<AlertChange> out;
    out.swap(changes_);
    return out;
  }
  size_t pending_alerts() const { return changes_.size(); }

  // --- reading -----------------------------------------------------------------------

  int64_t now() const { return now_; }
  int64_t pane_ms() const { return cfg_.pane_ms; }
  const Diagnostics& diagnostics() const { return diag_; }
  size_t hall_count() const { return halls_.size(); }
  const std::string& hall_name(size_t h) const { return halls_[h]->name; }
  int64_t find_hall(std::string_view name) const { return hall_names_.find(name); }

  // Output horizons: the configured sliding ones, then "today" (index = their count).
  size_t output_count() const { return outputs_ + 1; }
  std::string output_name(size_t i) const {
    return i < outputs_ ? horizon_name(sliding_s_[i]) : std::string("today");
  }

  double gauge(size_t hall, Kpi k) {
    Hall& h = *halls_[hall];
    sync(h);
    return gauge_value(h, k);
  }
  double windowed(size_t hall, size_t output, Kpi k) {
    Hall& h = *halls_[hall];
    sync(h);
    return windowed_value(h, output_horizon(h, output), k, output == outputs_);
  }
  size_t staff_count(size_t hall) const { return halls_[hall]->staff.size(); }
  const std::string& staff_name(size_t hall, size_t s) const {
    return halls_[hall]->staff.name(static_cast<uint32_t>(s));
  }
  double staff_value(size_t hall, size_t output, size_t s, Kpi k) {
    Hall& h = *halls_[hall];
    sync(h);
    const StaffAgg a = output_horizon(h, output).staff(s);
    switch (k) {
      case Kpi::StaffServed:
        return static_cast<double>(a.served);
      case Kpi::StaffHandleMeanS:
        return a.handle_n ? static_cast<double>(a.handle_sum_ms) / a.handle_n / 1000.0 : NAN;
      case Kpi::StaffRatings:
        return static_cast<double>(a.ratings);
      case Kpi::StaffRatingMean:
        return ratio(a.rating_sum, a.ratings);
      case Kpi::StaffDissatisfied:
        return static_cast<double>(a.dissatisfied);
      case Kpi::StaffNoShow:
        return static_cast<double>(a.no_show);
      default:
        return NAN;
    }
  }

  const std::vector<AlertRule>& rules() const { return cfg_.alert_rules; }
  const std::string& rule_name(uint32_t rule) const {
    return rule == kUpstreamRule ? upstream_rule_name() : cfg_.alert_rules[rule].name;
  }
  // Upstream loss (producer, seq, epoch): counters, open holes, changes to drain.
  const GapDetector& gaps() const { return gaps_; }
  std::vector<GapChange> drain_gap_changes() { return gaps_.drain_changes(); }
  AlertStateKind alert_state(size_t hall, size_t rule) const {
    return halls_[hall]->alerts[rule].state;
  }

  // Approximate heap bytes held (ids, halls, windows); for the memory benchmark.
  size_t memory_bytes() const {
    size_t n = ids_.memory_bytes() + gaps_.memory_bytes();
    for (const auto& hp : halls_) {
      const Hall& h = *hp;
      n += sizeof(Hall) + h.tickets.memory_bytes() + h.calls.memory_bytes() +
           h.windows.memory_bytes() + h.agents.memory_bytes() + h.opinions.memory_bytes() +
           h.win.memory_bytes() + (h.waiting_queue.size() + h.call_queue.size()) * 16 +
           h.open_opinions.capacity() * 8;
    }
    return n;
  }

  // The KPIS.md snapshot document as JSON text.
  std::string snapshot_json();

 private:
  struct CompiledRule {
    Kpi kpi;
    int horizon;  // kGauge, kToday or a sliding index
    Op op;
    double threshold;
    int64_t for_ms;
    bool guard;
    Kpi guard_kpi;
    int guard_horizon;
    double guard_min;
    uint32_t inputs;  // inputs_of(kpi) | inputs_of(guard_kpi)
  };
  static constexpr int kGauge = -1;
  static constexpr int kToday = -2;

  static double ratio(int64_t num, int64_t den) {
    return den ? static_cast<double>(num) / static_cast<double>(den) : NAN;
  }

  int64_t panes_of(int64_t seconds) const {
    return std::max<int64_t>(1, seconds * 1000 / cfg_.pane_ms);
  }
  int64_t pane_of(int64_t ts) const { return floor_div(ts, cfg_.pane_ms); }

  int sliding_index(int64_t seconds) const {
    for (size_t i = 0; i < sliding_s_.size(); ++i)
      if (sliding_s_[i] == seconds) return static_cast<int>(i);
    return -1;
  }
  int add_sliding(int64_t seconds) {
    if (!halls_.empty()) throw std::logic_error("horizons are fixed once halls exist");
    if (seconds * 1000 % cfg_.pane_ms != 0)
      throw std::invalid_argument("horizon " + horizon_name(seconds) +
                                  " is not a whole number of panes of " +
                                  std::to_string(cfg_.pane_ms) + " ms");
    sliding_s_.push_back(seconds);
    sliding_panes_.push_back(panes_of(seconds));
    return static_cast<int>(sliding_s_.size() - 1);
  }

  int horizon_ref(const std::string& name, Kpi k, const std::string& rule) {
    const KpiInfo& info = kpi_info(k);
    if (name == "now") {
      if (info.scope != Scope::Gauge)
        throw std::invalid_argument("alert rule '" + rule + "': " + std::string(info.name) +
                                    " is a windowed figure; give a horizon such as 15m");
      return kGauge;
    }
    if (info.scope != Scope::Windowed)
      throw std::invalid_argument("alert rule '" + rule + "': " + std::string(info.name) +
                                  " is a gauge; its horizon is 'now'");
    if (name == "today") return kToday;
    int64_t s = horizon_seconds(name);
    int i = sliding_index(s);
    return i >= 0 ? i : add_sliding(s);
  }

  CompiledRule compile(const AlertRule& r) {
    CompiledRule c{};
    if (!kpi_by_name(r.kpi, &c.kpi))
      throw std::invalid_argument("alert rule '" + r.name + "': unknown KPI '" + r.kpi + "'");
    c.horizon = horizon_ref(r.horizon, c.kpi, r.name);
    c.op = r.op;
    c.threshold = r.threshold;
    if (!(r.for_s >= 0)) throw std::invalid_argument("alert rule '" + r.name + "': for_s < 0");
    c.for_ms = static_cast<int64_t>(std::llround(r.for_s * 1000));
    c.guard = r.has_guard;
    if (c.guard) {
      if (!kpi_by_name(r.guard_kpi, &c.guard_kpi))
        throw std::invalid_argument("alert rule '" + r.name + "': unknown guard KPI '" +
                                    r.guard_kpi + "'");
      c.guard_horizon = horizon_ref(r.guard_horizon, c.guard_kpi, r.name);
      c.guard_min = r.guard_min;
    }
    c.inputs = inputs_of(c.kpi) | (c.guard ? inputs_of(c.guard_kpi) : 0);
    relevant_ |= c.inputs;
    return c;
  }

  Hall& hall_index(std::string_view name) {
    bool added = false;
    uint32_t i = hall_names_.intern(name, &added);
    if (added) {
      halls_.push_back(
          std::make_unique<Hall>(std::string(name), sliding_s_, sliding_panes_, rules_.size()));
      halls_.back()->index = i;
      sync(*halls_.back());
    }
    return *halls_[i];
  }

  Horizon& output_horizon(Hall& h, size_t output) {
    return output == outputs_ ? h.win.today() : h.win.sliding(output);
  }

  void set_now(int64_t t) {
    now_ = t;
    now_pane_ = pane_of(t);
    int64_t day = cfg_.timezone.local_day(t);
    if (day != day_) {
      bool first = day_ == kNever;
      day_ = day;
      midnight_ms_ = cfg_.timezone.midnight_of(t);
      today_start_pane_ = pane_of(midnight_ms_);
      if (!first) {
        forget_old();
        gaps_.forget_idle(std::min(midnight_ms_, now_ - longest_ms_) - cfg_.pane_ms);
      }
    }
  }

  void sync(Hall& h) { h.win.slide(now_pane_, today_start_pane_); }

  // Drops what no figure can need any more: ids and finished tickets, calls and
  // opinions older than both today and the longest horizon. Once a day, O(state).
  void forget_old() {
    const int64_t cutoff = std::min(midnight_ms_, now_ - longest_ms_) - cfg_.pane_ms;
    // The halls forget one per push (forget_next), so no push pays for them all.
    forget_cutoff_ = cutoff;
    forget_queue_.clear();
    forget_stage_ = 0;
    forget_cursor_ = 0;
    for (size_t i = halls_.size(); i-- > 0;) forget_queue_.push_back(static_cast<uint32_t>(i));
  }

  // One step of forgetting: up to kForgetBudget tickets of the hall on top of the
  // queue, then its calls and opinions, then its waiting queues rebuilt. A hall of
  // thousands of tickets forgotten in one push took 0.1 ms and more.
  void forget_next() {
    if (forget_queue_.empty()) return;
    const int64_t cutoff = forget_cutoff_;
    Hall& h = *halls_[forget_queue_.back()];
    if (forget_stage_ == 0) {
      // Tickets never issued stay: an issue may still attach to them (and their
      // orphan events and durations depend on it).
      if (h.tickets.erase_step(&forget_cursor_, kForgetBudget, [&](uint64_t, const Ticket& t) {
            return (t.flags & Ticket::Issued) && !t.waiting() && !t.serving() &&
                   t.last_ts() < cutoff;
          }))
        forget_stage_ = 1;
      return;
    }
    if (forget_stage_ == 1) {
      h.calls.erase_if(
          [&](uint64_t, const CallState& c) { return !c.waiting() && c.last_ts < cutoff; });
      h.opinions.erase_if(
          [&](uint64_t, const Opinion& o) { return !o.open() && o.last_ts < cutoff; });
      forget_stage_ = 2;
      return;
    }
    h.waiting_queue = OldestFirst();
    h.tickets.for_each([&](uint64_t key, const Ticket& t) {
      if (t.waiting()) h.waiting_queue.push({t.issued_ts, key});
    });
    h.oldest_waiting = h.oldest_call = kUnknown;
    h.call_queue = OldestFirst();
    h.calls.for_each([&](uint64_t key, const CallState& c) {
      if (c.waiting()) h.call_queue.push({c.queued_ts, key});
    });
    forget_queue_.pop_back();
    forget_stage_ = 0;
    forget_cursor_ = 0;
  }

  void push_payload(std::string_view payload, size_t index, bool per_line, PushResult& out) {
    auto reject = [&](size_t i, std::string reason) {
      ++out.rejected;
      ++diag_.rejected_events;
      out.rejections.push_back({i, std::move(reason)});
    };
    if (payload.size() > cfg_.max_payload_bytes) {
      reject(index, "payload of " + std::to_string(payload.size()) +
                        " bytes exceeds the limit of " + std::to_string(cfg_.max_payload_bytes) +
                        " bytes");
      return;
    }
    size_t n = 0;
    if (!reader_.read(payload, raws_, not_object_, n)) {
      reject(index, reader_.error());
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      size_t at = per_line ? index : i;
      if (not_object_[i]) {
        reject(at, "event must be a JSON object");
        continue;
      }
      prefetch(raws_[i]);
      Event ev;
      std::string err = admit(raws_[i], ev, &ext_scratch_);
      if (!err.empty()) {
        reject(at, std::move(err));
        continue;
      }
      Outcome o = apply(ev);
      if (o == Outcome::Applied) {
        ++out.applied;
        if (ev.type == EventType::Extension) {
          ext_scratch_.index = at;
          out.extensions.push_back(std::move(ext_scratch_));
        }
      } else {
        ++out.duplicates;
      }
    }
  }

  // --- applying events ---------------------------------------------------------------

  // The id table and the ticket table are large and probed at random: one cache miss
  // each per event. Starting both loads before validation lets them overlap it.
  void prefetch(const RawEvent& raw) const {
    const Value& id = raw.f[F_ID];
    if (id.kind == Kind::String) ids_.prefetch(hash_bytes(id.s));
    const Value& hall = raw.f[F_HALL];
    const Value& ticket = raw.f[F_TICKET];
    if (hall.kind == Kind::String && ticket.kind == Kind::String) {
      const int64_t h = hall_names_.find(hall.s);
      if (h >= 0) halls_[static_cast<size_t>(h)]->tickets.prefetch(hash_bytes(ticket.s));
    }
  }

  Outcome apply(const Event& e) {
    // Ids go to the generation of the local day of the clock after this event; all
    // have a ts before that day's end, the next local midnight.
    const int64_t clock = std::max(now_, e.ts);
    const int64_t id_day = e.ts > now_ ? cfg_.timezone.local_day(e.ts) : day_;
    if (!ids_.insert(hash_bytes(e.id), id_day, [&] {
          return cfg_.timezone.midnight_of(cfg_.timezone.midnight_of(clock) + kDayMs + 3 * 3600000);
        })) {
      ++diag_.duplicate_events;
      return Outcome::Duplicate;
    }
    // An id must be known while its ts is today or within the longest horizon.
    if (ids_.first_end() <= clock - longest_ms_ - cfg_.pane_ms)
      ids_.drop_ended(clock - longest_ms_ - cfg_.pane_ms);
    forget_next();
    Hall& h = hall_index(e.hall);
    const int64_t old_pane = now_pane_;
    if (e.ts > now_) set_now(e.ts);
    const int64_t p = pane_of(e.ts);
    const bool late = !(p > now_pane_ - longest_out_panes_) && p < today_start_pane_;
    if (late) ++diag_.late_events;
    sync(h);
    uint32_t staff = kNoStaff;
    if (!e.staff.empty()) {
      bool added = false;
      staff = h.staff.intern(e.staff, &added);
      if (added) h.win.add_staff();
    }
    switch (e.type) {
      case EventType::TicketIssued:
      case EventType::TicketCalled:
      case EventType::TicketStarted:
      case EventType::TicketCompleted:
      case EventType::TicketNoShow:
      case EventType::TicketCancelled:
      case EventType::TicketRated:
        apply_ticket(h, e, late, staff);
        break;
      case EventType::WindowOpened:
      case EventType::WindowPaused:
      case EventType::WindowResumed:
      case EventType::WindowClosed:
        apply_window(h, e);
        h.dirty |= kWindowInput;
        break;
      case EventType::OpinionSubmitted:
      case EventType::OpinionResolved:
        apply_opinion(h, e, late);
        h.dirty |= kOpinionInput;
        break;
      case EventType::AgentState:
        apply_agent(h, e);
        break;
      case EventType::Extension:  // its record goes back to the caller; no KPI changes
        break;
      default:
        apply_call(h, e, late);
        break;
    }
    ++diag_.events_applied;
    if (now_pane_ != old_pane)
      evaluate_due(&h);
    else
      evaluate(h);
    if (e.seq >= 0) gaps_.on_event(e.producer, e.epoch, e.seq, h.index, e.ts, now_);
    if (gaps_.due(now_)) check_gaps();
    return Outcome::Applied;
  }

  // Validation, then the clock bounds against the reference of advance().
  // An extension event's own fields are checked into `ext` (contract v1.2).
  std::string admit(const RawEvent& raw, Event& ev, ExtensionRecord* ext) const {
    std::string err = validate(raw, ev);
    if (err.empty() && has_reference_) err = clock_violation(ev.ts, reference_, cfg_.clock);
    if (err.empty() && ev.type == EventType::Extension) err = extension_fields(raw, ev, *ext);
    return err;
  }

  // Reports the holes due and emits the changes of the "events lost upstream" alert, which
  // goes through the same path as the rules' alerts (and counts in alerts_fired).
  void check_gaps() {
    gaps_.check(now_, [&](uint32_t hall, AlertStateKind state, double value, std::string detail) {
      Hall& h = *halls_[hall];
      if (state == AlertStateKind::Firing) {
        sync(h);
        record(h, now_, Contrib::AlertFired, 0, kNoStaff, false);
        h.wake_pane = h.due_pane = now_pane_;  // a rule may read alerts_fired: look again
      }
      if (changes_.size() >= cfg_.max_pending_alerts) {
        ++diag_.alerts_dropped;
        return;
      }
      changes_.push_back(
          AlertChange{h.index, kUpstreamRule, state, value, 0.0, now_, std::move(detail)});
    });
  }

  void record(Hall& h, int64_t ts, Contrib kind, int64_t value, uint32_t staff, bool late,
              uint8_t flags = 0) {
    if (late) return;
    const uint16_t bucket =
        kind == Contrib::Wait || kind == Contrib::Handle ? Histogram::bucket_of(value) : 0;
    h.win.record(Contribution{pane_of(ts), value, staff, kind, flags, bucket});
  }

  // A call outcome carrying a duration in ms (seconds_to_ms); `flags` classify it.
  void record_ms(Hall& h, const Event& e, Contrib kind, double ms, uint8_t flags, bool late) {
    int64_t value;
    if (ms < kExactMsCap) {
      value = static_cast<int64_t>(ms);
    } else {
      std::memcpy(&value, &ms, sizeof value);
      flags |= Contribution::Huge;
    }
    record(h, e.ts, kind, value, kNoStaff, late, flags);
  }

  // A duration from `from` to `to` (ms), recorded in the pane of `to` once both ends are
  // known; `late` is whether the event that completed it is late.
  void duration(Hall& h, Contrib kind, int64_t from, int64_t to, uint32_t staff, bool late) {
    if (to < from) {
      ++diag_.rejected_events;
      return;
    }
    record(h, to, kind, to - from, staff, late);
  }

  void apply_ticket(Hall& h, const Event& e, bool late, uint32_t staff) {
    const uint64_t key = hash_bytes(e.ticket);
    Ticket& t = *h.tickets.insert(key).first;
    bool was_waiting = t.waiting(), was_serving = t.serving();
    if (e.type == EventType::TicketIssued) {
      const int64_t day = cfg_.timezone.local_day(e.ts);
      if ((t.flags & Ticket::Issued) && day > cfg_.timezone.local_day(t.issued_ts)) {
        // Ticket numbers restart every day: drop yesterday's ticket of this number.
        if (was_waiting) --h.waiting;
        if (was_serving) --h.serving;
        was_waiting = was_serving = false;
        t = Ticket{};
      }
      if (!(t.flags & Ticket::Issued)) {
        t.flags |= Ticket::Issued;
        t.issued_ts = e.ts;
        diag_.orphan_events -= t.orphan_events;
        t.orphan_events = 0;
        if (t.flags & Ticket::Called)
          duration(h, Contrib::Wait, t.issued_ts, t.call_ts, kNoStaff, late);
      }
      record(h, e.ts, Contrib::Issued, e.wechat ? 1 : 0, kNoStaff, late);
    } else {
      if (!(t.flags & Ticket::Issued)) {
        ++t.orphan_events;
        ++diag_.orphan_events;
      }
      switch (e.type) {
        case EventType::TicketCalled:
          if (!(t.flags & Ticket::Called)) {
            t.flags |= Ticket::Called;
            t.call_ts = e.ts;
            record(h, e.ts, Contrib::CalledFirst, 0, kNoStaff, late);
            if (t.flags & Ticket::Issued)
              duration(h, Contrib::Wait, t.issued_ts, e.ts, kNoStaff, late);
          }
          break;
        case EventType::TicketStarted:
          if (!(t.flags & Ticket::Started)) {
            t.flags |= Ticket::Started;
            t.start_ts = e.ts;
            if (t.flags & Ticket::Completed)
              duration(h, Contrib::Handle, e.ts, t.done_ts, t.completed_staff, late);
          }
          break;
        case EventType::TicketCompleted:
          record(h, e.ts, Contrib::Served, 0, staff, late);
          if (!(t.flags & Ticket::Completed)) {
            t.flags |= Ticket::Completed;
            t.done_ts = e.ts;
            t.completed_staff = staff;
            if (t.flags & Ticket::Started)
              duration(h, Contrib::Handle, t.start_ts, e.ts, staff, late);
          }
          break;
        case EventType::TicketNoShow:
          t.flags |= Ticket::NoShow;
          record(h, e.ts, Contrib::NoShow, 0, staff, late);
          break;
        case EventType::TicketCancelled:
          t.flags |= Ticket::Cancelled;
          record(h, e.ts, Contrib::Cancelled, 0, kNoStaff, late);
          break;
        case EventType::TicketRated:
          record(h, e.ts, Contrib::Rated, e.score, staff, late);
          break;
        default:
          break;
      }
    }
    const bool is_waiting = t.waiting(), is_serving = t.serving();
    if (is_waiting != was_waiting) {
      h.waiting += is_waiting ? 1 : -1;
      if (is_waiting) h.waiting_queue.push({t.issued_ts, key});
      h.oldest_waiting = kUnknown;
      h.dirty |= kWaitingInput;
    }
    if (is_serving != was_serving) {
      h.serving += is_serving ? 1 : -1;
      h.dirty |= kServingInput;
    }
  }

  void apply_window(Hall& h, const Event& e) {
    WindowState& w = *h.windows.insert(hash_bytes(e.window)).first;
    if (e.type == EventType::WindowOpened) w.opened_ts = std::max(w.opened_ts, e.ts);
    if (e.ts < w.last_ts) return;  // an older event does not change the state
    w.last_ts = e.ts;
    uint8_t next = e.type == EventType::WindowPaused   ? WindowState::Paused
                   : e.type == EventType::WindowClosed ? WindowState::Closed
                                                       : WindowState::Open;
    if (w.state == WindowState::Open) --h.open_windows;
    if (w.state == WindowState::Paused) --h.paused_windows;
    w.state = next;
    if (next == WindowState::Open) ++h.open_windows;
    if (next == WindowState::Paused) ++h.paused_windows;
  }

  void apply_agent(Hall& h, const Event& e) {
    AgentRecord& a = *h.agents.insert(hash_bytes(e.agent)).first;
    if (e.ts < a.last_ts) return;
    a.last_ts = e.ts;
    if (a.state != e.state) h.dirty |= kAgentInput;
    --h.agents_in[static_cast<int>(a.state)];
    a.state = e.state;
    ++h.agents_in[static_cast<int>(a.state)];
  }

  void apply_call(Hall& h, const Event& e, bool late) {
    const uint64_t key = hash_bytes(e.call);
    switch (e.type) {
      case EventType::CallQueued: {
        CallState& c = *h.calls.insert(key).first;
        c.last_ts = std::max(c.last_ts, e.ts);
        if (!(c.flags & CallState::Queued)) {
          c.flags |= CallState::Queued;
          c.queued_ts = e.ts;
          if (c.waiting()) {
            ++h.calls_waiting;
            h.call_queue.push({e.ts, key});
            h.oldest_call = kUnknown;
            h.dirty |= kCallInput;
          }
        }
        return;
      }
      // Service level and short abandons compare the seconds as given; sums add ms.
      case EventType::CallAnswered:
        record_ms(h, e, Contrib::CallAnswered, e.hold_ms,
                  e.hold_s <= cfg_.service_level_s ? Contribution::InServiceLevel : 0, late);
        break;
      case EventType::CallAbandoned:
        record(h, e.ts, Contrib::CallAbandoned, 0, kNoStaff, late,
               e.hold_s >= cfg_.short_abandon_s ? Contribution::LongAbandon : 0);
        break;
      case EventType::CallTimeout:
        record(h, e.ts, Contrib::CallTimeout, 0, kNoStaff, late);
        break;
      case EventType::CallCompleted:
        record_ms(h, e, Contrib::CallCompleted, e.talk_ms, 0, late);
        break;
      case EventType::CallRated:
        record(h, e.ts, Contrib::CallRated, e.score, kNoStaff, late);
        return;  // a survey does not end the call
      default:
        return;
    }
    CallState& c = *h.calls.insert(key).first;
    c.last_ts = std::max(c.last_ts, e.ts);
    if (!(c.flags & CallState::Resolved)) {
      if (c.waiting()) {
        --h.calls_waiting;
        h.oldest_call = kUnknown;
        h.dirty |= kCallInput;
      }
      c.flags |= CallState::Resolved;
    }
  }

  void apply_opinion(Hall& h, const Event& e, bool late) {
    Opinion& o = *h.opinions.insert(hash_bytes(e.opinion)).first;
    o.last_ts = std::max(o.last_ts, e.ts);
    const bool was_open = o.open();
    if (e.type == EventType::OpinionSubmitted) {
      record(h, e.ts, Contrib::OpinionSubmitted, 0, kNoStaff, late);
      if (!(o.flags & Opinion::Submitted)) {
        o.flags |= Opinion::Submitted;
        o.submitted_ts = e.ts;
      }
    } else {
      record(h, e.ts, Contrib::OpinionResolved, 0, kNoStaff, late);
      o.flags |= Opinion::Resolved;
    }
    if (o.open() && !was_open) {
      ++h.opinions_open;
      h.open_opinions.insert(
          std::upper_bound(h.open_opinions.begin(), h.open_opinions.end(), o.submitted_ts),
          o.submitted_ts);
    } else if (!o.open() && was_open) {
      --h.opinions_open;
      auto it = std::lower_bound(h.open_opinions.begin(), h.open_opinions.end(), o.submitted_ts);
      if (it != h.open_opinions.end() && *it == o.submitted_ts) h.open_opinions.erase(it);
    }
  }

  // --- figures -----------------------------------------------------------------------

  // Start time of the oldest entry of `q` that still holds, dropping stale ones.
  template <class Map, class Start>
  static int64_t oldest(OldestFirst& q, Map& map, Start start) {
    while (!q.empty()) {
      auto [ts, key] = q.top();
      auto* v = map.find(key);
      if (v && v->waiting() && start(*v) == ts) return ts;
      q.pop();
    }
    return kNever;
  }

  // Start of the oldest waiting ticket / call (kNever when none), cached in the hall
  // until a ticket or call enters or leaves the waiting set.
  int64_t oldest_waiting(Hall& h) {
    if (h.oldest_waiting == kUnknown)
      h.oldest_waiting =
          oldest(h.waiting_queue, h.tickets, [](const Ticket& t) { return t.issued_ts; });
    return h.oldest_waiting;
  }
  int64_t oldest_call(Hall& h) {
    if (h.oldest_call == kUnknown)
      h.oldest_call = oldest(h.call_queue, h.calls, [](const CallState& c) { return c.queued_ts; });
    return h.oldest_call;
  }

  double handle_mean_s(Horizon& hz) const {
    const int64_t n = hz.count(&Agg::handle_n);
    return n ? static_cast<double>(hz.count(&Agg::handle_sum_ms)) / static_cast<double>(n) / 1000.0
             : NAN;
  }

  double gauge_value(Hall& h, Kpi k) {
    switch (k) {
      case Kpi::Waiting:
        return static_cast<double>(h.waiting);
      case Kpi::LongestWaitS: {
        int64_t ts = oldest_waiting(h);
        return ts == kNever ? 0.0 : static_cast<double>(now_ - ts) / 1000.0;
      }
      case Kpi::Serving:
        return static_cast<double>(h.serving);
      case Kpi::OpenWindows:
        return static_cast<double>(h.open_windows);
      case Kpi::PausedWindows:
        return static_cast<double>(h.paused_windows);
      case Kpi::WindowOpenRate: {
        int64_t den = h.configured_windows;
        if (den < 0) {
          den = 0;
          h.windows.for_each([&](uint64_t, const WindowState& w) {
            if (w.opened_ts != kNever && pane_of(w.opened_ts) >= today_start_pane_) ++den;
          });
        }
        return ratio(h.open_windows, den);
      }
      case Kpi::WindowPressure:
        return static_cast<double>(h.waiting) /
               static_cast<double>(std::max<int64_t>(h.open_windows, 1));
      case Kpi::EstWaitS: {
        double mean = handle_mean_s(h.win.sliding(static_cast<size_t>(est_index_)));
        if (std::isnan(mean)) mean = cfg_.default_handle_s;
        return static_cast<double>(h.waiting + 1) * mean /
               static_cast<double>(std::max<int64_t>(h.open_windows, 1));
      }
      case Kpi::CallsWaiting:
        return static_cast<double>(h.calls_waiting);
      case Kpi::LongestCallWaitS: {
        int64_t ts = oldest_call(h);
        return ts == kNever ? 0.0 : static_cast<double>(now_ - ts) / 1000.0;
      }
      case Kpi::AgentsAvailable:
        return static_cast<double>(h.agents_in[static_cast<int>(AgentStateKind::Available)]);
      case Kpi::AgentsBusy:
        return static_cast<double>(h.agents_in[static_cast<int>(AgentStateKind::Busy)]);
      case Kpi::AgentsPaused:
        return static_cast<double>(h.agents_in[static_cast<int>(AgentStateKind::Paused)]);
      case Kpi::OpinionsOpen:
        return static_cast<double>(h.opinions_open);
      case Kpi::OpinionsOverdue: {
        const int64_t limit = now_ - cfg_.opinion_sla_s * 1000;
        auto it = std::lower_bound(h.open_opinions.begin(), h.open_opinions.end(), limit);
        return static_cast<double>(it - h.open_opinions.begin());
      }
      default:
        return NAN;
    }
  }

  double windowed_value(Hall& h, Horizon& hz, Kpi k, bool today) {
    // Each figure reads the differences it needs (Horizon::count), not a whole Agg.
    auto c = [&](int64_t Agg::* f) { return hz.count(f); };
    const int64_t offered =
        c(&Agg::calls_answered) + c(&Agg::calls_abandoned) + c(&Agg::calls_timeout);
    switch (k) {
      case Kpi::Issued:
        return static_cast<double>(c(&Agg::issued));
      case Kpi::WechatShare:
        return ratio(c(&Agg::wechat), c(&Agg::issued));
      case Kpi::CalledFirst:
        return static_cast<double>(c(&Agg::called_first));
      case Kpi::WaitMeanS:
        return c(&Agg::wait_n)
                   ? static_cast<double>(c(&Agg::wait_sum_ms)) / c(&Agg::wait_n) / 1000.0
                   : NAN;
      case Kpi::WaitP50S:
        return c(&Agg::wait_n) ? hz.wait_percentile_s(1, 2) : NAN;
      case Kpi::WaitP90S:
        return c(&Agg::wait_n) ? hz.wait_percentile_s(9, 10) : NAN;
      case Kpi::WaitMaxS: {
        double m = h.win.wait_max_ms(hz);
        return m < 0 ? NAN : m / 1000.0;
      }
      case Kpi::Served:
        return static_cast<double>(c(&Agg::served));
      case Kpi::ThroughputPerH:
        if (today) {
          double elapsed = static_cast<double>(std::max(now_ - midnight_ms_, cfg_.pane_ms));
          return static_cast<double>(c(&Agg::served)) * 3600000.0 / elapsed;
        }
        return static_cast<double>(c(&Agg::served) * 3600) / static_cast<double>(hz.seconds);
      case Kpi::HandleMeanS:
        return handle_mean_s(hz);
      case Kpi::HandleP90S:
        return c(&Agg::handle_n) ? hz.handle_percentile_s(9, 10) : NAN;
      case Kpi::NoShow:
        return static_cast<double>(c(&Agg::no_show));
      case Kpi::Cancelled:
        return static_cast<double>(c(&Agg::cancelled));
      case Kpi::NoShowRate:
        return ratio(c(&Agg::no_show), c(&Agg::no_show) + c(&Agg::served));
      case Kpi::Ratings:
        return static_cast<double>(c(&Agg::ratings));
      case Kpi::RatingMean:
        return ratio(c(&Agg::rating_sum), c(&Agg::ratings));
      case Kpi::VerySatisfiedShare:
        return ratio(c(&Agg::very_satisfied), c(&Agg::ratings));
      case Kpi::DissatisfiedShare:
        return ratio(c(&Agg::dissatisfied), c(&Agg::ratings));
      case Kpi::CallsAnswered:
        return static_cast<double>(c(&Agg::calls_answered));
      case Kpi::CallsAbandoned:
        return static_cast<double>(c(&Agg::calls_abandoned));
      case Kpi::CallsShortAbandoned:
        return static_cast<double>(c(&Agg::calls_short_abandoned));
      case Kpi::CallsTimeout:
        return static_cast<double>(c(&Agg::calls_timeout));
      case Kpi::CallsOffered:
        return static_cast<double>(offered);
      case Kpi::AnswerRate:
        return ratio(c(&Agg::calls_answered), offered);
      case Kpi::ServiceLevel:
        return ratio(c(&Agg::answered_in_sl), offered);
      case Kpi::AsaS:
        return c(&Agg::calls_answered) ? hz.hold_mean_s(c(&Agg::calls_answered)) : NAN;
      case Kpi::AhtS:
        return c(&Agg::calls_completed) ? hz.talk_mean_s(c(&Agg::calls_completed)) : NAN;
      case Kpi::CallRatings:
        return static_cast<double>(c(&Agg::call_ratings));
      case Kpi::CallRatingMean:
        return ratio(c(&Agg::call_rating_sum), c(&Agg::call_ratings));
      case Kpi::OpinionsSubmitted:
        return static_cast<double>(c(&Agg::opinions_submitted));
      case Kpi::OpinionsResolved:
        return static_cast<double>(c(&Agg::opinions_resolved));
      case Kpi::AlertsFired:
        return static_cast<double>(c(&Agg::alerts_fired));
      default:
        return NAN;
    }
  }

  double value_of(Hall& h, Kpi k, int horizon) {
    if (horizon == kGauge) return gauge_value(h, k);
    if (horizon == kToday) return windowed_value(h, h.win.today(), k, true);
    return windowed_value(h, h.win.sliding(static_cast<size_t>(horizon)), k, false);
  }

  // --- alerts --------------------------------------------------------------------------

  // Evaluates every hall, as KPIS.md says for a new pane and for advance(). A hall whose
  // wake pane is still ahead (and that is not `touched`) would yield no change, so it
  // is skipped; a new day wakes every hall.
  void evaluate_due(Hall* touched) {
    const bool all = day_evaluated_ != day_;
    day_evaluated_ = day_;
    for (auto& hp : halls_)
      if (all || hp.get() == touched || hp->wake_pane <= now_pane_) evaluate(*hp, all);
  }

  // Which inputs can change a rule's outcome with time alone; see plan_wakes().
  struct WakePlan {
    // Sliding horizons read by some rule, each with the kinds of contribution read
    // from it: the expiry of another kind changes no rule's outcome.
    std::vector<std::pair<size_t, uint32_t>> sliding;
    bool every_pane = false;          // a rule reads a KPI that moves with every pane
    std::vector<double> wait_levels;  // thresholds on longest_wait_s, ascending
    std::vector<double> call_levels;  // thresholds on longest_call_wait_s, ascending
    bool overdue = false;             // a rule reads opinions_overdue
  };

  void plan_wakes() {
    std::vector<uint32_t> sliding(sliding_s_.size(), 0);
    auto note = [&](Kpi k, int horizon, const std::vector<double>& levels) {
      const uint32_t kinds = inputs_of(k) & kKindInputs;
      if (horizon >= 0) sliding[static_cast<size_t>(horizon)] |= kinds;
      if (horizon == kToday && k == Kpi::ThroughputPerH) wake_.every_pane = true;
      if (k == Kpi::EstWaitS) sliding[static_cast<size_t>(est_index_)] |= kinds;
      if (k == Kpi::OpinionsOverdue) wake_.overdue = true;
      auto* target = k == Kpi::LongestWaitS       ? &wake_.wait_levels
                     : k == Kpi::LongestCallWaitS ? &wake_.call_levels
                                                  : nullptr;
      if (target)
        for (double c : levels)
          if (std::isfinite(c)) target->push_back(c);
    };
    for (const auto& r : rules_) {
      note(r.kpi, r.horizon, {r.threshold, r.threshold * kClearBelow, r.threshold * kClearAbove});
      if (r.guard) note(r.guard_kpi, r.guard_horizon, {r.guard_min});
    }
    for (size_t i = 0; i < sliding.size(); ++i)
      if (sliding[i]) wake_.sliding.emplace_back(i, sliding[i]);
    std::sort(wake_.wait_levels.begin(), wake_.wait_levels.end());
    std::sort(wake_.call_levels.begin(), wake_.call_levels.end());
  }

  // The first pane after now at which a level above the current value of a waiting time
  // that started at t0 is reached.
  int64_t crossing_pane(int64_t t0, const std::vector<double>& levels) const {
    if (t0 == kNever) return std::numeric_limits<int64_t>::max();
    for (double c : levels) {
      double at = static_cast<double>(t0) + std::floor(c * 1000.0);
      if (at >= static_cast<double>(now_)) {  // "> c" holds just after t0 + c
        if (at > 9.0e18) break;
        return pane_of(static_cast<int64_t>(at));
      }
    }
    return std::numeric_limits<int64_t>::max();
  }

  // Two wakes: `due_pane`, when time alone changes a figure or a state that some rule
  // reads (every rule is evaluated then), and `wake_pane`, the earlier of it and the
  // next expiry of a kind some rule reads (the expiry marks its kind changed, so only
  // the rules reading that kind are evaluated).
  void plan_wake(Hall& h) {
    int64_t wake = std::numeric_limits<int64_t>::max();
    if (wake_.every_pane) wake = now_pane_ + 1;
    if (!wake_.wait_levels.empty())
      wake = std::min(wake, crossing_pane(oldest_waiting(h), wake_.wait_levels));
    if (!wake_.call_levels.empty())
      wake = std::min(wake, crossing_pane(oldest_call(h), wake_.call_levels));
    if (wake_.overdue) {
      const int64_t sla_ms = cfg_.opinion_sla_s * 1000;
      auto it = std::lower_bound(h.open_opinions.begin(), h.open_opinions.end(), now_ - sla_ms);
      if (it != h.open_opinions.end()) wake = std::min(wake, pane_of(*it + sla_ms + 1));
    }
    for (size_t i = 0; i < rules_.size(); ++i)
      if (h.alerts[i].state == AlertStateKind::Pending)
        wake = std::min(wake, pane_of(h.alerts[i].pending_since + rules_[i].for_ms));
    h.due_pane = wake;
    for (const auto& [i, kinds] : wake_.sliding) wake = std::min(wake, h.win.next_expiry(i, kinds));
    h.wake_pane = wake;
  }

  // Evaluates the rules of `h` whose inputs changed since its last evaluation; all of
  // them when a wake is due (or `force`). A rule none of whose inputs changed, and for
  // which no time-driven change is due, would give the same outcome: it is skipped.
  void evaluate(Hall& h, bool force = false) {
    if (rules_.empty()) {
      h.wake_pane = h.due_pane = std::numeric_limits<int64_t>::max();
      return;
    }
    sync(h);
    const uint32_t dirty = h.dirty | h.win.take_changed();
    h.dirty = 0;
    const bool due = force || h.due_pane <= now_pane_;
    if (!due && !(dirty & relevant_) && h.wake_pane > now_pane_) return;
    const size_t changes_before = changes_.size() + static_cast<size_t>(diag_.alerts_dropped);
    for (size_t i = 0; i < rules_.size(); ++i) {
      const CompiledRule& r = rules_[i];
      if (!due && !(dirty & r.inputs)) continue;
      const double v = value_of(h, r.kpi, r.horizon);
      bool guard_ok = true;
      if (r.guard) {
        const double g = value_of(h, r.guard_kpi, r.guard_horizon);
        guard_ok = !std::isnan(g) && g >= r.guard_min;
      }
      const bool holds = guard_ok && !std::isnan(v) && compare(v, r.op, r.threshold);
      AlertState& st = h.alerts[i];
      switch (st.state) {
        case AlertStateKind::Ok:
          if (holds) {
            if (r.for_ms == 0) {
              fire(h, i, v);
            } else {
              st.state = AlertStateKind::Pending;
              st.pending_since = now_;
              emit(h, i, v);
            }
          }
          break;
        case AlertStateKind::Pending:
          if (!holds) {
            st.state = AlertStateKind::Ok;
            emit(h, i, v);
          } else if (now_ - st.pending_since >= r.for_ms) {
            fire(h, i, v);
          }
          break;
        case AlertStateKind::Firing: {
          const bool upward = r.op == Op::Gt || r.op == Op::Ge;
          const bool passed =
              upward ? v < r.threshold * kClearBelow : v > r.threshold * kClearAbove;
          if (!guard_ok || std::isnan(v) || passed) {
            st.state = AlertStateKind::Ok;
            emit(h, i, v);
          }
          break;
        }
      }
    }
    plan_wake(h);
    // A change may move a figure that an earlier rule reads (alerts_fired): look again
    // at the next evaluation.
    if (changes_.size() + static_cast<size_t>(diag_.alerts_dropped) != changes_before)
      h.wake_pane = h.due_pane = now_pane_;
  }

  void fire(Hall& h, size_t rule, double v) {
    h.alerts[rule].state = AlertStateKind::Firing;
    record(h, now_, Contrib::AlertFired, 0, kNoStaff, false);
    emit(h, rule, v);
  }

  void emit(Hall& h, size_t rule, double v) {
    if (changes_.size() >= cfg_.max_pending_alerts) {
      ++diag_.alerts_dropped;
      return;
    }
    changes_.push_back(AlertChange{h.index, static_cast<uint32_t>(rule), h.alerts[rule].state, v,
                                   rules_[rule].threshold, now_});
  }

  Config cfg_;
  std::vector<int64_t> sliding_s_, sliding_panes_;  // configured horizons first
  size_t outputs_ = 0;
  int est_index_ = -1;
  int64_t longest_out_panes_ = 0;
  int64_t longest_ms_ = 0;
  std::vector<CompiledRule> rules_;
  uint32_t relevant_ = 0;  // inputs read by some rule
  WakePlan wake_;
  int64_t day_evaluated_ = kNever;

  NameTable hall_names_;
  std::vector<std::unique_ptr<Hall>> halls_;
  IdSet ids_;                           // hashes of the ids seen, by local day of arrival
  std::vector<uint32_t> forget_queue_;  // halls still to forget their old state (a stack)
  int64_t forget_cutoff_ = 0;
  static constexpr size_t kForgetBudget = 128;  // tickets looked at per push
  int forget_stage_ = 0;                        // of the hall on top: see forget_next
  size_t forget_cursor_ = 0;

  int64_t now_ = 0, now_pane_ = 0, day_ = kNever, midnight_ms_ = 0, today_start_pane_ = 0;
  Diagnostics diag_;
  std::vector<AlertChange> changes_;

  GapDetector gaps_;
  int64_t reference_ = 0;  // the latest advance(), for the clock bounds
  bool has_reference_ = false;

  JsonReader reader_;
  std::vector<RawEvent> raws_;
  ExtensionRecord ext_scratch_;  // the extension record of the event being pushed
  std::vector<uint8_t> not_object_;
};

}  // namespace hallkpi

#include "hallkpi/snapshot_json.hpp"
