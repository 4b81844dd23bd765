// Local days in a time zone given as UTC offset segments (from Python's zoneinfo, or a
// fixed offset for C++ embedders). Finds local midnights for the `today` horizon and
// the local day of a ticket for ticket-number reuse.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace hallkpi {

constexpr int64_t kDayMs = 86400000;

inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

class TimeZone {
 public:
  // A zone with one UTC offset (milliseconds east of UTC) at all times.
  static TimeZone fixed(int64_t offset_ms) { return TimeZone({{INT64_MIN, offset_ms}}); }

  // `segments`: (utc_ms where the offset starts, offset_ms), sorted by start. The first
  // offset also applies before the first start.
  explicit TimeZone(std::vector<std::pair<int64_t, int64_t>> segments) {
    if (segments.empty()) segments.push_back({INT64_MIN, 0});
    std::sort(segments.begin(), segments.end());
    segments.front().first = INT64_MIN;
    for (auto& [start, off] : segments) {
      starts_.push_back(start);
      offsets_.push_back(off);
    }
  }

  // The segments as given (the first one starting at INT64_MIN).
  std::vector<std::pair<int64_t, int64_t>> segments() const {
    std::vector<std::pair<int64_t, int64_t>> out;
    for (size_t i = 0; i < starts_.size(); ++i) out.emplace_back(starts_[i], offsets_[i]);
    return out;
  }

  int64_t offset_at(int64_t utc_ms) const {
    size_t i = cache_;
    if (i < starts_.size() && starts_[i] <= utc_ms &&
        (i + 1 == starts_.size() || utc_ms < starts_[i + 1]))
      return offsets_[i];
    auto it = std::upper_bound(starts_.begin(), starts_.end(), utc_ms);
    i = static_cast<size_t>(it - starts_.begin()) - 1;
    cache_ = i;
    return offsets_[i];
  }

  // The local calendar day (days since 1970-01-01 local) of an instant.
  int64_t local_day(int64_t utc_ms) const { return floor_div(utc_ms + offset_at(utc_ms), kDayMs); }

  // The first instant (UTC ms) of the local day that contains utc_ms.
  int64_t midnight_of(int64_t utc_ms) const {
    int64_t day = local_day(utc_ms);
    int64_t m = day * kDayMs - offset_at(utc_ms);
    for (int i = 0; i < 3; ++i) m = day * kDayMs - offset_at(m);
    // Where midnight does not exist (a DST gap at 00:00), or a fall-back moved it, search.
    if (local_day(m) != day || (m > INT64_MIN + 1 && local_day(m - 1) == day)) {
      int64_t lo = utc_ms - 2 * kDayMs, hi = utc_ms;  // local_day(lo) < day <= local_day(hi)
      while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (local_day(mid) >= day)
          hi = mid;
        else
          lo = mid;
      }
      m = hi;
    }
    return m;
  }

 private:
  std::vector<int64_t> starts_;
  std::vector<int64_t> offsets_;
  mutable size_t cache_ = 0;
};

}  // namespace hallkpi
