// C++ unit tests of the header-only engine: plain g++, no Python, no network.
// `make cpp-test` runs them once optimised and once with ASan/UBSan.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "check.hpp"
#include "hallkpi/hallkpi.hpp"

using namespace hallkpi;

static std::string ev(const std::string& id, const std::string& type, int64_t ts,
                      const std::string& extra, const std::string& hall = "h1") {
  return "{\"id\":\"" + id + "\",\"type\":\"" + type + "\",\"ts\":" + std::to_string(ts) +
         ",\"hall\":\"" + hall + "\"" + (extra.empty() ? "" : "," + extra) + "}";
}
static std::string issued(const std::string& id, int64_t ts, const std::string& t,
                          const std::string& ch = "kiosk") {
  return ev(id, "ticket.issued", ts,
            "\"ticket\":\"" + t + "\",\"service\":\"invoice\",\"channel\":\"" + ch + "\"");
}
static std::string at(const std::string& id, const std::string& type, int64_t ts,
                      const std::string& t, const std::string& staff = "s1") {
  return ev(id, type, ts, "\"ticket\":\"" + t + "\",\"window\":\"w1\",\"staff\":\"" + staff + "\"");
}

static Config quiet() {
  Config c;
  c.alert_rules.clear();
  return c;
}

static size_t hall0(Engine&) { return 0; }

static void test_json_reader() {
  g_test = "json_reader";
  Engine e(quiet());
  // Escapes decode; unknown nested fields are skipped; repeated key keeps the last.
  auto r = e.push_json(
      R"({"id":"a\u00e9\ud83d\ude00","type":"ticket.issued","ts":1764205200000,"hall":"h1","x":{"y":[1,2,{"z":null}]},"ticket":"A\n1","service":"s","channel":"wechat","channel":"web"})");
  CHECK(r.applied == 1 && r.rejected == 0);
  // Invalid JSON, lone surrogate, invalid UTF-8, control characters: whole payload.
  const char* bad[] = {"{",
                       "{\"id\":}",
                       "[1,]",
                       "{\"id\":\"\\ud800\"}",
                       "{\"id\":\"\xff\"}",
                       "{\"id\":\"a\nb\"}",
                       "{\"a\":1} x",
                       "",
                       "{\"a\":01}",
                       "{\"a\":1.}"};
  for (const char* b : bad) {
    auto rb = e.push_json(b);
    CHECK(rb.rejected == 1 && rb.applied == 0);
  }
  // An array: each element on its own; a non-object element is rejected alone.
  auto ra = e.push_json("[" + issued("b", T0, "A2") + ",7," + issued("b", T0, "A2") + "]");
  CHECK(ra.applied == 1 && ra.duplicates == 1 && ra.rejected == 1);
  CHECK(ra.rejections.size() == 1 && ra.rejections[0].index == 1);
  // Deep nesting is refused, not a stack overflow.
  std::string deep(100000, '[');
  CHECK(e.push_json(deep).rejected == 1);
  // Big integers and exponents.
  auto r2 = e.push_json(
      R"({"id":"d","type":"ticket.issued","ts":99999999999999999999,"hall":"h1","ticket":"t","service":"s","channel":"web"})");
  CHECK(r2.rejected == 1 && r2.rejections[0].reason.find("out of range") != std::string::npos);
  auto r3 = e.push_json(
      R"({"id":"d","type":"ticket.issued","ts":1.764e12,"hall":"h1","ticket":"t","service":"s","channel":"web"})");
  CHECK(r3.rejected == 1 && r3.rejections[0].reason.find("integer") != std::string::npos);
}

static void test_validation() {
  g_test = "validation";
  Engine e(quiet());
  struct Case {
    std::string payload, reason;
  } cases[] = {
      {R"({"type":"ticket.issued","ts":1,"hall":"h"})", "missing field 'id'"},
      {R"({"id":"","type":"ticket.issued","ts":1,"hall":"h"})", "1..64"},
      {R"({"id":"x","type":"ticket.nope","ts":1,"hall":"h"})", "unknown type"},
      {R"({"id":"x","type":"ticket.cancelled","ts":true,"hall":"h","ticket":"t"})", "boolean"},
      {R"({"id":"x","type":"ticket.cancelled","ts":-1,"hall":"h","ticket":"t"})", "out of range"},
      {R"({"id":"x","type":"ticket.cancelled","ts":1,"hall":"h h","ticket":"t"})", "may only"},
      {R"({"id":"x","type":"ticket.cancelled","ts":1,"hall":"h"})", "missing field 'ticket'"},
      {R"({"id":"x","type":"ticket.issued","ts":1,"hall":"h","ticket":"t","service":"s","channel":"fax"})",
       "channel"},
      {R"({"id":"x","type":"ticket.rated","ts":1,"hall":"h","ticket":"t","window":"w","staff":"s","score":6})",
       "1..5"},
      {R"({"id":"x","type":"ticket.rated","ts":1,"hall":"h","ticket":"t","window":"w","staff":"s","score":5.0})",
       "integer"},
      {R"({"id":"x","type":"call.answered","ts":1,"hall":"h","call":"c","queue":"q","agent":"a","hold_s":-1})",
       ">= 0"},
      {R"({"id":"x","type":"call.answered","ts":1,"hall":"h","call":"c","queue":"q","agent":"a","hold_s":"3"})",
       "number"},
      {R"({"id":"x","type":"agent.state","ts":1,"hall":"h","agent":"a","queue":"q","state":"gone"})",
       "state"},
  };
  for (const auto& c : cases) {
    auto r = e.push_json(c.payload);
    CHECK(r.rejected == 1);
    bool has = r.rejected == 1 && r.rejections[0].reason.find(c.reason) != std::string::npos;
    if (!has)
      std::printf("  reason for %s: %s\n", c.payload.c_str(),
                  r.rejections.empty() ? "" : r.rejections[0].reason.c_str());
    CHECK(has);
  }
  // 64 code points of Chinese text are fine (192 bytes); 65 are not.
  std::string s64, s65;
  for (int i = 0; i < 64; ++i) s64 += "\xe7\xa8\x8e";
  s65 = s64 + "\xe7\xa8\x8e";
  CHECK(e.push_json(ev("u1", "ticket.cancelled", T0, "\"ticket\":\"" + s64 + "\"")).applied == 1);
  CHECK(e.push_json(ev("u2", "ticket.cancelled", T0, "\"ticket\":\"" + s65 + "\"")).rejected == 1);
  // Extra fields of any type are ignored; a rejected id is not remembered.
  CHECK(e.push_json(ev("v", "ticket.cancelled", T0, "\"ticket\":\"t\",\"score\":\"x\"")).applied ==
        1);
  CHECK(e.push_json(ev("w", "ticket.cancelled", T0, "\"ticket\":7")).rejected == 1);
  CHECK(e.push_json(ev("w", "ticket.cancelled", T0, "\"ticket\":\"t\"")).applied == 1);
  // The size limit.
  Config small = quiet();
  small.max_payload_bytes = 100;
  Engine e2(small);
  auto big = e2.push_json(issued("z", T0, std::string(50, 'A')) + std::string(60, ' '));
  CHECK(big.rejected == 1 && big.rejections[0].reason.find("limit") != std::string::npos);
  CHECK(e.diagnostics().rejected_events == 13 + 2);
}

static void test_waits_and_windows() {
  g_test = "waits_and_windows";
  Engine e(quiet());
  std::string lines;
  // Ten tickets issued a minute apart, each called 10*i seconds after issue.
  for (int i = 1; i <= 10; ++i) {
    std::string t = "A" + std::to_string(i);
    lines += issued("i" + t, T0 + i * 60000, t, i % 2 ? "wechat" : "kiosk") + "\n";
    lines += at("c" + t, "ticket.called", T0 + i * 60000 + i * 10000, t) + "\n";
  }
  auto r = e.push_jsonl(lines);
  CHECK(r.applied == 20);
  size_t h = hall0(e);
  // 5m horizon: panes > pane(now) - 300. now = T0 + 600000 + 100000.
  double issued_5m = e.windowed(h, 0, Kpi::Issued), issued_today = e.windowed(h, 3, Kpi::Issued);
  CHECK(issued_today == 10);
  // issued at T0 + i*60000 inside iff i*60000 > 700000 - 300000 -> i >= 7 -> 4 tickets
  CHECK(issued_5m == 4);
  CHECK(e.windowed(h, 3, Kpi::WechatShare) == 0.5);
  CHECK(e.windowed(h, 3, Kpi::WaitMeanS) == 55.0);
  CHECK_NEAR(e.windowed(h, 3, Kpi::WaitP50S), 50.0, 1.0);  // 5th of 10
  CHECK_NEAR(e.windowed(h, 3, Kpi::WaitP90S), 90.0, 1.0);  // 9th of 10
  CHECK(e.windowed(h, 3, Kpi::WaitMaxS) == 100.0);
  // Sliding: advance 5 minutes; 5m holds nothing, its max is null.
  e.advance(T0 + 700000 + 300000);
  CHECK(e.windowed(h, 0, Kpi::Issued) == 0);
  CHECK(std::isnan(e.windowed(h, 0, Kpi::WaitMaxS)));
  CHECK(e.windowed(h, 2, Kpi::Issued) == 10);  // 1h
  CHECK(e.gauge(h, Kpi::Waiting) == 0);
}

static void test_gauges() {
  g_test = "gauges";
  Config c = quiet();
  c.configured_windows = {{"h1", 4}};
  Engine e(c);
  std::string s;
  s += ev("w1", "window.opened", T0, "\"window\":\"w1\",\"staff\":\"s1\"") + "\n";
  s += ev("w2", "window.opened", T0, "\"window\":\"w2\",\"staff\":\"s2\"") + "\n";
  s += ev("w3", "window.paused", T0 + 10, "\"window\":\"w2\"") + "\n";
  s += ev("w4", "window.opened", T0 + 5, "\"window\":\"w2\",\"staff\":\"s2\"") + "\n";  // older
  for (int i = 0; i < 5; ++i)
    s += issued("t" + std::to_string(i), T0 + i * 1000, "B" + std::to_string(i)) + "\n";
  s += ev("x1", "ticket.cancelled", T0 + 6000, "\"ticket\":\"B0\"") + "\n";
  s += at("x2", "ticket.called", T0 + 7000, "B1") + "\n";
  s += at("x3", "ticket.started", T0 + 8000, "B1") + "\n";
  s += ev("q1", "call.queued", T0 + 1000, "\"call\":\"c1\",\"queue\":\"q\"") + "\n";
  s += ev("q2", "call.queued", T0 + 2000, "\"call\":\"c2\",\"queue\":\"q\"") + "\n";
  s += ev("q3", "call.answered", T0 + 9000,
          "\"call\":\"c1\",\"queue\":\"q\",\"agent\":\"a\",\"hold_s\":8") +
       "\n";
  s += ev("g1", "agent.state", T0, "\"agent\":\"a\",\"queue\":\"q\",\"state\":\"busy\"") + "\n";
  s += ev("g2", "agent.state", T0 + 1, "\"agent\":\"b\",\"queue\":\"q\",\"state\":\"available\"") +
       "\n";
  s += ev("g3", "agent.state", T0 + 2, "\"agent\":\"b\",\"queue\":\"q2\",\"state\":\"offline\"") +
       "\n";
  s += ev("o1", "opinion.submitted", T0 - 200000000, "\"opinion\":\"o1\",\"channel\":\"web\"") +
       "\n";
  s += ev("o2", "opinion.submitted", T0, "\"opinion\":\"o2\",\"channel\":\"web\"") + "\n";
  s += ev("o3", "opinion.resolved", T0 + 1, "\"opinion\":\"o3\"") + "\n";
  s += ev("o4", "opinion.submitted", T0 + 2, "\"opinion\":\"o3\",\"channel\":\"web\"") + "\n";
  auto r = e.push_jsonl(s);
  CHECK(r.applied == 22);
  size_t h = 0;
  CHECK(e.gauge(h, Kpi::Waiting) == 3);
  CHECK(e.gauge(h, Kpi::Serving) == 1);
  CHECK(e.gauge(h, Kpi::OpenWindows) == 1);
  CHECK(e.gauge(h, Kpi::PausedWindows) == 1);
  CHECK(e.gauge(h, Kpi::WindowOpenRate) == 0.25);
  CHECK(e.gauge(h, Kpi::WindowPressure) == 3);
  CHECK(e.gauge(h, Kpi::LongestWaitS) == 7.0);  // now T0+9000, oldest waiting B2 at T0+2000
  CHECK(e.gauge(h, Kpi::EstWaitS) == 4 * 600.0);
  CHECK(e.gauge(h, Kpi::CallsWaiting) == 1);
  CHECK(e.gauge(h, Kpi::LongestCallWaitS) == 7.0);
  CHECK(e.gauge(h, Kpi::AgentsBusy) == 1 && e.gauge(h, Kpi::AgentsAvailable) == 0);
  CHECK(e.gauge(h, Kpi::OpinionsOpen) == 2);
  CHECK(e.gauge(h, Kpi::OpinionsOverdue) == 1);
  CHECK(e.diagnostics().late_events == 1);  // the old opinion
}

static void test_durations_orphans_reuse() {
  g_test = "durations_orphans_reuse";
  Engine e(quiet());
  std::string s;
  // Completion before start (reordered): handle recorded when the start arrives.
  s += issued("a1", T0, "C1") + "\n";
  s += at("a2", "ticket.completed", T0 + 400000, "C1", "s2") + "\n";
  s += at("a3", "ticket.started", T0 + 100000, "C1", "s9") + "\n";
  // Orphan: called before its issue; the issue arrives later and the wait is recorded.
  s += at("b1", "ticket.called", T0 + 410000, "C2") + "\n";
  s += ev("b2", "ticket.rated", T0 + 410001,
          "\"ticket\":\"C3\",\"window\":\"w1\",\"staff\":\"s1\",\"score\":4") +
       "\n";  // never issued
  e.push_jsonl(s);
  CHECK(e.diagnostics().orphan_events == 2);
  e.push_json(issued("b3", T0 + 200000, "C2"));
  CHECK(e.diagnostics().orphan_events == 1);
  size_t h = 0;
  CHECK(e.windowed(h, 3, Kpi::HandleMeanS) == 300.0);
  CHECK(e.windowed(h, 3, Kpi::WaitMeanS) == 210.0);
  CHECK(e.windowed(h, 3, Kpi::CalledFirst) == 1);
  // Handle attributed to the completing staff (s2), served too.
  size_t s2 = 1;  // s2 appears before s9 and s1
  CHECK(e.staff_name(h, s2) == "s2" || e.staff_name(h, 0) == "s2");
  for (size_t i = 0; i < e.staff_count(h); ++i)
    if (e.staff_name(h, i) == "s2") {
      CHECK(e.staff_value(h, 3, i, Kpi::StaffServed) == 1);
      CHECK(e.staff_value(h, 3, i, Kpi::StaffHandleMeanS) == 300.0);
    }
  // Negative duration: counted once in rejected_events, not recorded.
  e.push_json(issued("n1", T0 + 420000, "N1"));
  e.push_json(at("n2", "ticket.called", T0 + 419000, "N1"));
  CHECK(e.diagnostics().rejected_events == 1);
  CHECK(e.windowed(h, 3, Kpi::WaitMeanS) == 210.0);
  // Ticket numbers restart the next day: a new issue drops yesterday's ticket.
  e.push_json(issued("r1", T0 + 500000, "R1"));
  CHECK(e.gauge(h, Kpi::Waiting) == 1);  // only R1 waits
  e.push_json(issued("r2", T0 + kDayMs, "R1"));
  CHECK(e.gauge(h, Kpi::Waiting) == 1);  // yesterday's R1 dropped, today's R1 waits
  e.push_json(at("r3", "ticket.called", T0 + kDayMs + 30000, "R1"));
  CHECK(e.windowed(h, 3, Kpi::WaitMeanS) == 30.0);  // today only, fresh ticket
  // A late event updates state but no window.
  e.push_json(at("l1", "ticket.called", T0 + 500000 + 1, "A-late"));
  CHECK(e.diagnostics().late_events == 1);
  CHECK(e.windowed(h, 3, Kpi::CalledFirst) == 1);
}

static void test_alerts() {
  g_test = "alerts";
  Config c;  // default rules
  Engine e(c);
  // Congestion: window_pressure >= 8 for 120 s.
  std::string s = ev("w", "window.opened", T0, "\"window\":\"w1\",\"staff\":\"s\"") + "\n";
  for (int i = 0; i < 8; ++i)
    s += issued("t" + std::to_string(i), T0 + 1000, "T" + std::to_string(i)) + "\n";
  e.push_jsonl(s);
  auto ch = e.drain_alerts();
  CHECK(ch.size() == 1 && ch[0].state == AlertStateKind::Pending && ch[0].ts == T0 + 1000);
  e.advance(T0 + 1000 + 119999);
  CHECK(e.drain_alerts().empty());
  e.advance(T0 + 1000 + 120000);
  ch = e.drain_alerts();
  CHECK(ch.size() == 1 && ch[0].state == AlertStateKind::Firing && ch[0].value == 8);
  CHECK(e.windowed(0, 3, Kpi::AlertsFired) == 1);
  // Hysteresis: 7.5 >= 8*0.9 keeps it firing; 7 < 7.2 resolves.
  e.push_json(ev("o2", "window.opened", T0 + 130000, "\"window\":\"w2\",\"staff\":\"s\""));
  CHECK(e.drain_alerts().size() == 1);  // 8/2 = 4 < 7.2: ok
  // wait_timeout fires at once (for 0): longest_wait_s > 1800.
  e.advance(T0 + 1000 + 1800001);
  ch = e.drain_alerts();
  bool fired = false;
  for (const auto& a : ch)
    if (e.rules()[a.rule].name == "wait_timeout" && a.state == AlertStateKind::Firing) fired = true;
  CHECK(fired);
  // Guarded rule with a null value never holds.
  CHECK(e.alert_state(0, 1) == AlertStateKind::Ok);
}

// A rule on a sliding horizon is woken by the expiry of the kinds it reads, found past
// entries of other kinds, also when a late contribution lands before them.
static void test_alert_on_expiry() {
  g_test = "alert_on_expiry";
  Config c;
  c.alert_rules = {{"called", "called_first", "5m", Op::Ge, 2, 0, false, "", "", 0}};
  Engine e(c);
  for (int i = 0; i < 4; ++i)  // issued: a kind the rule does not read
    CHECK(
        e.push_json(issued("i" + std::to_string(i), T0 + (i / 2) * 20000, "A" + std::to_string(i)))
            .applied == 1);
  CHECK(e.push_json(at("c0", "ticket.called", T0 + 60000, "A0")).applied == 1);
  CHECK(e.drain_alerts().empty());
  CHECK(e.push_json(at("c1", "ticket.called", T0 + 10000, "A1")).applied == 1);  // late
  auto ch = e.drain_alerts();
  CHECK(ch.size() == 1 && ch[0].state == AlertStateKind::Firing && ch[0].ts == T0 + 60000);
  e.advance(T0 + 309999);  // issued ones left at T0 + 300 s: no change
  CHECK(e.drain_alerts().empty());
  e.advance(T0 + 310000);  // the late call leaves: 1 < 2 * 0.9
  ch = e.drain_alerts();
  CHECK(ch.size() == 1 && ch[0].state == AlertStateKind::Ok && ch[0].ts == T0 + 310000);
}

static void test_hash_map() {
  g_test = "hash_map";
  std::mt19937_64 rng(7);
  HashMap64<int> m;
  std::unordered_map<uint64_t, int> ref;
  for (int i = 0; i < 200000; ++i) {
    uint64_t k = (rng() % 5000) + 1;
    int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      *m.insert(k).first = i;
      ref[k] = i;
    } else if (op == 1) {
      CHECK(m.erase(k) == (ref.erase(k) == 1));
    } else {
      int* v = m.find(k);
      auto it = ref.find(k);
      if ((v != nullptr) != (it != ref.end())) CHECK(false);
      if (v && *v != it->second) CHECK(false);
    }
  }
  CHECK(m.size() == ref.size());
  m.erase_if([](uint64_t k, int) { return k % 2 == 0; });
  size_t odd = 0;
  for (auto& [k, v] : ref) odd += k % 2;
  CHECK(m.size() == odd);
}

static void test_histogram() {
  g_test = "histogram";
  std::mt19937_64 rng(11);
  for (int round = 0; round < 200; ++round) {
    Histogram h;
    std::vector<int64_t> v;
    int n = 1 + static_cast<int>(rng() % 300);
    double top = round % 2 ? 30 : 20;  // e^30 ms: beyond the bucketed range
    for (int i = 0; i < n + 50; ++i) {
      int64_t x =
          static_cast<int64_t>(std::exp(std::uniform_real_distribution<double>(0, top)(rng)));
      v.push_back(x);
      h.add(x, 1);
    }
    for (int i = 0; i < 50; ++i) {  // and remove 50 of them again
      size_t j = static_cast<size_t>(rng() % v.size());
      h.add(v[j], -1);
      v.erase(v.begin() + static_cast<std::ptrdiff_t>(j));
    }
    CHECK(h.total() == n);
    std::sort(v.begin(), v.end());
    for (auto [num, den] : {std::pair<int, int>{1, 2}, {9, 10}}) {
      int64_t k = (num * static_cast<int64_t>(n) + den - 1) / den;
      double exact = static_cast<double>(v[static_cast<size_t>(k - 1)]) / 1000.0;
      double got = h.percentile_s(num, den);
      bool ok = std::fabs(got - exact) <= std::max(1.0, 0.01 * exact);
      if (!ok) std::printf("  n=%d k=%lld exact=%f got=%f\n", n, (long long)k, exact, got);
      CHECK(ok);
    }
  }
}

static void test_timezone() {
  g_test = "timezone";
  TimeZone sh = TimeZone::fixed(8 * 3600000);
  CHECK(sh.midnight_of(T0) == T0 - 9 * 3600000);
  CHECK(sh.local_day(T0 - 9 * 3600000) == sh.local_day(T0));
  CHECK(sh.local_day(T0 - 9 * 3600000 - 1) == sh.local_day(T0) - 1);
  // A zone with DST (segments as Python builds them for Europe/Berlin in 2026).
  TimeZone berlin({{0, 3600000}, {1774746000000, 7200000}, {1792890000000, 3600000}});
  int64_t t = 1774789200000;                      // 2026-03-29 15:00 local (CEST)
  CHECK(berlin.midnight_of(t) == 1774738800000);  // 2026-03-29 00:00 CET = 23:00Z
}

static void test_snapshot_json() {
  g_test = "snapshot_json";
  Engine e(Config{});
  e.push_json(issued("a", T0, "A1"));
  std::string j = e.snapshot_json();
  CHECK(j.find("\"waiting\":1") != std::string::npos);
  CHECK(j.find("\"today\":{") != std::string::npos);
  CHECK(j.find("\"diagnostics\":{\"events_applied\":1") != std::string::npos);
  CHECK(j.find("nan") == std::string::npos);
}

// Sums are integers (ms, counts, scores), divided once when read: a window that empties
// and refills leaves no residue, and a window of zero holds reads +0.0 exactly.
static void test_exact_sums() {
  g_test = "exact_sums";
  Config c = quiet();
  c.horizons_s = {60};
  Engine e(c);
  auto answered = [](int i, int64_t ts, const char* hold) {
    return ev("a" + std::to_string(i), "call.answered", ts,
              "\"call\":\"c" + std::to_string(i) +
                  "\",\"queue\":\"q\",\"agent\":\"a\",\"hold_s\":" + hold);
  };
  std::string s = answered(1, T0, "0.1") + "\n" + answered(2, T0, "0.2") + "\n" +
                  answered(3, T0 + 30000, "0") + "\n" + answered(4, T0 + 60000, "0") + "\n";
  CHECK(e.push_jsonl(s).applied == 4);
  CHECK(e.windowed(0, 1, Kpi::AsaS) == 300.0 / 4 / 1000);  // today holds all four
  e.advance(T0 + 61000);  // 0.1 and 0.2 have left the 1m window, the zeros have not
  CHECK(e.windowed(0, 0, Kpi::CallsAnswered) == 2);
  const double asa = e.windowed(0, 0, Kpi::AsaS);
  CHECK(asa == 0.0 && !std::signbit(asa));
  CHECK(e.push_json(answered(5, T0 + 90000, "0.2")).applied == 1);
  e.advance(T0 + 121000);  // only 0.2 s is left
  CHECK(e.windowed(0, 0, Kpi::AsaS) == 0.2);
  // Sub-millisecond seconds round to whole ms, halves up.
  CHECK(seconds_to_ms(0.0004) == 0 && seconds_to_ms(0.0005) == 1 && seconds_to_ms(4.999) == 4999);
  // Durations beyond 2^31 ms are summed apart, unrounded, and leave with their window.
  CHECK(e.push_json(answered(6, T0 + 121000, "1e300")).applied == 1);
  CHECK(e.windowed(0, 0, Kpi::AsaS) == (1e303 + 200) / 2 / 1000);
  e.advance(T0 + 200000);
  CHECK(std::isnan(e.windowed(0, 0, Kpi::AsaS)));
  CHECK(e.windowed(0, 1, Kpi::AsaS) == (500 + 1e303) / 6 / 1000);
}

int main() {
  test_json_reader();
  test_exact_sums();
  test_validation();
  test_waits_and_windows();
  test_gauges();
  test_durations_orphans_reuse();
  test_alerts();
  test_alert_on_expiry();
  test_hash_map();
  test_histogram();
  test_timezone();
  test_snapshot_json();
  return finish();
}
