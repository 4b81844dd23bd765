// The floor for ext/bench/latency.cpp: a hand-written loop computing one KPI, the mean
// and p90 of wait over 15 minutes on 1-second bins, per hall, from the same RawEvents
// the engine gets. It does only what that KPI needs: the hall by name, the issue time
// of each ticket by its number, a 15-minute log of waits and a bucket histogram for the
// p90 (the engine's own Histogram, so the percentile costs the same). No validation, no
// duplicate ids, no other figure, no alerts. Both figures are read after every call.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "hallkpi/hallkpi.hpp"

namespace bench {

class SingleKpiLoop {
 public:
  static constexpr int64_t kBinMs = 1000;
  static constexpr int64_t kBins = 900;  // 15 minutes

  // Applies one event; returns mean + p90 (seconds) of the event's hall, for the sink.
  double push(const hallkpi::RawEvent& raw) {
    const std::string_view type = raw.f[hallkpi::F_TYPE].s;
    const bool issued = type == "ticket.issued";
    if (!issued && type != "ticket.called") return 0;
    bool added = false;
    const uint32_t h = names_.intern(raw.f[hallkpi::F_HALL].s, &added);
    if (added) halls_.push_back(std::make_unique<Hall>());
    Hall& hall = *halls_[h];
    const int64_t ts = raw.f[hallkpi::F_TS].i;
    const uint64_t key = hallkpi::hash_bytes(raw.f[hallkpi::F_TICKET].s);
    if (issued) {
      *hall.issued.insert(key).first = ts;
      return 0;
    }
    const int64_t* at = hall.issued.find(key);
    const int64_t bin = ts / kBinMs;
    while (!hall.log.empty() && hall.log.front().first <= bin - kBins) {
      const int64_t ms = hall.log.front().second;
      hall.sum_ms -= ms;
      hall.hist.add(ms, -1);
      hall.log.pop_front();
    }
    if (at && *at <= ts) {
      const int64_t ms = ts - *at;
      hall.log.emplace_back(bin, ms);
      hall.sum_ms += ms;
      hall.hist.add(ms, +1);
    }
    const auto n = static_cast<int64_t>(hall.log.size());
    if (n == 0) return 0;
    return static_cast<double>(hall.sum_ms) / static_cast<double>(n) / 1000.0 +
           hall.hist.percentile_s(9, 10);
  }

 private:
  struct Hall {
    hallkpi::HashMap64<int64_t> issued{4096};
    std::deque<std::pair<int64_t, int64_t>> log;  // (bin, wait ms), oldest first
    int64_t sum_ms = 0;
    hallkpi::Histogram hist;
  };
  hallkpi::NameTable names_;
  std::vector<std::unique_ptr<Hall>> halls_;
};

}  // namespace bench
