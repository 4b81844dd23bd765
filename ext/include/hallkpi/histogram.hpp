// Counts of durations in log buckets, for percentiles over sliding horizons: add and
// remove in O(1), the k-th smallest in O(sqrt B). A bucket is 1 s
// wide below 100 s and 1.8 % wide above; its midpoint is within 0.5 s or 0.9 % of any
// value in it (KPIS.md allows 1 s or 1 %). Durations of 2^31 ms (24.8 days) or more are
// rare; they are kept exactly in a small sorted list instead of more buckets.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace hallkpi {

class DurationBuckets {
 public:
  static constexpr int kLinear = 100;  // 1-second buckets for 0..100 s
  static constexpr int64_t kLinearEndMs = 100000;
  static constexpr double kRatio = 1.018;
  static constexpr int64_t kCapMs = int64_t{1} << 31;  // bucketed below, listed above

  static const DurationBuckets& get() {
    static const DurationBuckets b;
    return b;
  }

  int count() const { return static_cast<int>(lower_.size()); }

  int index(int64_t ms) const {
    if (ms < kLinearEndMs) return ms < 0 ? 0 : static_cast<int>(ms / 1000);
    int i = kLinear + static_cast<int>(std::log(static_cast<double>(ms) / kLinearEndMs) / log_r_);
    if (i >= count()) i = count() - 1;
    while (i > kLinear && lower_[i] > ms) --i;
    while (i + 1 < count() && lower_[i + 1] <= ms) ++i;
    return i;
  }

  // Representative value of bucket i, in seconds.
  double midpoint_s(int i) const {
    int64_t lo = lower_[i];
    int64_t hi = (i + 1 < count()) ? lower_[i + 1] : lo + lo / 50;
    return (static_cast<double>(lo) + static_cast<double>(hi - 1)) / 2000.0;
  }

 private:
  DurationBuckets() : log_r_(std::log(kRatio)) {
    for (int i = 0; i < kLinear; ++i) lower_.push_back(static_cast<int64_t>(i) * 1000);
    double lo = kLinearEndMs;
    while (lo < static_cast<double>(kCapMs)) {
      lower_.push_back(static_cast<int64_t>(std::ceil(lo)));
      lo *= kRatio;
    }
  }
  std::vector<int64_t> lower_;
  double log_r_;
};

// Counts per bucket, and per block of 32 buckets: an update writes two cells (a Fenwick
// tree wrote ~10, and every contribution updates one tree when recorded and one per
// horizon it leaves), the k-th smallest scans ~21 blocks and <= 32 buckets (only reads
// of a percentile, far rarer). Cells are unsigned 32-bit and wrap modulo 2^32, so the
// difference of two (everything recorded minus what has left a horizon) is exact while
// the counts it stands for stay below 2^32.
class BucketCounts {
 public:
  static constexpr int kBlock = 32;
  BucketCounts()
      : cells_(static_cast<size_t>(DurationBuckets::get().count()) +
                   static_cast<size_t>((DurationBuckets::get().count() + kBlock - 1) / kBlock),
               0u) {
    if (cells_.size() - static_cast<size_t>(blocks()) > 32)
      throw std::logic_error("BucketCounts: more blocks than bits in used_");
  }

  BucketCounts(const BucketCounts&) = default;
  // Copies only the blocks either side ever used: a horizon emptied overnight, or
  // `today` at midnight, takes a copy of the running total, and most durations fall
  // in a few blocks of the 21.
  BucketCounts& operator=(const BucketCounts& o) {
    if (this == &o) return *this;
    const size_t n = static_cast<size_t>(blocks());
    for (uint32_t m = used_ | o.used_; m; m &= m - 1) {
      const auto b = static_cast<size_t>(__builtin_ctz(m));
      const size_t from = b * kBlock, to = std::min(n, from + kBlock);
      std::copy(o.cells_.begin() + static_cast<std::ptrdiff_t>(from),
                o.cells_.begin() + static_cast<std::ptrdiff_t>(to),
                cells_.begin() + static_cast<std::ptrdiff_t>(from));
      cells_[n + b] = o.cells_[n + b];
    }
    used_ = o.used_;
    total_ = o.total_;
    return *this;
  }

  void add(uint16_t bucket, int32_t delta) {
    const auto d = static_cast<uint32_t>(delta);
    total_ += delta;
    used_ |= 1u << (bucket / kBlock);
    cells_[bucket] += d;
    cells_[blocks() + bucket / kBlock] += d;
  }
  int64_t total() const { return total_; }
  void clear() {
    std::fill(cells_.begin(), cells_.end(), 0u);
    used_ = 0;
    total_ = 0;
  }

  // 0-based bucket holding the k-th smallest count of `a - b` (b nullptr: of a),
  // 1 <= k <= a.total() - b.total().
  static int kth(const BucketCounts& a, const BucketCounts* b, int64_t k) {
    const int n = blocks();
    const uint32_t* ac = a.cells_.data();
    const uint32_t* bc = b ? b->cells_.data() : nullptr;
    auto at = [&](int i) { return static_cast<int64_t>(bc ? ac[i] - bc[i] : ac[i]); };
    int64_t rem = k;
    int blk = 0;
    const int nblocks = static_cast<int>(a.cells_.size()) - n;
    for (; blk + 1 < nblocks; ++blk) {
      const int64_t c = at(n + blk);
      if (c >= rem) break;
      rem -= c;
    }
    int i = blk * kBlock;
    for (; i + 1 < n; ++i) {
      const int64_t c = at(i);
      if (c >= rem) break;
      rem -= c;
    }
    return i;
  }

  size_t memory_bytes() const { return cells_.capacity() * sizeof(uint32_t); }

 private:
  static int blocks() { return DurationBuckets::get().count(); }  // first block cell
  std::vector<uint32_t> cells_;  // the buckets, then the block sums
  uint32_t used_ = 0;            // blocks ever added to (bit b: block b)
  int64_t total_ = 0;
};

// The value at nearest rank ceil(num/den * n) of n = bucketed + long_ms.size() values:
// the bucketed ones (a - b) first, then the sorted long ones.
inline double percentile_s(const BucketCounts& a, const BucketCounts* b,
                           const std::vector<int64_t>& long_ms, int64_t num, int64_t den) {
  const int64_t bucketed = a.total() - (b ? b->total() : 0);
  const int64_t n = bucketed + static_cast<int64_t>(long_ms.size());
  int64_t k = (num * n + den - 1) / den;
  if (k < 1) k = 1;
  if (k > bucketed)
    return static_cast<double>(long_ms[static_cast<size_t>(k - bucketed - 1)]) / 1000.0;
  return DurationBuckets::get().midpoint_s(BucketCounts::kth(a, b, k));
}

// A sorted list of the rare durations of kCapMs or more, kept apart from the buckets.
inline void add_long(std::vector<int64_t>& long_ms, int64_t ms, int32_t delta) {
  auto it = std::lower_bound(long_ms.begin(), long_ms.end(), ms);
  if (delta > 0)
    long_ms.insert(it, ms);
  else if (it != long_ms.end() && *it == ms)
    long_ms.erase(it);
}

class Histogram {
 public:
  void add(int64_t ms, int32_t delta) { add(ms, delta, bucket_of(ms)); }

  // The bucket of a duration, or kLongBucket for one listed apart: computed once per
  // contribution and reused by every horizon it enters and leaves.
  static constexpr uint16_t kLongBucket = 0xFFFF;
  static uint16_t bucket_of(int64_t ms) {
    return ms >= DurationBuckets::kCapMs ? kLongBucket
                                         : static_cast<uint16_t>(DurationBuckets::get().index(ms));
  }

  void add(int64_t ms, int32_t delta, uint16_t bucket) {
    if (bucket == kLongBucket)
      add_long(long_, ms, delta);
    else
      counts_.add(bucket, delta);
  }
  int64_t total() const { return counts_.total() + static_cast<int64_t>(long_.size()); }
  void clear() {
    counts_.clear();
    long_.clear();
  }

  // Nearest-rank percentile with rank ceil(num/den * n), exact integer arithmetic.
  double percentile_s(int64_t num, int64_t den) const {
    return hallkpi::percentile_s(counts_, nullptr, long_, num, den);
  }

  size_t memory_bytes() const {
    return counts_.memory_bytes() + long_.capacity() * sizeof(int64_t);
  }

 private:
  BucketCounts counts_;
  std::vector<int64_t> long_;  // durations >= kCapMs, sorted
};

}  // namespace hallkpi
