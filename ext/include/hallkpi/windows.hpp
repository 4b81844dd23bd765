// Windowed figures of one hall. Every countable thing an event contributes (an issue,
// a wait, a rating...) is a Contribution in a pane. The hall keeps one running total of
// everything recorded; each horizon keeps the total of what has left it (a sliding
// horizon: the contributions of the pane-sorted log it slid past; `today`: everything
// before local midnight), and reads the difference. So a contribution costs one add when
// recorded, independent of the number of horizons, and one per sliding horizon it
// leaves; a snapshot reads sums, counts and histograms without scanning.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "hallkpi/histogram.hpp"
#include "hallkpi/tally.hpp"

namespace hallkpi {

// One horizon, read as a difference: everything the hall recorded (HallWindows::cum_)
// minus `gone`, what has left the horizon (for `today`: what was recorded before local
// midnight). A contribution costs one Tally::apply when recorded, whatever the number
// of horizons, and one per sliding horizon when it leaves. A figure is one
// difference taken when read (Horizon::count), not kept per event.
struct Horizon {
  int64_t seconds = 0;  // 0 for today
  int64_t panes = 0;    // panes covered (sliding horizons)
  int64_t start_pane = std::numeric_limits<int64_t>::min();
  size_t pos = 0;   // first log entry inside (sliding horizons)
  size_t scan = 0;  // entries in [pos, scan) are of no kind next_expiry() watches
  Tally gone;
  // Values of the rare long contributions inside, kept exactly (see Tally).
  std::vector<double> hold_huge, talk_huge;
  std::vector<int64_t> wait_long, handle_long;  // sorted
  // Exact maximum wait: kept while only growing; a removal of the maximum marks it stale
  // and the next read rescans the horizon's part of the log.
  double wait_max_ms = -1;
  bool wait_max_stale = false;

  // The running total this horizon is read against; set by HallWindows::sliding(i)
  // and ::today(), which every read goes through.
  const Tally* all = nullptr;

  // A count or sum of the horizon (an Agg field): one difference, computed when read.
  int64_t count(int64_t Agg::* f) const { return all->agg.*f - gone.agg.*f; }
  double hold_mean_s(int64_t n) const {
    return MsSum::mean_s(all->agg.hold.ms - gone.agg.hold.ms, hold_huge, n);
  }
  double talk_mean_s(int64_t n) const {
    return MsSum::mean_s(all->agg.talk.ms - gone.agg.talk.ms, talk_huge, n);
  }

  double wait_percentile_s(int64_t num, int64_t den) const {
    return percentile_s(all->wait, &gone.wait, wait_long, num, den);
  }
  double handle_percentile_s(int64_t num, int64_t den) const {
    return percentile_s(all->handle, &gone.handle, handle_long, num, den);
  }
  StaffAgg staff(size_t s) const {
    const StaffAgg& a = all->staff[s];
    const StaffAgg& b = gone.staff[s];
    return StaffAgg{
        a.served - b.served,   a.handle_n - b.handle_n,     a.handle_sum_ms - b.handle_sum_ms,
        a.ratings - b.ratings, a.rating_sum - b.rating_sum, a.dissatisfied - b.dissatisfied,
        a.no_show - b.no_show};
  }

  // A contribution enters (+1) or leaves (-1) the horizon: the rare long values and the
  // maximum wait; the counts are in the difference.
  void track(const Contribution& c, int sign, int64_t waits_left) {
    switch (c.kind) {
      case Contrib::Wait: {
        if (c.bucket == Histogram::kLongBucket) add_long(wait_long, c.value, sign);
        const auto msd = static_cast<double>(c.value);
        if (sign > 0) {
          if (!wait_max_stale && msd > wait_max_ms) wait_max_ms = msd;
        } else if (msd >= wait_max_ms) {
          wait_max_stale = true;
        }
        if (waits_left == 0) {
          wait_max_ms = -1;
          wait_max_stale = false;
        }
        break;
      }
      case Contrib::Handle:
        if (c.bucket == Histogram::kLongBucket) add_long(handle_long, c.value, sign);
        break;
      case Contrib::CallAnswered:
      case Contrib::CallCompleted:
        if (c.flags & Contribution::Huge)
          MsSum::add_huge(c.kind == Contrib::CallAnswered ? hold_huge : talk_huge, c.huge_ms(),
                          sign);
        break;
      default:
        break;
    }
  }

  // Only a few kinds need track().
  static bool tracked(const Contribution& c) {
    return c.kind == Contrib::Wait ||
           (c.kind == Contrib::Handle && c.bucket == Histogram::kLongBucket) ||
           (c.flags & Contribution::Huge);
  }
};

// Contributions sorted by pane: appends at the back (the usual case), removals at the
// front, rare inserts near the back for reordered events. A ring of a power-of-two
// capacity sized for what the longest horizon holds: doubled when full, cut to twice
// the entries when an eighth full, so a quiet hour does not keep the busy hour's memory (a vector
// with a moving head kept up to twice the busiest hour's entries for the rest of the day).
class ContributionLog {
 public:
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const Contribution& operator[](size_t i) const { return buf_[(head_ + i) & mask()]; }
  const Contribution& back() const { return (*this)[size_ - 1]; }
  void push_back(const Contribution& c) {
    if (size_ == buf_.size()) resize(buf_.empty() ? kMin : buf_.size() * 2);
    buf_[(head_ + size_) & mask()] = c;
    ++size_;
  }
  void pop_front(size_t n) {
    head_ = (head_ + n) & mask();
    size_ -= n;
    if (buf_.size() > kMin && size_ * 8 <= buf_.size()) {
      size_t cap = kMin;  // straight to what fits twice over, one copy of few entries
      while (cap < size_ * 2) cap *= 2;
      resize(cap);
    }
  }
  // Index of the first entry with a pane greater than `pane`.
  size_t upper_bound(int64_t pane) const {
    size_t lo = 0, hi = size_;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if ((*this)[mid].pane <= pane)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  void insert(size_t i, const Contribution& c) {
    push_back(c);
    for (size_t j = size_ - 1; j > i; --j) at(j) = at(j - 1);
    at(i) = c;
  }
  size_t memory_bytes() const { return buf_.capacity() * sizeof(Contribution); }

 private:
  static constexpr size_t kMin = 64;
  size_t mask() const { return buf_.size() - 1; }
  Contribution& at(size_t i) { return buf_[(head_ + i) & mask()]; }
  void resize(size_t cap) {
    std::vector<Contribution> next(cap);
    for (size_t i = 0; i < size_; ++i) next[i] = (*this)[i];
    buf_.swap(next);
    head_ = 0;
  }

  std::vector<Contribution> buf_;
  size_t head_ = 0, size_ = 0;
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
  // midnight of now's day (a new value resets `today`: what was recorded so far is gone).
  void slide(int64_t now_pane, int64_t today_start) {
    if (today_start != today_.start_pane) {
      today_.gone = cum_;
      today_.hold_huge.clear();
      today_.talk_huge.clear();
      today_.wait_long.clear();
      today_.handle_long.clear();
      today_.wait_max_ms = -1;
      today_.wait_max_stale = false;
      today_.start_pane = today_start;
      changed_ = ~0u;
    }
    if (now_pane == now_pane_) return;
    now_pane_ = now_pane;
    size_t trim = log_.size();
    for (auto& h : sliding_) {
      h.start_pane = now_pane - h.panes + 1;
      if (log_.size() - h.pos > kBulk && log_.back().pane < h.start_pane) {
        empty(h);
        trim = std::min(trim, h.pos);
        continue;
      }
      while (h.pos < log_.size() && log_[h.pos].pane < h.start_pane) {
        const Contribution& c = log_[h.pos++];
        changed_ |= 1u << static_cast<unsigned>(c.kind);
        h.gone.apply(c, +1);
        if (Horizon::tracked(c)) h.track(c, -1, cum_.agg.wait_n - h.gone.agg.wait_n);
      }
      trim = std::min(trim, h.pos);
    }
    if (sliding_.empty()) trim = log_.size();
    if (trim > 0) {
      log_.pop_front(trim);
      for (auto& h : sliding_) {
        h.pos -= trim;
        h.scan = h.scan > trim ? h.scan - trim : 0;
      }
    }
  }

  // Records a contribution in pane `c.pane` (at most the current pane).
  void record(const Contribution& c) {
    changed_ |= 1u << static_cast<unsigned>(c.kind);
    cum_.apply(c, +1);
    const bool tracked = Horizon::tracked(c);
    if (!sliding_.empty()) {
      size_t idx = 0;
      const bool logged = c.pane > now_pane_ - longest_;
      if (logged) {
        if (log_.empty() || log_.back().pane <= c.pane) {
          idx = log_.size();
          log_.push_back(c);
        } else {
          idx = log_.upper_bound(c.pane);
          log_.insert(idx, c);
        }
      }
      for (auto& h : sliding_) {
        if (c.pane >= h.start_pane) {
          if (tracked) h.track(c, +1, -1);
        } else {
          h.gone.apply(c, +1);  // already past this horizon: recorded and gone at once
          if (logged && idx <= h.pos) ++h.pos;
        }
        // An entry inserted before the scan mark: look at it (inside), or step over it.
        if (logged && idx < h.scan) h.scan = c.pane >= h.start_pane ? idx : h.scan + 1;
      }
    }
    if (c.pane >= today_.start_pane) {
      if (tracked) today_.track(c, +1, -1);
    } else {
      today_.gone.apply(c, +1);
    }
  }

  // The horizon slid past every logged contribution (a hall quiet for longer than the
  // horizon, typically overnight): it holds nothing, so what is gone is everything
  // recorded. One copy of the running total instead of one apply per contribution,
  // so the first push of a day, which wakes every hall, stays short.
  void empty(Horizon& h) {
    h.pos = log_.size();
    changed_ = ~0u;  // as for a new day: every rule of the hall looks again (same inputs,
                     // same outcome for the rules whose kinds did not leave)
    h.gone = cum_;
    h.hold_huge.clear();
    h.talk_huge.clear();
    h.wait_long.clear();
    h.handle_long.clear();
    h.wait_max_ms = -1;
    h.wait_max_stale = false;
  }

  void add_staff() {
    cum_.staff.emplace_back();
    for (auto& h : sliding_) h.gone.staff.emplace_back();
    today_.gone.staff.emplace_back();
  }

  size_t sliding_count() const { return sliding_.size(); }

  // Kinds of contribution (bits 1 << kind) recorded or expired since the last call;
  // all bits after `today` was reset.
  uint32_t take_changed() {
    const uint32_t c = changed_;
    changed_ = 0;
    return c;
  }

  // The pane from which sliding horizon i loses its oldest contribution of a kind in
  // `kinds` (bits 1 << kind), or INT64_MAX. `kinds` must be the same at every call for
  // one i: the entries already passed over are remembered (`scan`), so the log is
  // walked once, not at every call.
  int64_t next_expiry(size_t i, uint32_t kinds) {
    Horizon& h = sliding_[i];
    if (h.scan < h.pos) h.scan = h.pos;
    while (h.scan < log_.size() && !(kinds & (1u << static_cast<unsigned>(log_[h.scan].kind))))
      ++h.scan;
    return h.scan < log_.size() ? log_[h.scan].pane + h.panes : std::numeric_limits<int64_t>::max();
  }
  // A horizon to read.
  Horizon& sliding(size_t i) {
    sliding_[i].all = &cum_;
    return sliding_[i];
  }
  Horizon& today() {
    today_.all = &cum_;
    return today_;
  }

  // Exact maximum wait (ms) of a horizon, or -1 when it holds none.
  double wait_max_ms(Horizon& h) {
    if (cum_.agg.wait_n == h.gone.agg.wait_n) return -1;
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
    size_t n = log_.memory_bytes() + cum_.memory_bytes();
    for (const auto& h : sliding_) n += sizeof(Horizon) + h.gone.memory_bytes();
    n += sizeof(Horizon) + today_.gone.memory_bytes();
    return n;
  }

 private:
  static constexpr size_t kBulk = 64;  // evictions above which empty() is cheaper
  Tally cum_;                          // every contribution recorded
  std::vector<Horizon> sliding_;
  Horizon today_;
  ContributionLog log_;
  int64_t longest_ = 0;
  int64_t now_pane_ = std::numeric_limits<int64_t>::min();
  uint32_t changed_ = ~0u;
};

}  // namespace hallkpi
