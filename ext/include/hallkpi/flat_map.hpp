// Open-addressing hash tables keyed by 64-bit hashes, and the string hash they use.
// No Python, no allocation on lookups; growth doubles the table (amortised O(1)).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hallkpi {

inline uint64_t mix64(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// A fast 64-bit hash of a byte string (wyhash-style multiply-mix). Never returns 0,
// which the tables below reserve for "empty".
inline uint64_t hash_bytes(std::string_view s, uint64_t seed = 0x243f6a8885a308d3ull) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull,
                     k2 = 0x8ebc6af09c88c6e3ull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = mix64(seed ^ k0, k1 ^ n);
  while (n >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = mix64(a ^ k1 ^ h, b ^ k2);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n > 0) {
    unsigned char buf[8] = {0};
    std::memcpy(buf, p, n);
    std::memcpy(&a, buf, 8);
  }
  h = mix64(a ^ k1 ^ h, b ^ k2 ^ n);
  h = mix64(h, k0);
  return h == 0 ? 1 : h;
}

// Map from a nonzero 64-bit key to V, linear probing, backward-shift deletion.
template <class V>
class HashMap64 {
 public:
  explicit HashMap64(size_t capacity = 16) { reset(capacity); }

  size_t size() const { return size_; }
  size_t capacity() const { return keys_.size(); }
  size_t memory_bytes() const { return keys_.capacity() * (sizeof(uint64_t) + sizeof(V)); }

  V* find(uint64_t key) {
    size_t i = key & mask_;
    while (true) {
      uint64_t k = keys_[i];
      if (k == key) return &vals_[i];
      if (k == 0) return nullptr;
      i = (i + 1) & mask_;
    }
  }
  const V* find(uint64_t key) const { return const_cast<HashMap64*>(this)->find(key); }
  // Starts loading the slot of `key` (its key and value), to overlap a later lookup.
  void prefetch(uint64_t key) const {
    const size_t i = key & mask_;
    __builtin_prefetch(keys_.data() + i);
    __builtin_prefetch(vals_.data() + i);
  }

  // Returns the slot for key and whether it was newly inserted (value-initialised).
  std::pair<V*, bool> insert(uint64_t key) {
    if ((size_ + 1) * 4 > keys_.size() * 3) grow();
    size_t i = key & mask_;
    while (true) {
      uint64_t k = keys_[i];
      if (k == key) return {&vals_[i], false};
      if (k == 0) {
        keys_[i] = key;
        vals_[i] = V{};
        ++size_;
        return {&vals_[i], true};
      }
      i = (i + 1) & mask_;
    }
  }

  bool erase(uint64_t key) {
    size_t i = key & mask_;
    while (keys_[i] != key) {
      if (keys_[i] == 0) return false;
      i = (i + 1) & mask_;
    }
    // Backward-shift: move later entries of the probe run into the hole.
    size_t j = i;
    while (true) {
      j = (j + 1) & mask_;
      if (keys_[j] == 0) break;
      size_t home = keys_[j] & mask_;
      bool between = (i <= j) ? (i < home && home <= j) : (i < home || home <= j);
      if (between) continue;
      keys_[i] = keys_[j];
      vals_[i] = std::move(vals_[j]);
      i = j;
    }
    keys_[i] = 0;
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& f) {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i]) f(keys_[i], vals_[i]);
  }
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i]) f(keys_[i], vals_[i]);
  }

  // Rebuilds the table without the entries for which drop(key, value) is true; O(n).
  template <class F>
  size_t erase_if(F&& drop) {
    std::vector<uint64_t> keys;
    std::vector<V> vals;
    keys.swap(keys_);
    vals.swap(vals_);
    size_t kept = 0;
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i] && !drop(keys[i], vals[i])) ++kept;
    size_t cap = 16;
    while (cap * 3 < (kept + 1) * 4 * 2) cap *= 2;
    reset(cap);
    size_t dropped = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (!keys[i]) continue;
      if (drop(keys[i], vals[i])) {
        ++dropped;
        continue;
      }
      *insert(keys[i]).first = std::move(vals[i]);
    }
    return dropped;
  }

  void clear() { reset(16); }

 private:
  void reset(size_t capacity) {
    size_t cap = 16;
    while (cap < capacity) cap *= 2;
    keys_.assign(cap, 0);
    vals_.assign(cap, V{});
    mask_ = cap - 1;
    size_ = 0;
  }
  void grow() {
    std::vector<uint64_t> keys;
    std::vector<V> vals;
    keys.swap(keys_);
    vals.swap(vals_);
    reset(keys.size() * 2);
    for (size_t i = 0; i < keys.size(); ++i)
      if (keys[i]) *insert(keys[i]).first = std::move(vals[i]);
  }

  std::vector<uint64_t> keys_;
  std::vector<V> vals_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

// Interns names (halls, staff, windows...) to dense indices, keeping the names.
class NameTable {
 public:
  // Index of name, adding it when new. `added` tells whether it was new.
  uint32_t intern(std::string_view name, bool* added = nullptr) {
    auto [slot, fresh] = index_.insert(hash_bytes(name));
    if (fresh) {
      *slot = static_cast<uint32_t>(names_.size());
      names_.emplace_back(name);
    } else if (names_[*slot] != name) {
      // Two names with one 64-bit hash: fall back to a linear search (never seen in practice).
      for (uint32_t i = 0; i < names_.size(); ++i)
        if (names_[i] == name) {
          if (added) *added = false;
          return i;
        }
      names_.emplace_back(name);
      if (added) *added = true;
      return static_cast<uint32_t>(names_.size() - 1);
    }
    if (added) *added = fresh;
    return *slot;
  }
  // Index of name, or -1 when unknown.
  int64_t find(std::string_view name) const {
    const uint32_t* slot = index_.find(hash_bytes(name));
    if (!slot) return -1;
    if (names_[*slot] == name) return *slot;
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return static_cast<int64_t>(i);
    return -1;
  }
  const std::string& name(uint32_t i) const { return names_[i]; }
  size_t size() const { return names_.size(); }

 private:
  HashMap64<uint32_t> index_{16};
  std::vector<std::string> names_;
};

}  // namespace hallkpi
