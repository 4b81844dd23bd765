// Bounds on event times against hostile or broken clocks: relative to the reference clock
// the embedder gives with Engine::advance (the wall clock of the service), an event more
// than max_lead_ms ahead or more than max_age_ms behind is rejected, so that it can
// never move the engine clock (and with it every hall's windows). 0 turns a bound off.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace hallkpi {

struct ClockBounds {
  int64_t max_lead_ms = 0;
  int64_t max_age_ms = 0;
};

namespace detail {

// "2026-11-27T01:00:00Z", with ".123" when the milliseconds are not zero.
inline std::string iso_utc(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  const int64_t milli = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  const int64_t rem = secs - days * 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                        static_cast<long long>(y), static_cast<long long>(m),
                        static_cast<long long>(d), static_cast<long long>(rem / 3600),
                        static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<size_t>(n));
  if (milli) {
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(milli));
    out += buf;
  }
  return out + "Z";
}

// Seconds for a reason: "300 s", "0.5 s", "5.46e9 s".
inline std::string seconds_text(double s) {
  char buf[48];
  if (s < 1e6) {
    std::snprintf(buf, sizeof buf, "%.3f", s);
    std::string t(buf);
    while (t.back() == '0') t.pop_back();
    if (t.back() == '.') t.pop_back();
    return t + " s";
  }
  std::snprintf(buf, sizeof buf, "%.3g", s);  // "5.46e+09"
  std::string t;
  for (const char* p = buf; *p; ++p) {
    if (*p == '+') continue;
    if (*p == '0' && p > buf && (p[-1] == 'e' || p[-1] == '+')) continue;
    t += *p;
  }
  return t + " s";
}

}  // namespace detail

// Empty when `ts` is within the bounds around `reference`, else the reason.
inline std::string clock_violation(int64_t ts, int64_t reference, const ClockBounds& b) {
  const __int128 delta = static_cast<__int128>(ts) - reference;
  auto reason = [&](const char* how, __int128 by, int64_t limit) {
    return "ts " + detail::iso_utc(ts) + " is " +
           detail::seconds_text(static_cast<double>(by) / 1000.0) + " " + how + " the clock " +
           detail::iso_utc(reference) + " (limit " +
           detail::seconds_text(static_cast<double>(limit) / 1000.0) + ")";
  };
  if (b.max_lead_ms > 0 && delta > b.max_lead_ms) return reason("ahead of", delta, b.max_lead_ms);
  if (b.max_age_ms > 0 && -delta > b.max_age_ms) return reason("older than", -delta, b.max_age_ms);
  return {};
}

}  // namespace hallkpi
