// The set of event ids seen (as nonzero 64-bit hashes), for duplicate detection.
//
// Two things make a plain hash table a poor fit on the event path: a power-of-two table
// of a million ids rehashes all of them in one push (5-6 ms), and forgetting old ids
// one by one is an O(n) pass. So:
//   * ids live in generations, one per local day of arrival; a generation is dropped
//     whole once every id in it is older than what must be remembered (no per-id time
//     stamp, no scan). Yesterday's generation goes once the longest horizon has passed
//     midnight, so two tables are probed only in the first hour of a day;
//   * each generation's table grows by 1.5x, not 2x (it stays 53-80 % full, 8 bytes a
//     slot), and incrementally: the old table stays readable while a few of its slots
//     move to the new one on every insert, so no insert moves more than kMovesPerInsert;
//   * large tables are mapped anonymously: the kernel hands out zero pages lazily, so a
//     large table costs no memset up front (calloc of reused heap memory memsets it);
//   * a table no longer needed (moved, or of a dropped day) is not freed in one push:
//     unmapping megabytes of touched pages took 0.2-0.4 ms. It is retired, and every
//     insert unmaps kReleaseBytes of it, the rest once little is left.
// Slots are found by multiply-shift (hash * capacity >> 64), which needs no power of two.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <limits>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace hallkpi {

class IdSet {
 public:
  // True when `key` was not in the set (it is now), false for a duplicate. A new key
  // goes to the generation tagged `generation` (a local day number), made when missing
  // with end_ms() as its end: every key of it belongs to an event before that instant.
  template <class EndMs>
  bool insert(uint64_t key, int64_t generation, EndMs end_ms) {
    if (!retired_.empty()) release_some();
    for (size_t i = gens_.size(); i-- > 0;)  // newest first: most duplicates are recent
      if (gens_[i]->contains(key)) return false;
    if (gens_.empty() || gens_.back()->tag != generation)
      gens_.push_back(std::make_unique<Generation>(generation, end_ms()));
    gens_.back()->insert(key, retired_);
    return true;
  }

  // Starts loading the slot where `key` would be found in the newest table, so that the
  // cache miss of insert() overlaps the caller's work in between (validation).
  void prefetch(uint64_t key) const {
    if (!gens_.empty()) gens_.back()->table.prefetch(key);
  }

  // Drops the generations whose end is at or before `before_ms` (oldest first).
  void drop_ended(int64_t before_ms) {
    size_t drop = 0;
    while (drop < gens_.size() && gens_[drop]->end_ms <= before_ms) ++drop;
    for (size_t i = 0; i < drop; ++i) {
      retired_.push_back(std::move(gens_[i]->table));
      retired_.push_back(std::move(gens_[i]->old));
    }
    if (drop) gens_.erase(gens_.begin(), gens_.begin() + static_cast<std::ptrdiff_t>(drop));
  }
  // The end of the oldest generation (INT64_MAX when none): when drop_ended has work.
  int64_t first_end() const {
    return gens_.empty() ? std::numeric_limits<int64_t>::max() : gens_.front()->end_ms;
  }
  size_t generations() const { return gens_.size(); }

  size_t size() const {
    size_t n = 0;
    for (const auto& g : gens_) n += g->size();
    return n;
  }
  size_t memory_bytes() const {
    size_t n = 0;
    for (const auto& g : gens_) n += sizeof(Generation) + g->memory_bytes();
    for (const auto& t : retired_) n += t.capacity() * sizeof(uint64_t);
    return n;
  }

 private:
  static constexpr size_t kMovesPerInsert = 32;
  static constexpr size_t kReleaseBytes = 64 * 1024;  // a multiple of the page size
  static constexpr size_t kMapBytes = 256 * 1024;     // tables this large are mmap'ed

  // Open addressing with linear probing over keys only (0 = empty); never erases.
  class Table {
   public:
    Table() = default;
    // Large tables are mapped directly: zero pages come lazily (calloc of reused heap
    // memory would memset megabytes in one push), and a dead one is unmapped in slices.
    explicit Table(size_t capacity) : cap_(capacity) {
      const size_t bytes = capacity * sizeof(uint64_t);
      if (bytes >= kMapBytes) {
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw std::bad_alloc();
        keys_ = static_cast<uint64_t*>(p);
      } else {
        keys_ = static_cast<uint64_t*>(std::calloc(capacity, sizeof(uint64_t)));
        if (!keys_) throw std::bad_alloc();
      }
    }
    Table(Table&& o) noexcept
        : keys_(o.keys_), cap_(o.cap_), size_(o.size_), released_(o.released_) {
      o.keys_ = nullptr;
      o.cap_ = o.size_ = o.released_ = 0;
    }
    Table& operator=(Table&& o) noexcept {
      std::swap(keys_, o.keys_);
      std::swap(cap_, o.cap_);
      std::swap(size_, o.size_);
      std::swap(released_, o.released_);
      return *this;
    }
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    ~Table() {
      if (!keys_) return;
      const size_t bytes = cap_ * sizeof(uint64_t);
      if (bytes >= kMapBytes) {
        if (released_ < bytes)
          munmap(reinterpret_cast<char*>(keys_) + released_, bytes - released_);
      } else {
        std::free(keys_);
      }
    }

    size_t capacity() const { return cap_; }
    size_t size() const { return size_; }
    uint64_t at(size_t i) const { return keys_[i]; }
    // Unmaps up to `bytes` more of a dead table, from its start; false when the rest
    // is small enough for the destructor (or the table was not mapped).
    bool release(size_t bytes) {
      const size_t total = cap_ * sizeof(uint64_t);
      if (!keys_ || total < kMapBytes || total - released_ <= bytes) return false;
      munmap(reinterpret_cast<char*>(keys_) + released_, bytes);
      released_ += bytes;
      return true;
    }
    void prefetch(uint64_t key) const {
      if (cap_) __builtin_prefetch(keys_ + home(key));
    }

    bool contains(uint64_t key) const {
      if (!cap_) return false;
      for (size_t i = home(key);; i = next(i)) {
        const uint64_t k = keys_[i];
        if (k == key) return true;
        if (k == 0) return false;
      }
    }
    // Adds a key known to be absent.
    void add(uint64_t key) {
      size_t i = home(key);
      while (keys_[i]) i = next(i);
      keys_[i] = key;
      ++size_;
    }

   private:
    size_t home(uint64_t key) const {
      return static_cast<size_t>((static_cast<__uint128_t>(key) * cap_) >> 64);
    }
    size_t next(size_t i) const { return i + 1 == cap_ ? 0 : i + 1; }

    uint64_t* keys_ = nullptr;
    size_t cap_ = 0, size_ = 0;
    size_t released_ = 0;  // bytes from keys_ handed back (release)
  };

  struct Generation {
    Generation(int64_t t, int64_t end) : tag(t), end_ms(end), table(64) {}
    int64_t tag, end_ms;
    Table table;  // receives new keys
    Table old;    // being moved into `table` (empty when not growing)
    size_t moved = 0;

    size_t size() const { return table.size() + old.size() - moved_keys; }
    size_t memory_bytes() const { return (table.capacity() + old.capacity()) * sizeof(uint64_t); }
    bool contains(uint64_t key) const { return table.contains(key) || old.contains(key); }

    void insert(uint64_t key, std::deque<Table>& retired) {
      if (old.capacity()) step(retired);
      // Grow at 80 %: a new table 1.5x the size of what it must hold when the move ends.
      if (!old.capacity() && (table.size() + 1) * 5 > table.capacity() * 4) {
        old = std::move(table);
        table = Table(old.capacity() * 3 / 2 + 64);
        moved = moved_keys = 0;
        step(retired);
      }
      table.add(key);
    }

    // Moves up to kMovesPerInsert slots of `old`; frees it when all have moved. The
    // new table is 1.5x old: the move ends long before the new table is 80 % full.
    void step(std::deque<Table>& retired) {
      const size_t end = std::min(old.capacity(), moved + kMovesPerInsert);
      for (; moved < end; ++moved) {
        const uint64_t k = old.at(moved);
        if (k) {
          table.add(k);
          ++moved_keys;
        }
      }
      if (moved == old.capacity()) {
        retired.push_back(std::move(old));
        old = Table();
        moved = moved_keys = 0;
      }
    }
    size_t moved_keys = 0;  // keys of `old` already in `table`
  };

  // Hands back part of the oldest retired table; frees it once nothing is left.
  void release_some() {
    if (!retired_.front().release(kReleaseBytes)) retired_.pop_front();
  }

  std::vector<std::unique_ptr<Generation>> gens_;
  std::deque<Table> retired_;  // dead tables being handed back (release_some)
};

}  // namespace hallkpi
