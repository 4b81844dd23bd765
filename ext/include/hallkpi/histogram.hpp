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

class Histogram {
 public:
  Histogram() : tree_(DurationBuckets::get().count() + 1, 0) {}

  void add(int64_t ms, int32_t delta) { add(ms, delta, bucket_of(ms)); }

  // The bucket of a duration, or kLongBucket for one listed apart: computed once per
  // contribution and reused by every horizon it enters and leaves.
  static constexpr uint16_t kLongBucket = 0xFFFF;
  static uint16_t bucket_of(int64_t ms) {
    return ms >= DurationBuckets::kCapMs ? kLongBucket
                                         : static_cast<uint16_t>(DurationBuckets::get().index(ms));
  }

  void add(int64_t ms, int32_t delta, uint16_t bucket) {
    total_ += delta;
    if (bucket == kLongBucket) {
      auto it = std::lower_bound(long_.begin(), long_.end(), ms);
      if (delta > 0)
        long_.insert(it, ms);
      else if (it != long_.end() && *it == ms)
        long_.erase(it);
      return;
    }
    int n = static_cast<int>(tree_.size()) - 1;
    bucketed_ += delta;
    for (int i = bucket + 1; i <= n; i += i & -i) tree_[i] += delta;
  }
  int64_t total() const { return total_; }
  void clear() {
    std::fill(tree_.begin(), tree_.end(), 0);
    long_.clear();
    total_ = bucketed_ = 0;
  }

  // Midpoint (seconds) of the bucket holding the k-th smallest value, 1 <= k <= total.
  double kth_s(int64_t k) const {
    if (k > bucketed_)
      return static_cast<double>(long_[static_cast<size_t>(k - bucketed_ - 1)]) / 1000.0;
    int n = static_cast<int>(tree_.size()) - 1;
    int pos = 0;
    int step = 1;
    while (step * 2 <= n) step *= 2;
    int64_t rem = k;
    for (; step > 0; step /= 2) {
      if (pos + step <= n && tree_[pos + step] < rem) {
        pos += step;
        rem -= tree_[pos];
      }
    }
    return DurationBuckets::get().midpoint_s(pos);  // bucket index pos (0-based)
  }

  // Nearest-rank percentile with rank ceil(num/den * n), exact integer arithmetic.
  double percentile_s(int64_t num, int64_t den) const {
    int64_t k = (num * total_ + den - 1) / den;
    if (k < 1) k = 1;
    return kth_s(k);
  }

  size_t memory_bytes() const {
    return tree_.capacity() * sizeof(int32_t) + long_.capacity() * sizeof(int64_t);
  }

 private:
  std::vector<int32_t> tree_;
  std::vector<int64_t> long_;  // durations >= kCapMs, sorted
  int64_t total_ = 0, bucketed_ = 0;
};

}  // namespace hallkpi
