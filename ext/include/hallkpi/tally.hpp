// What a hall counts: the Contribution an event makes to the windows, and Tally, the exact
// integer aggregates of a set of contributions (counts, sums in milliseconds, bucket
// counts of waits and handles, per staff).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
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
    add_huge(huge, c.huge_ms(), sign);
  }
  static void add_huge(std::vector<double>& huge, double d, int sign) {
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
  double mean_s(int64_t n) const { return mean_s(ms, huge, n); }
  static double mean_s(int64_t ms, const std::vector<double>& huge, int64_t n) {
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

// Integer aggregates of a set of contributions: every count and sum, the bucket counts
// of waits and handles, per staff. The rare durations of 2^31 ms or more (a Huge hold or
// talk, a wait or handle in Histogram::kLongBucket) are counted here but their values
// are kept exactly by each horizon (Horizon::hold_huge ...), not summed.
struct Tally {
  Agg agg;
  BucketCounts wait, handle;
  std::vector<StaffAgg> staff;

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
      case Contrib::Wait:
        a.wait_n += s;
        a.wait_sum_ms += s * c.value;
        if (c.bucket != Histogram::kLongBucket) wait.add(c.bucket, sign);
        break;
      case Contrib::Served:
        a.served += s;
        if (st) st->served += s;
        break;
      case Contrib::Handle:
        a.handle_n += s;
        a.handle_sum_ms += s * c.value;
        if (c.bucket != Histogram::kLongBucket) handle.add(c.bucket, sign);
        if (st) {
          st->handle_n += s;
          st->handle_sum_ms += s * c.value;
        }
        break;
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
        if (!(c.flags & Contribution::Huge)) a.hold.ms += s * c.value;
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
        if (!(c.flags & Contribution::Huge)) a.talk.ms += s * c.value;
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

  size_t memory_bytes() const {
    return wait.memory_bytes() + handle.memory_bytes() + staff.capacity() * sizeof(StaffAgg);
  }
};

}  // namespace hallkpi
