// C++ unit tests of contract v1.1 (producer, seq, epoch), the gap detector, the clock
// bounds and hostile JSON. Plain g++, no Python; `make cpp-test` runs them optimised
// and with ASan/UBSan, like test_engine.cpp.
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "hallkpi/hallkpi.hpp"

using namespace hallkpi;

static bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

static int g_id = 0;
// A ticket.cancelled (no other state) of `hall` with the sequence fields `seqf` (JSON).
static std::string sev(int64_t ts, const std::string& seqf, const std::string& hall = "h1") {
  return "{\"id\":\"e" + std::to_string(++g_id) +
         "\",\"type\":\"ticket.cancelled\",\"ts\":" + std::to_string(ts) + ",\"hall\":\"" + hall +
         "\",\"ticket\":\"t\"" + (seqf.empty() ? "" : "," + seqf) + "}";
}
static std::string seq_of(const std::string& producer, int64_t seq, int64_t epoch = -1) {
  return "\"producer\":\"" + producer + "\",\"seq\":" + std::to_string(seq) +
         (epoch < 0 ? "" : ",\"epoch\":" + std::to_string(epoch));
}

static Config quiet() {
  Config c;
  c.alert_rules.clear();
  return c;
}

static void test_validation() {
  g_test = "sequence_validation";
  Engine e(quiet());
  struct Case {
    std::string fields, reason;
  } cases[] = {
      {"\"seq\":1", "field 'seq' needs the field 'producer'"},
      {"\"producer\":\"p\"", "field 'producer' needs the field 'seq'"},
      {"\"epoch\":3", "field 'epoch' needs the fields 'producer' and 'seq'"},
      {"\"producer\":\"p\",\"seq\":-1", "field 'seq' out of range (0 <= seq < 2^63)"},
      {"\"producer\":\"p\",\"seq\":9223372036854775808", "field 'seq' out of range"},
      {"\"producer\":\"p\",\"seq\":1.0", "field 'seq' must be an integer, not a float"},
      {"\"producer\":\"p\",\"seq\":\"1\"", "must be an integer, not a string"},
      {"\"producer\":\"p\",\"seq\":true", "must be an integer, not a boolean"},
      {"\"producer\":\"p\",\"seq\":null", "must be an integer, not null"},
      {"\"producer\":\"p\",\"seq\":1,\"epoch\":-5", "field 'epoch' out of range"},
      {"\"producer\":\"p\",\"seq\":1,\"epoch\":\"x\"", "field 'epoch' must be an integer"},
      {"\"producer\":\"\",\"seq\":1", "field 'producer' must be 1..64 characters"},
      {"\"producer\":7,\"seq\":1", "field 'producer' must be a string"},
      {"\"producer\":\"" + std::string(65, 'p') + "\",\"seq\":1", "1..64"},
  };
  for (const auto& c : cases) {
    auto r = e.push_json(sev(T0, c.fields));
    bool has = r.rejected == 1 && contains(r.rejections[0].reason, c.reason);
    if (!has)
      std::printf("  reason for %s: %s\n", c.fields.c_str(),
                  r.rejections.empty() ? "(applied)" : r.rejections[0].reason.c_str());
    CHECK(has);
  }
  CHECK(e.diagnostics().rejected_events == static_cast<int64_t>(sizeof cases / sizeof cases[0]));
  // Valid: the largest seq, epoch 0 explicit or absent, 64 code points of producer.
  CHECK(e.push_json(sev(T0, seq_of("p", 9223372036854775807LL))).applied == 1);
  CHECK(e.push_json(sev(T0, seq_of("q", 0, 0))).applied == 1);
  CHECK(e.push_json(sev(T0, seq_of(std::string(64, 'x'), 5, 1764201600000))).applied == 1);
  // Without the fields nothing is tracked and the snapshot has no upstream figures.
  Engine plain(quiet());
  CHECK(plain.push_json(sev(T0, "")).applied == 1);
  CHECK(!plain.gaps().seen() && !contains(plain.snapshot_json(), "upstream"));
  CHECK(contains(e.snapshot_json(), "\"upstream_lost_events\":0"));
}

static void test_gaps_and_grace() {
  g_test = "gaps_and_grace";
  Engine e(quiet());
  for (int64_t s : {1, 2, 5}) e.push_json(sev(T0 + s, seq_of("kiosk-3", s)));
  const GapStats& g = e.gaps().stats();
  CHECK(g.lost == 0 && g.gaps == 0);  // within the grace: not yet lost
  e.advance(T0 + 5 + 4999);
  CHECK(g.lost == 0 && e.drain_alerts().empty());
  e.advance(T0 + 5 + 5000);
  CHECK(g.lost == 2 && g.gaps == 1);
  auto gaps = e.gaps().open_gaps();
  CHECK(gaps.size() == 1 && gaps[0].first_seq == 3 && gaps[0].last_seq == 4 && gaps[0].count == 2 &&
        gaps[0].since_ts == T0 + 5 && gaps[0].producer == "kiosk-3");
  auto changes = e.drain_gap_changes();
  CHECK(changes.size() == 1 && !changes[0].filled && changes[0].ts == T0 + 5005);
  auto alerts = e.drain_alerts();
  CHECK(alerts.size() == 1 && alerts[0].rule == kUpstreamRule &&
        alerts[0].state == AlertStateKind::Firing && alerts[0].value == 2);
  CHECK(alerts.size() == 1 && alerts[0].detail == "2 events lost upstream: kiosk-3 seq 3-4 (2)");
  CHECK(e.rule_name(kUpstreamRule) == "events_lost_upstream");
  CHECK(e.windowed(0, e.output_count() - 1, Kpi::AlertsFired) == 1);
  // A late arrival fills the reported hole: recovered, one record for a run of fills.
  e.push_json(sev(T0 + 3, seq_of("kiosk-3", 3)));
  CHECK(g.lost == 1 && g.recovered == 1 && g.gaps == 1);
  e.push_json(sev(T0 + 4, seq_of("kiosk-3", 4)));
  CHECK(g.lost == 0 && g.recovered == 2 && g.gaps == 0 && e.gaps().open_gaps().empty());
  changes = e.drain_gap_changes();
  CHECK(changes.size() == 1 && changes[0].filled && changes[0].first_seq == 3 &&
        changes[0].last_seq == 4 && changes[0].count == 2);
  // The alert clears 15 min after the last new loss, not when the loss was recovered.
  e.advance(T0 + 5005 + 899999);
  CHECK(e.drain_alerts().empty());
  e.advance(T0 + 5005 + 900000);
  alerts = e.drain_alerts();
  CHECK(alerts.size() == 1 && alerts[0].state == AlertStateKind::Ok &&
        alerts[0].detail == "no new loss upstream for 900 s; 0 events still missing");
}

static void test_reorder_duplicates_epochs() {
  g_test = "reorder_duplicates_epochs";
  Engine e(quiet());
  const GapStats& g = e.gaps().stats();
  // Reordered within the grace: never lost.
  for (int64_t s : {10, 12, 11, 14, 13}) e.push_json(sev(T0, seq_of("p", s)));
  e.advance(T0 + 60000);
  CHECK(g.lost == 0 && g.gaps == 0 && e.drain_alerts().empty());
  // A duplicate id never reaches the detector; the same seq under another id is a repeat.
  std::string dup = sev(T0 + 60000, seq_of("p", 15));
  e.push_json(dup);
  CHECK(e.push_json(dup).duplicates == 1 && g.repeats == 0);
  e.push_json(sev(T0 + 60000, seq_of("p", 15)));
  e.push_json(sev(T0 + 60000, seq_of("p", 11)));
  CHECK(g.repeats == 2);
  // Below the first seq seen: a hole between it and the old start.
  e.push_json(sev(T0 + 60000, seq_of("p", 7)));
  e.advance(T0 + 70000);
  CHECK(g.lost == 2 && g.gaps == 1);
  // A new epoch is a new sequence; the old epoch's hole stays reported.
  e.push_json(sev(T0 + 70000, seq_of("p", 1, 99)));
  e.push_json(sev(T0 + 70000, seq_of("p", 3, 99), "h2"));
  e.advance(T0 + 80000);
  CHECK(g.lost == 3 && g.gaps == 2 && e.gaps().streams() == 2);
  auto gaps = e.gaps().open_gaps();
  CHECK(gaps.size() == 2 && gaps[0].epoch == 0 && gaps[0].first_seq == 8 && gaps[0].last_seq == 9 &&
        gaps[1].epoch == 99 && gaps[1].first_seq == 2 && gaps[1].hall == 1);
  auto alerts = e.drain_alerts();
  CHECK(alerts.size() == 2 && alerts[1].hall == 1 &&
        alerts[1].detail == "1 event lost upstream: p epoch 99 seq 2 (1)");
  // Splitting a reported hole keeps both parts reported.
  e.push_json(sev(T0 + 80000, seq_of("q", 1)));
  e.push_json(sev(T0 + 80000, seq_of("q", 10)));
  e.advance(T0 + 90000);
  CHECK(g.lost == 11 && g.gaps == 3);
  e.push_json(sev(T0 + 90000, seq_of("q", 5)));
  CHECK(g.lost == 10 && g.gaps == 4 && g.recovered == 1);
  // The largest seq: no overflow anywhere.
  e.push_json(sev(T0 + 90000, seq_of("big", 0)));
  e.push_json(sev(T0 + 90000, seq_of("big", 9223372036854775807LL)));
  e.push_json(sev(T0 + 90000, seq_of("big", 9223372036854775807LL)));
  e.advance(T0 + 100000);
  CHECK(g.lost == std::numeric_limits<int64_t>::max());  // 10 + 2^63 - 2 saturates
  CHECK(g.repeats == 3);
}

static void test_bounds() {
  g_test = "gap_bounds";
  Config c = quiet();
  c.gaps.max_streams = 3;
  c.gaps.max_stream_holes = 8;
  c.gaps.max_holes = 12;
  c.gaps.grace_ms = 0;
  Engine e(c);
  const GapStats& g = e.gaps().stats();
  for (int i = 0; i < 5; ++i) e.push_json(sev(T0, seq_of("p" + std::to_string(i), 1)));
  CHECK(e.gaps().streams() == 3 && g.overflow == 2);
  // Every other seq: holes are bounded per stream and in total, the oldest forgotten.
  for (int64_t s = 3; s < 2000; s += 2) e.push_json(sev(T0, seq_of("p0", s)));
  CHECK(e.gaps().open_gaps().size() == 8 && g.gaps == 8 && g.lost == 8);
  CHECK(g.forgotten == 999 - 8);
  for (int64_t s = 3; s < 100; s += 2) e.push_json(sev(T0, seq_of("p1", s)));
  CHECK(e.gaps().open_gaps().size() == 12 && g.lost == 12);
  // Below the forgotten range: not tracked (neither a fill nor a new hole).
  e.push_json(sev(T0, seq_of("p0", 2)));
  CHECK(g.lost == 12 && g.recovered == 0);
  size_t mem = e.gaps().memory_bytes();
  for (int64_t s = 2000; s < 200000; ++s) e.push_json(sev(T0, seq_of("p0", s)));
  CHECK(e.gaps().memory_bytes() == mem && g.lost == 12);  // in order: no growth
}

static void test_clock_bounds() {
  g_test = "clock_bounds";
  Config c = quiet();
  c.clock.max_lead_ms = 300000;
  c.clock.max_age_ms = 86400000;
  Engine e(c);
  // Before any advance(): no reference, no check.
  CHECK(e.push_json(sev(T0 + 1000000000, "")).applied == 1);
  Engine f(c);
  f.advance(T0);
  auto r = f.push_json(sev(7258118400000, ""));  // 2200-01-01
  CHECK(r.rejected == 1 && f.now() == T0);
  CHECK(r.rejected == 1 &&
        r.rejections[0].reason ==
            "ts 2200-01-01T00:00:00Z is 5.49e9 s ahead of the clock 2025-11-27T01:00:00Z "
            "(limit 300 s)");
  CHECK(f.push_json(sev(T0 + 300000, "")).applied == 1);
  r = f.push_json(sev(T0 + 300001, ""));
  CHECK(r.rejected == 1 && contains(r.rejections[0].reason, "is 300.001 s ahead"));
  r = f.push_json(sev(T0 - 86400001, ""));
  CHECK(r.rejected == 1 && contains(r.rejections[0].reason, "is 86400.001 s older than the clock"));
  CHECK(f.push_json(sev(T0 - 86400000, "")).applied == 1);
  CHECK(f.diagnostics().rejected_events == 2 + 1);
  // The reference is the latest advance, not the engine clock an event moved.
  CHECK(f.now() == T0 + 300000);
  CHECK(f.push_json(sev(T0 + 500000, "")).rejected == 1);
  f.advance(T0 + 200000);
  CHECK(f.push_json(sev(T0 + 500000, "")).applied == 1);
  // A rejected event reaches neither the ids nor the gap detector.
  Engine g(c);
  g.advance(T0);
  std::string far =
      "{\"id\":\"x\",\"type\":\"ticket.cancelled\",\"ts\":" + std::to_string(T0 + 400000) +
      ",\"hall\":\"h1\",\"ticket\":\"t\",\"producer\":\"p\",\"seq\":1}";
  CHECK(g.push_json(far).rejected == 1 && !g.gaps().seen());
  g.advance(T0 + 400000);
  CHECK(g.push_json(far).applied == 1 && g.gaps().seen());
  CHECK(detail::iso_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(detail::iso_utc(253402300799999) == "9999-12-31T23:59:59.999Z");
  CHECK(detail::iso_utc(951782400000) == "2000-02-29T00:00:00Z");
}

static void test_hostile_json() {
  g_test = "hostile_json";
  Engine e(quiet());
  for (size_t n : {size_t(1000), size_t(100000)}) {
    for (char open : {'[', '{'}) {
      std::string deep(n, open);
      if (open == '{')
        for (size_t i = 1; i < n; ++i) deep[i] = i % 2 ? '"' : '{';  // not even valid keys
      std::string nested_arr(n, '[');
      std::string nested_obj;
      for (size_t i = 0; i < n; ++i) nested_obj += "{\"a\":";
      for (const std::string& p :
           {deep, nested_arr, nested_obj, "[" + nested_arr, "{\"x\":" + nested_arr,
            "{\"x\":" + nested_obj, "[{\"id\":\"a\",\"unknown\":" + nested_obj}) {
        auto r = e.push_json(p);
        CHECK(r.rejected == 1 && r.applied == 0);
      }
    }
  }
  // Exactly the limit: nesting of 64 levels in an unknown field is refused with its reason,
  // a few levels are fine.
  std::string inner;
  for (int i = 0; i < 70; ++i) inner += "[";
  for (int i = 0; i < 70; ++i) inner += "]";
  std::string too_deep = sev(T0, "\"extra\":" + inner);
  auto r = e.push_json(too_deep);
  CHECK(r.rejected == 1 && contains(r.rejections[0].reason, "nesting deeper than 64 levels"));
  CHECK(e.push_json(sev(T0, "\"extra\":[[[[{\"a\":[1,{}]}]]]]")).applied == 1);
  // A null element of an array is rejected alone; the other elements are applied.
  r = e.push_json("[" + sev(T0, "") + ",null," + sev(T0, "") + ",[]]");
  CHECK(r.applied == 2 && r.rejected == 2 && r.rejections[0].index == 1 &&
        r.rejections[1].index == 3 && contains(r.rejections[0].reason, "JSON object"));
}

// Mutated payloads (bytes flipped, cut, brackets and nulls inserted): every one gets an
// answer (applied, duplicate or rejected, counted) and nothing reads out of bounds (ASan).
static void test_fuzzed_payloads() {
  g_test = "fuzzed_payloads";
  Engine e(quiet());
  std::mt19937 rng(20261127);
  const std::string base = "[" + sev(T0, seq_of("kiosk-3", 7, 1764201600000)) + ",null," +
                           sev(T0 + 1, seq_of("kiosk-3", 9)) + "]";
  const char* inserts[] = {"[", "{", "]", "}", "null", "\\u", "\"", ",", ":", "-", "1e999", "\xff"};
  int64_t answered = 0, payloads = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string p = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !p.empty(); ++k) {
      size_t at = rng() % p.size();
      switch (rng() % 4) {
        case 0:
          p[at] = static_cast<char>(rng() % 256);
          break;
        case 1:
          p.resize(at);
          break;
        case 2:
          p.insert(at, inserts[rng() % (sizeof inserts / sizeof inserts[0])]);
          break;
        default:
          p.insert(at, std::string(rng() % 200, p[at]));
      }
    }
    auto r = e.push_json(p);
    ++payloads;
    answered += (r.applied + r.duplicates + r.rejected) > 0;
  }
  CHECK(answered == payloads);
  const Diagnostics& d = e.diagnostics();
  CHECK(d.rejected_events > 0 && d.events_applied > 0);
}

int main() {
  test_validation();
  test_gaps_and_grace();
  test_reorder_duplicates_epochs();
  test_bounds();
  test_clock_bounds();
  test_hostile_json();
  test_fuzzed_payloads();
  return finish();
}
