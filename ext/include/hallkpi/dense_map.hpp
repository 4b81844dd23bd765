// A map from a nonzero 64-bit key to V for the largest per-hall tables (tickets): the
// values live densely in fixed chunks, and a HashMap64 of 4-byte positions finds them.
// Against a HashMap64<V> at 37-75 % load this keeps no empty value slots (a ticket
// slot is 44 bytes, an index slot 12), and growth rehashes only the small index: the
// values never move, so a pointer stays valid until erase_if.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "hallkpi/flat_map.hpp"

namespace hallkpi {

template <class V>
class DenseMap {
 public:
  explicit DenseMap(size_t capacity = 16) : index_(capacity) {}

  size_t size() const { return size_; }
  size_t memory_bytes() const {
    return index_.memory_bytes() + chunks_.size() * kChunk * sizeof(Entry) +
           chunks_.capacity() * sizeof(void*);
  }

  V* find(uint64_t key) {
    const uint32_t* pos = index_.find(key);
    return pos ? &at(*pos).value : nullptr;
  }
  const V* find(uint64_t key) const { return const_cast<DenseMap*>(this)->find(key); }
  // Starts loading the index slot of `key`, to overlap a later lookup.
  void prefetch(uint64_t key) const { index_.prefetch(key); }

  // Returns the value for key and whether it was newly inserted (value-initialised).
  std::pair<V*, bool> insert(uint64_t key) {
    auto [pos, fresh] = index_.insert(key);
    if (!fresh) return {&at(*pos).value, false};
    if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Entry[]>(kChunk));
    *pos = static_cast<uint32_t>(size_);
    Entry& e = at(size_++);
    e.key = key;
    e.value = V{};
    return {&e.value, true};
  }

  template <class F>
  void for_each(F&& f) {
    for (size_t i = 0; i < size_; ++i) f(at(i).key, at(i).value);
  }
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < size_; ++i) f(at(i).key, at(i).value);
  }

  // Looks at up to `budget` entries from `*cursor`, erasing those for which
  // drop(key, value) is true (the last entry moves into the hole; pointers into the map
  // are invalidated). True once every entry was looked at; call again with the same
  // cursor until then. Spreads an O(n) clean-up over several pushes.
  template <class F>
  bool erase_step(size_t* cursor, size_t budget, F&& drop) {
    size_t i = *cursor;
    for (; budget > 0 && i < size_; --budget) {
      Entry& e = at(i);
      if (!drop(e.key, static_cast<const V&>(e.value))) {
        ++i;
        continue;
      }
      index_.erase(e.key);
      const size_t last = size_ - 1;
      if (i != last) {
        e = std::move(at(last));
        *index_.find(e.key) = static_cast<uint32_t>(i);
      }
      --size_;
    }
    *cursor = i;
    if (i < size_) return false;
    chunks_.resize((size_ + kChunk - 1) / kChunk);
    return true;
  }

  // Drops the entries for which drop(key, value) is true, compacting the rest; O(n).
  template <class F>
  size_t erase_if(F&& drop) {
    size_t kept = 0;
    for (size_t i = 0; i < size_; ++i) {
      Entry& e = at(i);
      if (drop(e.key, static_cast<const V&>(e.value))) continue;
      if (kept != i) at(kept) = std::move(e);
      ++kept;
    }
    const size_t dropped = size_ - kept;
    size_ = kept;
    chunks_.resize((size_ + kChunk - 1) / kChunk);
    index_ = HashMap64<uint32_t>(size_ * 2);
    for (size_t i = 0; i < size_; ++i) *index_.insert(at(i).key).first = static_cast<uint32_t>(i);
    return dropped;
  }

 private:
  static constexpr size_t kChunk = 256;
  struct Entry {
    uint64_t key = 0;
    V value{};
  };
  Entry& at(size_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const Entry& at(size_t i) const { return chunks_[i / kChunk][i % kChunk]; }

  HashMap64<uint32_t> index_;
  std::vector<std::unique_ptr<Entry[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace hallkpi
