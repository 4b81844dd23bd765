// Upstream loss detection (contract v1.1): events may carry `producer`, `seq` and `epoch`.
// Per stream (producer, epoch) the seqs received are kept as a range [low, high] minus a
// sorted list of holes, so memory grows with the holes, not with the events, and an
// in-order seq only moves `high` (no lookup, no allocation). A hole is reported (counted
// as lost, shown in the alert) once it stayed open for the reorder grace of engine time;
// a late arrival into a reported hole is counted as recovered. See docs/SEMANTICS.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hallkpi/alerts.hpp"
#include "hallkpi/flat_map.hpp"

namespace hallkpi {

// Rule index of the built-in "events lost upstream" alert in AlertChange::rule.
constexpr uint32_t kUpstreamRule = std::numeric_limits<uint32_t>::max();
inline const std::string& upstream_rule_name() {
  static const std::string name = "events_lost_upstream";
  return name;
}

struct GapConfig {
  int64_t grace_ms = 5000;     // a hole is reported after staying open this long
  int64_t alert_ms = 900000;   // the alert clears after this long without new loss; 0: off
  size_t max_streams = 65536;  // tracked (producer, epoch) pairs
  size_t max_holes = 262144;   // open holes of all streams together
  size_t max_stream_holes = 4096;
};

struct SeqHole {
  int64_t lo, hi;    // the missing seqs lo..hi
  int64_t since_ts;  // ts of the event that revealed it
  uint32_t hall;     // hall of that event
  bool reported;
};

// A hole reported (filled = false) or seqs of a reported hole that arrived (filled).
struct GapChange {
  std::string producer;
  int64_t epoch, first_seq, last_seq, count, since_ts, ts;
  uint32_t hall;
  bool filled;
};

struct GapStats {
  int64_t lost = 0;       // seqs in reported holes
  int64_t gaps = 0;       // reported holes
  int64_t recovered = 0;  // late arrivals into reported holes
  int64_t repeats = 0;    // a seq received twice under different ids
  int64_t overflow = 0;   // sequenced events of streams beyond max_streams
  int64_t forgotten = 0;  // holes dropped to keep within max_holes / max_stream_holes
  int64_t changes_dropped = 0;
};

class GapDetector {
 public:
  explicit GapDetector(GapConfig cfg = {}) : cfg_(cfg) {}

  // Records an applied event of stream (producer, epoch); `now` is the engine clock
  // after the event.
  void on_event(std::string_view producer, int64_t epoch, int64_t seq, uint32_t hall, int64_t ts,
                int64_t now) {
    seen_ = true;
    mark(hall);
    SeqStream* s = stream(producer, epoch, seq, ts);
    if (!s) return;
    if (ts > s->last_ts) s->last_ts = ts;
    if (seq > s->high && seq - 1 == s->high) {  // the common case: next in order
      s->high = seq;
      return;
    }
    if (seq < s->floor) return;  // below what is still tracked
    if (seq > s->high) {
      const int64_t lo = s->high + 1;
      s->high = seq;
      open(*s, lo, seq - 1, ts, hall, now, true);
    } else if (seq < s->low) {
      const int64_t hi = s->low - 1;
      s->low = seq;
      if (seq < hi) open(*s, seq + 1, hi, ts, hall, now, false);
    } else {
      fill(*s, seq, now);
    }
  }

  // True when check() has something to do at `now`.
  bool due(int64_t now) const { return now >= next_due_; }

  // Reports the holes whose grace ended by `now` and runs the alert: emit(hall, state,
  // value, detail) for each change of a hall's "events lost upstream" state.
  template <class Emit>
  void check(int64_t now, Emit&& emit) {
    struct Found {
      uint32_t hall;
      int64_t count;
      std::string ranges;
      int shown;
    };
    std::vector<Found> found;
    auto note = [&](const SeqStream& s, const SeqHole& h) {
      if (cfg_.alert_ms <= 0) return;
      auto it = std::find_if(found.begin(), found.end(),
                             [&](const Found& f) { return f.hall == h.hall; });
      if (it == found.end()) it = found.insert(found.end(), Found{h.hall, 0, {}, 0});
      it->count = sat_add(it->count, h.hi - h.lo + 1);
      if (it->shown < kShownRanges) {
        if (it->shown) it->ranges += ", ";
        it->ranges += range_text(s.producer, s.epoch, h.lo, h.hi) + " (" +
                      std::to_string(h.hi - h.lo + 1) + ")";
      }
      ++it->shown;
    };
    while (!pending_.empty() && (pending_.front().due <= now || pending_.size() > cfg_.max_holes)) {
      Pending p = pending_.front();
      pending_.pop_front();
      if (p.stream >= streams_.size() || streams_[p.stream].gen != p.gen) continue;
      SeqStream& s = streams_[p.stream];
      auto it = std::lower_bound(s.holes.begin(), s.holes.end(), p.lo,
                                 [](const SeqHole& h, int64_t v) { return h.hi < v; });
      for (; it != s.holes.end() && it->lo <= p.hi; ++it) {
        if (it->reported) continue;
        it->reported = true;
        const int64_t n = it->hi - it->lo + 1;
        stats_.lost = sat_add(stats_.lost, n);
        ++stats_.gaps;
        hall_lost(it->hall) = sat_add(hall_lost(it->hall), n);
        change(s, it->lo, it->hi, n, it->since_ts, it->hall, now, false);
        note(s, *it);
      }
    }
    for (Found& f : found) {
      HallLoss& hl = halls_[f.hall];
      hl.last_report = now;
      if (hl.state == AlertStateKind::Firing) continue;
      hl.state = AlertStateKind::Firing;
      firing_.push_back(f.hall);
      if (f.shown > kShownRanges)
        f.ranges += ", and " + std::to_string(f.shown - kShownRanges) + " more ranges";
      emit(f.hall, AlertStateKind::Firing, static_cast<double>(f.count),
           events_text(f.count) + " lost upstream: " + f.ranges);
    }
    for (size_t i = 0; i < firing_.size();) {
      HallLoss& hl = halls_[firing_[i]];
      if (now >= sat_add(hl.last_report, cfg_.alert_ms)) {
        hl.state = AlertStateKind::Ok;
        const uint32_t hall = firing_[i];
        firing_.erase(firing_.begin() + static_cast<std::ptrdiff_t>(i));
        emit(hall, AlertStateKind::Ok, 0.0,
             "no new loss upstream for " + std::to_string(cfg_.alert_ms / 1000) + " s; " +
                 events_text(hl.lost) + " still missing");
      } else {
        ++i;
      }
    }
    plan();
  }

  // Drops streams without holes whose last event is older than `cutoff` (once a day).
  void forget_idle(int64_t cutoff) {
    for (uint32_t i = 0; i < streams_.size(); ++i) {
      SeqStream& s = streams_[i];
      if (!s.live || !s.holes.empty() || s.last_ts >= cutoff) continue;
      index_.erase(key_of(s.producer, s.epoch));
      s = SeqStream{};
      s.gen = ++gen_;
      free_.push_back(i);
      --live_;
    }
  }

  std::vector<GapChange> drain_changes() {
    std::vector<GapChange> out;
    out.swap(changes_);
    return out;
  }

  // Every reported hole as a change record (filled = false, ts = 0), by producer, epoch, seq.
  std::vector<GapChange> open_gaps() const {
    std::vector<GapChange> out;
    for (const SeqStream& s : streams_)
      if (s.live)
        for (const SeqHole& h : s.holes)
          if (h.reported)
            out.push_back(GapChange{s.producer, s.epoch, h.lo, h.hi, h.hi - h.lo + 1, h.since_ts, 0,
                                    h.hall, false});
    std::sort(out.begin(), out.end(), [](const GapChange& a, const GapChange& b) {
      if (a.producer != b.producer) return a.producer < b.producer;
      if (a.epoch != b.epoch) return a.epoch < b.epoch;
      return a.first_seq < b.first_seq;
    });
    return out;
  }

  const GapStats& stats() const { return stats_; }
  size_t streams() const { return live_; }
  bool seen() const { return seen_; }  // some sequenced event was applied
  bool tracked(uint32_t hall) const { return hall < halls_.size() && halls_[hall].tracked; }
  AlertStateKind alert_state(uint32_t hall) const {
    return hall < halls_.size() ? halls_[hall].state : AlertStateKind::Ok;
  }
  size_t memory_bytes() const {
    size_t n = index_.memory_bytes() + streams_.capacity() * sizeof(SeqStream) +
               pending_.size() * sizeof(Pending) + halls_.capacity() * sizeof(HallLoss);
    for (const SeqStream& s : streams_)
      n += s.holes.capacity() * sizeof(SeqHole) + s.producer.capacity();
    return n;
  }

  // "kiosk-3 seq 101-150", "kiosk-3 epoch 7 seq 9": how a range is named in alert details.
  static std::string range_text(const std::string& producer, int64_t epoch, int64_t lo,
                                int64_t hi) {
    std::string out = producer;
    if (epoch != 0) out += " epoch " + std::to_string(epoch);
    out += " seq " + std::to_string(lo);
    if (hi != lo) out += "-" + std::to_string(hi);
    return out;
  }

 private:
  static constexpr int kShownRanges = 5;

  struct SeqStream {
    std::string producer;
    int64_t epoch = 0;
    int64_t floor = 0;  // seqs below are no longer tracked (holes forgotten for the bounds)
    int64_t low = 0, high = -1;
    int64_t last_ts = 0;
    std::vector<SeqHole> holes;  // sorted by lo, disjoint
    uint32_t gen = 0;            // tells a reused slot from the stream a Pending names
    bool live = false;
  };
  struct Pending {
    uint32_t stream, gen;
    int64_t lo, hi, due;
  };
  struct HallLoss {
    bool tracked = false;
    AlertStateKind state = AlertStateKind::Ok;
    int64_t last_report = 0;
    int64_t lost = 0;  // seqs in reported holes revealed by this hall's events
  };

  static int64_t sat_add(int64_t a, int64_t b) {
    return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max()
                                                       : a + b;
  }
  static std::string events_text(int64_t n) {
    return std::to_string(n) + (n == 1 ? " event" : " events");
  }
  static uint64_t key_of(std::string_view producer, int64_t epoch) {
    return hash_bytes(producer, 0x243f6a8885a308d3ull ^
                                    mix64(static_cast<uint64_t>(epoch) + 1, 0x9e3779b97f4a7c15ull));
  }

  void mark(uint32_t hall) {
    if (hall >= halls_.size()) halls_.resize(hall + 1);
    halls_[hall].tracked = true;
  }
  int64_t& hall_lost(uint32_t hall) {
    mark(hall);
    return halls_[hall].lost;
  }

  // The stream of (producer, epoch), created at `seq` when new; nullptr when untracked.
  SeqStream* stream(std::string_view producer, int64_t epoch, int64_t seq, int64_t ts) {
    const uint64_t key = key_of(producer, epoch);
    if (uint32_t* slot = index_.find(key)) {
      SeqStream& s = streams_[*slot];
      if (s.epoch == epoch && s.producer == producer) return &s;
      ++stats_.overflow;  // two streams with one 64-bit hash: the later one is not tracked
      return nullptr;
    }
    if (live_ >= cfg_.max_streams) {
      ++stats_.overflow;
      return nullptr;
    }
    uint32_t i;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      i = static_cast<uint32_t>(streams_.size());
      streams_.emplace_back();
    }
    *index_.insert(key).first = i;
    SeqStream& s = streams_[i];
    s.producer.assign(producer.data(), producer.size());
    s.epoch = epoch;
    s.floor = 0;
    s.low = seq;
    s.high = seq - 1;  // empty: the caller takes `seq` as the next in order
    s.last_ts = ts;
    s.live = true;
    ++live_;
    return &s;
  }

  void open(SeqStream& s, int64_t lo, int64_t hi, int64_t ts, uint32_t hall, int64_t now,
            bool at_end) {
    SeqHole h{lo, hi, ts, hall, false};
    if (at_end)
      s.holes.push_back(h);
    else
      s.holes.insert(s.holes.begin(), h);
    ++holes_;
    const int64_t due = sat_add(now, cfg_.grace_ms);
    if (pending_.empty()) next_due_ = std::min(next_due_, due);
    if (pending_.size() >= cfg_.max_holes) next_due_ = now;  // too many waiting: report now
    pending_.push_back(Pending{static_cast<uint32_t>(&s - streams_.data()), s.gen, lo, hi, due});
    bound(s);
  }

  // Keeps within max_stream_holes and max_holes by forgetting the stream's lowest hole.
  void bound(SeqStream& s) {
    while (!s.holes.empty() &&
           (s.holes.size() > cfg_.max_stream_holes || holes_ > cfg_.max_holes)) {
      const SeqHole h = s.holes.front();
      s.holes.erase(s.holes.begin());
      --holes_;
      ++stats_.forgotten;
      if (h.reported) {
        const int64_t n = h.hi - h.lo + 1;
        stats_.lost -= n;
        --stats_.gaps;
        hall_lost(h.hall) -= n;
      }
      s.floor = h.hi + 1;
      s.low = std::max(s.low, s.floor);
    }
  }

  void fill(SeqStream& s, int64_t seq, int64_t now) {
    auto it = std::lower_bound(s.holes.begin(), s.holes.end(), seq,
                               [](const SeqHole& h, int64_t v) { return h.hi < v; });
    if (it == s.holes.end() || it->lo > seq) {
      ++stats_.repeats;  // received before under another id: a producer bug
      return;
    }
    if (it->reported) {
      --stats_.lost;
      ++stats_.recovered;
      --hall_lost(it->hall);
      change(s, seq, seq, 1, it->since_ts, it->hall, now, true);
    }
    if (it->lo == it->hi) {
      if (it->reported) --stats_.gaps;
      s.holes.erase(it);
      --holes_;
    } else if (seq == it->lo) {
      ++it->lo;
    } else if (seq == it->hi) {
      --it->hi;
    } else {
      SeqHole upper = *it;
      upper.lo = seq + 1;
      it->hi = seq - 1;
      if (it->reported) ++stats_.gaps;
      s.holes.insert(it + 1, upper);
      ++holes_;
      bound(s);
    }
  }

  void change(const SeqStream& s, int64_t lo, int64_t hi, int64_t n, int64_t since, uint32_t hall,
              int64_t now, bool filled) {
    if (filled && !changes_.empty()) {
      // A backlog arriving in order fills one seq after another: one record for the run.
      GapChange& last = changes_.back();
      if (last.filled && last.last_seq + 1 == lo && last.epoch == s.epoch &&
          last.since_ts == since && last.hall == hall && last.producer == s.producer) {
        last.last_seq = hi;
        last.count += n;
        last.ts = now;
        return;
      }
    }
    if (changes_.size() >= kMaxChanges) {
      ++stats_.changes_dropped;
      return;
    }
    changes_.push_back(GapChange{s.producer, s.epoch, lo, hi, n, since, now, hall, filled});
  }

  void plan() {
    next_due_ = std::numeric_limits<int64_t>::max();
    if (!pending_.empty()) next_due_ = pending_.front().due;
    for (uint32_t h : firing_)
      next_due_ = std::min(next_due_, sat_add(halls_[h].last_report, cfg_.alert_ms));
  }

  static constexpr size_t kMaxChanges = 1000000;

  GapConfig cfg_;
  HashMap64<uint32_t> index_{16};  // key_of(producer, epoch) -> slot in streams_
  std::vector<SeqStream> streams_;
  std::vector<uint32_t> free_;
  size_t live_ = 0, holes_ = 0;
  uint32_t gen_ = 0;
  std::deque<Pending> pending_;  // by due time: the engine clock never goes back
  int64_t next_due_ = std::numeric_limits<int64_t>::max();
  std::vector<HallLoss> halls_;
  std::vector<uint32_t> firing_;
  std::vector<GapChange> changes_;
  GapStats stats_;
  bool seen_ = false;
};

}  // namespace hallkpi
