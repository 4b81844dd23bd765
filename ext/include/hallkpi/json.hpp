// A small, strict JSON reader for event payloads: one object, or an array of objects.
// Known fields are decoded into a RawEvent without allocation (strings are views into
// the payload unless they hold escapes); other values are checked and skipped.
// Invalid JSON, invalid UTF-8 and lone surrogates make the whole payload unreadable.
#pragma once

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "hallkpi/event.hpp"

namespace hallkpi {

class JsonReader {
 public:
  // Parses `payload` into `events` (reusing its elements). An array element that is not
  // an object is recorded as a RawEvent whose id field has Kind::Other and that
  // `not_object` marks. Returns false with `error()` set when the payload is unreadable.
  bool read(std::string_view payload, std::vector<RawEvent>& events,
            std::vector<uint8_t>& not_object, size_t& count) {
    begin_ = p_ = payload.data();
    end_ = p_ + payload.size();
    count = 0;
    error_.clear();
    ws();
    if (p_ == end_) return fail("empty payload");
    if (*p_ == '[') {
      bool ok = elements([&] {
        RawEvent& ev = slot(events, not_object, count);
        if (*p_ == '{') return object(ev);
        not_object[count - 1] = 1;
        return skip(1);
      });
      if (!ok) return false;
    } else if (*p_ == '{') {
      RawEvent& ev = slot(events, not_object, count);
      if (!object(ev)) return false;
    } else {
      RawEvent& ev = slot(events, not_object, count);
      (void)ev;
      not_object[count - 1] = 1;
      if (!skip(0)) return false;
    }
    ws();
    if (p_ != end_) return fail("unexpected data after the JSON value");
    return true;
  }

  const std::string& error() const { return error_; }

  // The value of member `key` of the JSON object `object` (the last one when repeated,
  // as everywhere); a string with escapes is decoded into `buf`. False when absent or
  // unreadable. For the own fields of extension events (extension_record.hpp).
  bool member(std::string_view object, std::string_view key, Value* out, std::string* buf) {
    begin_ = p_ = object.data();
    end_ = p_ + object.size();
    bool found = false;
    if (p_ == end_ || *p_ != '{') return false;
    bool ok = members(
        [&](std::string_view k) {
          if (k != key) return skip(1);
          found = true;
          return value_into(*out, buf);
        },
        &key_buf_);
    return ok && found;
  }

 private:
  // Values nest at most this deep (the payload array and the event object count), so a
  // hostile payload of a million brackets is one rejection, never a deep recursion.
  static constexpr int kMaxDepth = 64;

  static RawEvent& slot(std::vector<RawEvent>& events, std::vector<uint8_t>& not_object,
                        size_t& count) {
    if (events.size() <= count) events.emplace_back();
    if (not_object.size() <= count) not_object.push_back(0);
    not_object[count] = 0;
    RawEvent& ev = events[count++];
    ev.clear();
    return ev;
  }

  bool fail(const char* what) {
    error_ = "invalid JSON at byte " + std::to_string(p_ - begin_) + ": " + what;
    return false;
  }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  bool object(RawEvent& ev) {
    const char* start = p_;
    bool ok = members(
        [&](std::string_view key) {
          Field f = field_of(key);
          return f == F_COUNT ? skip(1) : value(ev, f);
        },
        &key_buf_);
    ev.object = std::string_view(start, static_cast<size_t>(p_ - start));
    return ok;
  }

  // Walks the object at p_ ('{'): for each member, on(key) is called with p_ at the
  // value, which it must consume.
  template <class OnMember>
  bool members(OnMember&& on, std::string* key_buf) {
    ++p_;  // '{'
    ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return true;
    }
    while (true) {
      ws();
      if (p_ == end_ || *p_ != '"') return fail("expected a string key");
      std::string_view key;
      if (!string(&key, key_buf)) return false;
      ws();
      if (p_ == end_ || *p_ != ':') return fail("expected ':'");
      ++p_;
      ws();
      if (p_ == end_) return fail("unexpected end");
      if (!on(key)) return false;
      ws();
      if (p_ == end_) return fail("unterminated object");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  // Walks the array at p_ ('['): on() is called with p_ at each element to consume it.
  template <class OnElement>
  bool elements(OnElement&& on) {
    ++p_;  // '['
    ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return true;
    }
    while (true) {
      ws();
      if (p_ == end_) return fail("unterminated array");
      if (!on()) return false;
      ws();
      if (p_ == end_) return fail("unterminated array");
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  bool value(RawEvent& ev, Field f) { return value_into(ev.f[f], &ev.buf[f]); }

  bool value_into(Value& v, std::string* buf) {
    char c = *p_;
    if (c == '"') {
      v.kind = Kind::String;
      return string(&v.s, buf);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(v);
    if (c == '{' || c == '[') {
      v.kind = Kind::Other;
      return skip(1);
    }
    if (literal("true")) {
      v.kind = Kind::Bool;
      v.i = 1;
      return true;
    }
    if (literal("false")) {
      v.kind = Kind::Bool;
      v.i = 0;
      return true;
    }
    if (literal("null")) {
      v.kind = Kind::Null;
      return true;
    }
    return fail("unexpected character");
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
      p_ += n;
      return true;
    }
    return false;
  }

  bool number(Value& v) {
    const char* start = p_;
    bool neg = false;
    if (*p_ == '-') {
      neg = true;
      ++p_;
    }
    if (p_ == end_) return fail("bad number");
    const char* digits = p_;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    } else {
      return fail("bad number");
    }
    const char* int_end = p_;
    bool is_float = false;
    if (p_ < end_ && *p_ == '.') {
      is_float = true;
      ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return fail("bad number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      is_float = true;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return fail("bad number");
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (!is_float) {
      // Accumulate as a negative number so INT64_MIN fits; detect overflow.
      int64_t acc = 0;
      bool big = false;
      if (int_end - digits <= 18) {  // cannot overflow
        for (const char* q = digits; q < int_end; ++q) acc = acc * 10 + (*q - '0');
        v.kind = Kind::Int;
        v.i = neg ? -acc : acc;
        return true;
      }
      for (const char* q = digits; q < int_end; ++q) {
        int d = *q - '0';
        if (acc < (INT64_MIN + d) / 10) {
          big = true;
          break;
        }
        acc = acc * 10 - d;
      }
      if (!big && !neg && acc == INT64_MIN) big = true;
      if (big) {
        v.kind = Kind::BigInt;  // out of int64: keep its value as a double too
        v.d = HUGE_VAL;
        double d = 0;
        if (std::from_chars(start, p_, d).ec == std::errc()) v.d = d;
      } else {
        v.kind = Kind::Int;
        v.i = neg ? acc : -acc;
      }
      return true;
    }
    double d = 0;
    auto res = std::from_chars(start, p_, d);
    if (res.ec == std::errc::result_out_of_range) {
      // Overflow reads as an infinite value (rejected by validation as not finite);
      // underflow as zero.
      bool huge = false;
      for (const char* q = start; q < p_; ++q)
        if (*q == 'e' || *q == 'E') huge = q[1] != '-';
      d = huge ? (neg ? -HUGE_VAL : HUGE_VAL) : 0.0;
    } else if (res.ec != std::errc()) {
      return fail("bad number");
    }
    v.kind = Kind::Float;
    v.d = d;
    return true;
  }

  // First byte at or after p that is '"', '\\', a control character or non-ASCII.
  static const char* plain_run(const char* p, const char* end) {
    constexpr uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (end - p >= 8) {
      uint64_t v;
      std::memcpy(&v, p, 8);
      uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
      uint64_t m = ((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v) | v;
      m &= highs;
      if (m) return p + (__builtin_ctzll(m) >> 3);
      p += 8;
    }
    while (p < end) {
      unsigned char c = static_cast<unsigned char>(*p);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++p;
    }
    return p;
  }

  static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(uint32_t* out) {
    if (end_ - p_ < 4) return fail("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex(p_[i]);
      if (h < 0) return fail("bad \\u escape");
      v = v * 16 + static_cast<uint32_t>(h);
    }
    p_ += 4;
    *out = v;
    return true;
  }

  static void put_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Length of the valid UTF-8 sequence at p (p < end, *p >= 0x80), or 0 when invalid.
  static size_t utf8_seq(const unsigned char* p, const unsigned char* end) {
    unsigned char c = p[0];
    size_t n;
    uint32_t min;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
      min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
      min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      return 0;
    }
    if (static_cast<size_t>(end - p) < n) return 0;
    for (size_t i = 1; i < n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return 0;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
  }

  // Reads a string at p_ ('"'). The result is a view into the payload, or into `buf`
  // when the string holds escapes.
  bool string(std::string_view* out, std::string* buf) {
    ++p_;
    const char* start = p_;
    bool escaped = false;
    while (true) {
      // Fast path over plain ASCII, eight bytes at a time.
      const char* run = p_;
      p_ = plain_run(p_, end_);
      if (escaped) buf->append(run, p_);
      if (p_ == end_) return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20) return fail("control character in string");
      if (c >= 0x80) {
        size_t n = utf8_seq(reinterpret_cast<const unsigned char*>(p_),
                            reinterpret_cast<const unsigned char*>(end_));
        if (n == 0) {
          error_ = "invalid UTF-8 at byte " + std::to_string(p_ - begin_);
          return false;
        }
        if (escaped) buf->append(p_, n);
        p_ += n;
        continue;
      }
      // Backslash: from here on the string is decoded into buf.
      if (!escaped) {
        escaped = true;
        buf->assign(start, p_);
      }
      ++p_;
      if (p_ == end_) return fail("unterminated string");
      char e = *p_++;
      switch (e) {
        case '"':
          *buf += '"';
          break;
        case '\\':
          *buf += '\\';
          break;
        case '/':
          *buf += '/';
          break;
        case 'b':
          *buf += '\b';
          break;
        case 'f':
          *buf += '\f';
          break;
        case 'n':
          *buf += '\n';
          break;
        case 'r':
          *buf += '\r';
          break;
        case 't':
          *buf += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone surrogate");
            p_ += 2;
            if (!hex4(&lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail("lone surrogate");
          }
          put_utf8(*buf, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
    *out = escaped ? std::string_view(*buf) : std::string_view(start, p_ - start);
    ++p_;  // closing quote
    return true;
  }

  // Checks and skips any value.
  bool skip(int depth) {
    if (depth >= kMaxDepth) return fail("nesting deeper than 64 levels");
    if (p_ == end_) return fail("unexpected end");
    char c = *p_;
    if (c == '"') {
      std::string_view s;
      return string(&s, &skip_buf_);
    }
    if (c == '{') return members([&](std::string_view) { return skip(depth + 1); }, &skip_buf_);
    if (c == '[') return elements([&] { return skip(depth + 1); });
    if (c == '-' || (c >= '0' && c <= '9')) {
      Value v;
      return number(v);
    }
    if (literal("true") || literal("false") || literal("null")) return true;
    return fail("unexpected character");
  }

  const char* begin_ = nullptr;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  std::string error_;
  std::string key_buf_;
  std::string skip_buf_;
};

}  // namespace hallkpi
