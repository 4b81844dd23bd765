// Windowed figures of one hall. Every countable thing an event contributes (an issue,
// a wait, a rating...) is a Contribution in a pane. Sliding horizons keep running
// aggregates over a pane-sorted log: a contribution is added when recorded inside a
// horizon and subtracted when the horizon slides past its pane, so a snapshot reads
// sums, counts and histograms without scanning. `today` only grows during a day and is
// reset at local midnight, so it needs no log.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "hallkpi/histogram.hpp"

namespace hallkpi {

enum class Contrib : uint8_t {
  Issued,       // value: 1 when wechat/appointment
  CalledFirst,  //
  Wait,         // value: milliseconds
  Served,       // staff
  Handle,       // value: milliseconds, staff
  NoShow,       // staff
  Cancelled,
  Rated,          // value: score, staff
  CallAnswered,   // value: hold in milliseconds; flag InServiceLevel
  CallAbandoned,  // flag LongAbandon
  CallTimeout,
  CallCompleted,  // value: talk in milliseconds
  CallRated,      // value: score
  OpinionSubmitted,
  OpinionResolved,
  AlertFired,
};

constexpr uint32_t kNoStaff = 0xFFFFFFFFu;

// Every summed input is an integer (milliseconds, a count, a 1-5 score), so every sum is
// an int64 and a figure divides once when read: a window that empties and refills
// leaves no floating-point residue (-1.3e-14 where the answer is 0). hold_s and talk_s
// arrive in seconds and are rounded to whole milliseconds at validation (seconds_to_ms
// in event.hpp); a duration of kExactMsCap or more is kept as a double (flag Huge).
struct Contribution {
  enum : uint8_t {
    InServiceLevel = 1,  // call.answered within service_level_s
    LongAbandon = 2,     // call.abandoned after short_abandon_s or more
    Huge = 4,            // value holds the bits of a double >= kExactMsCap (ms)
  };
  int64_t pane;
  int64_t value;
  uint32_t staff;
  Contrib kind;
  uint8_t flags;
  uint16_t bucket;  // Histogram bucket of a Wait or Handle value (Histogram::bucket_of)

  double huge_ms() const {
    double d;
    std::memcpy(&d, &value, sizeof d);
    return d;
  }
};

// An exact sum of milliseconds: int64 below kExactMsCap, the rare larger values listed.
struct MsSum {
  int64_t ms = 0;
  std::vector<double> huge;

  void add(const Contribution& c, int sign) {
    if (!(c.flags & Contribution::Huge)) {
      ms += sign * c.value;
      return;
    }
    const double d = c.huge_ms();
    if (sign > 0) {
      huge.push_back(d);
    } else {
      auto it = std::find(huge.begin(), huge.end(), d);
      if (it != huge.end()) {
        *it = huge.back();
        huge.pop_back();
      }
    }
  }
  // Mean in seconds over n values (n > 0): one division of the exact sum.
  double mean_s(int64_t n) const {
    double sum = static_cast<double>(ms);
    for (double d : huge) sum += d;
    return sum / static_cast<double>(n) / 1000.0;
  }
};

struct Agg {
  int64_t issued = 0, wechat = 0, called_first = 0, wait_n = 0, wait_sum_ms = 0, served = 0,
          handle_n = 0, handle_sum_ms = 0, no_show = 0, cancelled = 0, ratings = 0, rating_sum = 0,
          very_satisfied = 0, dissatisfied = 0, calls_answered = 0, answered_in_sl = 0,
          calls_abandoned = 0, calls_short_abandoned = 0, calls_timeout = 0, calls_completed = 0,
          call_ratings = 0, call_rating_sum = 0, opinions_submitted = 0, opinions_resolved = 0,
          alerts_fired = 0;
  MsSum hold, talk;  // of call.answered, of call.completed
};

struct StaffAgg {
  int64_t served = 0, handle_n = 0, handle_sum_ms = 0, ratings = 0, rating_sum = 0,
          dissatisfied = 0, no_show = 0;
};

struct Horizon {
  int64_t seconds = 0;  // 0 for today
  int64_t panes = 0;    // panes covered (sliding horizons)
  int64_t start_pane = std::numeric_limits<int64_t>::min();
  size_t pos = 0;  // first log entry inside (sliding horizons)
  Agg agg;
  Histogram wait, handle;
  std::vector<StaffAgg> staff;
  // Exact maximum wait: kept while only growing; a removal of the maximum marks it stale
  // and the next read rescans the horizon's part of the log.
  double wait_max_ms = -1;
  bool wait_max_stale = false;

  void reset() {
    agg = Agg{};
    wait.clear();
    handle.clear();
    for (auto& s : staff) s = StaffAgg{};
    wait_max_ms = -1;
    wait_max_stale = false;
  }

  void apply(const Contribution& c, int sign) {
    Agg& a = agg;
    const int64_t s = sign;
    StaffAgg* st = c.staff == kNoStaff ? nullptr : &staff[c.staff];
    switch (c.kind) {
      case Contrib::Issued:
        a.issued += s;
        if (c.value != 0) a.wechat += s;
        break;
      case Contrib::CalledFirst:
        a.called_first += s;
        break;
      case Contrib::Wait: {
        const int64_t ms = c.value;
        a.wait_n += s;
        a.wait_sum_ms += s * ms;
        wait.add(ms, static_cast<int32_t>(s), c.bucket);
        const auto msd = static_cast<double>(ms);
        if (s > 0) {
          if (!wait_max_stale && msd > wait_max_ms) wait_max_ms = msd;
        } else if (msd >= wait_max_ms) {
          wait_max_stale = true;
        }
        if (a.wait_n == 0) {
          wait_max_ms = -1;
          wait_max_stale = false;
        }
        break;
      }
      case Contrib::Served:
        a.served += s;
        if (st) st->served += s;
        break;
      case Contrib::Handle: {
        const int64_t ms = c.value;
        a.handle_n += s;
        a.handle_sum_ms += s * ms;
        handle.add(ms, static_cast<int32_t>(s), c.bucket);
        if (st) {
          st->handle_n += s;
          st->handle_sum_ms += s * ms;
        }
        break;
      }
      case Contrib::NoShow:
        a.no_show += s;
        if (st) st->no_show += s;
        break;
      case Contrib::Cancelled:
        a.cancelled += s;
        break;
      case Contrib::Rated: {
        const int64_t score = c.value;
        a.ratings += s;
        a.rating_sum += s * score;
        if (score == 5) a.very_satisfied += s;
        if (score <= 2) a.dissatisfied += s;
        if (st) {
          st->ratings += s;
          st->rating_sum += s * score;
          if (score <= 2) st->dissatisfied += s;
        }
        break;
      }
      case Contrib::CallAnswered:
        a.calls_answered += s;
        a.hold.add(c, sign);
        if (c.flags & Contribution::InServiceLevel) a.answered_in_sl += s;
        break;
      case Contrib::CallAbandoned:
        if (c.flags & Contribution::LongAbandon)
          a.calls_abandoned += s;
        else
          a.calls_short_abandoned += s;
        break;
      case Contrib::CallTimeout:
        a.calls_timeout += s;
        break;
      case Contrib::CallCompleted:
        a.calls_completed += s;
        a.talk.add(c, sign);
        break;
      case Contrib::CallRated:
        a.call_ratings += s;
        a.call_rating_sum += s * c.value;
        break;
      case Contrib::OpinionSubmitted:
        a.opinions_submitted += s;
        break;
      case Contrib::OpinionResolved:
        a.opinions_resolved += s;
        break;
      case Contrib::AlertFired:
        a.alerts_fired += s;
        break;
    }
  }
};

// Contributions sorted by pane: appends at the back (the usual case), removals at the
// front, rare inserts near the back for reordered events. A vector with a moving head,
// compacted when the dead prefix outgrows the live part (amortised O(1)).
class ContributionLog {
 public:
  size_t size() const { return buf_.size() - head_; }
  bool empty() const { return size() == 0; }
  const Contribution& operator[](size_t i) const { return buf_[head_ + i]; }
  const Contribution& back() const { return buf_.back(); }
  void push_back(const Contribution& c) { buf_.push_back(c); }
  void pop_front(size_t n) {
    head_ += n;
    if (head_ == buf_.size()) {
      buf_.clear();
      head_ = 0;
    } else if (head_ >= 256 && head_ * 2 >= buf_.size()) {
      buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  // Index of the first entry with a pane greater than `pane`.
  size_t upper_bound(int64_t pane) const {
    auto it = std::upper_bound(buf_.begin() + static_cast<std::ptrdiff_t>(head_), buf_.end(), pane,
                               [](int64_t p, const Contribution& x) { return p < x.pane; });
    return static_cast<size_t>(it - buf_.begin()) - head_;
  }
  void insert(size_t i, const Contribution& c) {
    buf_.insert(buf_.begin() + static_cast<std::ptrdiff_t>(head_ + i), c);
  }
  size_t memory_bytes() const { return buf_.capacity() * sizeof(Contribution); }

 private:
  std::vector<Contribution> buf_;
  size_t head_ = 0;
};

// The sliding horizons and `today` of one hall, over one contribution log.
class HallWindows {
 public:
  // `sliding_panes`: panes covered by each sliding horizon (any order).
  HallWindows(const std::vector<int64_t>& sliding_seconds, const std::vector<int64_t>& panes) {
    for (size_t i = 0; i < panes.size(); ++i) {
      Horizon h;
      h.seconds = sliding_seconds[i];
      h.panes = panes[i];
      sliding_.push_back(std::move(h));
      longest_ = std::max(longest_, panes[i]);
    }
  }

  // Moves every horizon to the pane `now_pane`; `today_start` is the pane of local
  // midnight of now's day (a new value resets `today`).
  void slide(int64_t now_pane, int64_t today_start) {
    if (today_start != today_.start_pane) {
      today_.reset();
      today_.start_pane = today_start;
      changed_ = ~0u;
    }
    if (now_pane == now_pane_) return;
    now_pane_ = now_pane;
    size_t trim = log_.size();
    for (auto& h : sliding_) {
      h.start_pane = now_pane - h.panes + 1;
      while (h.pos < log_.size() && log_[h.pos].pane < h.start_pane) {
        changed_ |= 1u << static_cast<unsigned>(log_[h.pos].kind);
        h.apply(log_[h.pos++], -1);
      }
      trim = std::min(trim, h.pos);
    }
    if (sliding_.empty()) trim = log_.size();
    if (trim > 0) {
      log_.pop_front(trim);
      for (auto& h : sliding_) h.pos -= trim;
    }
  }

  // Records a contribution in pane `c.pane` (at most the current pane).
  void record(const Contribution& c) {
    changed_ |= 1u << static_cast<unsigned>(c.kind);
    if (!sliding_.empty() && c.pane > now_pane_ - longest_) {
      size_t idx;
      if (log_.empty() || log_.back().pane <= c.pane) {
        idx = log_.size();
        log_.push_back(c);
      } else {
        idx = log_.upper_bound(c.pane);
        log_.insert(idx, c);
      }
      for (auto& h : sliding_) {
        if (c.pane >= h.start_pane)
          h.apply(c, +1);
        else if (idx <= h.pos)
          ++h.pos;
      }
    }
    if (c.pane >= today_.start_pane) today_.apply(c, +1);
  }

  void add_staff() {
    for (auto& h : sliding_) h.staff.emplace_back();
    today_.staff.emplace_back();
  }

  size_t sliding_count() const { return sliding_.size(); }

  // Kinds of contribution (bits 1 << kind) recorded or expired since the last call;
  // all bits after `today` was reset.
  uint32_t take_changed() {
    const uint32_t c = changed_;
    changed_ = 0;
    return c;
  }

  // The pane from which sliding horizon i loses its oldest contribution, or INT64_MAX.
  int64_t next_expiry(size_t i) const {
    const Horizon& h = sliding_[i];
    return h.pos < log_.size() ? log_[h.pos].pane + h.panes : std::numeric_limits<int64_t>::max();
  }
  Horizon& sliding(size_t i) { return sliding_[i]; }
  Horizon& today() { return today_; }

  // Exact maximum wait (ms) of a horizon, or -1 when it holds none.
  double wait_max_ms(Horizon& h) {
    if (h.agg.wait_n == 0) return -1;
    if (h.wait_max_stale && &h != &today_) {
      double m = -1;
      for (size_t i = h.pos; i < log_.size(); ++i)
        if (log_[i].kind == Contrib::Wait) m = std::max(m, static_cast<double>(log_[i].value));
      h.wait_max_ms = m;
      h.wait_max_stale = false;
    }
    return h.wait_max_ms;
  }

  size_t memory_bytes() const {
    size_t n = log_.memory_bytes();
    for (const auto& h : sliding_)
      n += sizeof(Horizon) + h.wait.memory_bytes() + h.handle.memory_bytes() +
           h.staff.capacity() * sizeof(StaffAgg);
    n += sizeof(Horizon) + today_.wait.memory_bytes() + today_.handle.memory_bytes() +
         today_.staff.capacity() * sizeof(StaffAgg);
    return n;
  }

 private:
  std::vector<Horizon> sliding_;
  Horizon today_;
  ContributionLog log_;
  int64_t longest_ = 0;
  int64_t now_pane_ = std::numeric_limits<int64_t>::min();
  uint32_t changed_ = ~0u;
};

}  // namespace hallkpi
