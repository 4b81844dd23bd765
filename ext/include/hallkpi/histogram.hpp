// Counts of durations in log buckets with a Fenwick tree, for percentiles over sliding
// horizons: add and remove in O(log B), the k-th smallest in O(log B). A bucket is 1 s
// wide below 100 s and 1.8 % wide above; its midpoint is within 0.5 s or 0.9 % of any
// value in it (KPIS.md allows 1 s or 1 %). Durations of 2^31 ms (24.8 days) or more are
// rare; they are kept exactly in a small sorted list instead of more buckets.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
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

// Counts per bucket in a Fenwick tree of unsigned 32-bit cells. Cells wrap modulo 2^32,
// so the difference of two trees (everything recorded minus what has left a horizon)
// is exact while the counts it stands for stay below 2^32.
class BucketCounts {
 public:
  BucketCounts() : tree_(DurationBuckets::get().count() + 1, 0) {}

  void add(uint16_t bucket, int32_t delta) {
    const int n = static_cast<int>(tree_.size()) - 1;
    const auto d = static_cast<uint32_t>(delta);
    total_ += delta;
    for (int i = bucket + 1; i <= n; i += i & -i) tree_[i] += d;
  }
  int64_t total() const { return total_; }
  void clear() {
    std::fill(tree_.begin(), tree_.end(), 0u);
    total_ = 0;
  }

  // 0-based bucket holding the k-th smallest count of `a - b` (b nullptr: of a),
  // 1 <= k <= a.total() - b.total().
  static int kth(const BucketCounts& a, const BucketCounts* b, int64_t k) {
    const int n = static_cast<int>(a.tree_.size()) - 1;
    int pos = 0;
    int step = 1;
    while (step * 2 <= n) step *= 2;
    int64_t rem = k;
    for (; step > 0; step /= 2) {
      if (pos + step > n) continue;
      uint32_t c = a.tree_[pos + step];
      if (b) c -= b->tree_[pos + step];
      if (static_cast<int64_t>(c) < rem) {
        pos += step;
        rem -= c;
      }
    }
    return pos;
  }

  size_t memory_bytes() const { return tree_.capacity() * sizeof(uint32_t); }

 private:
  std::vector<uint32_t> tree_;
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
