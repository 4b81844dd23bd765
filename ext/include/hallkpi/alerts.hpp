// Alert rules (KPIS.md, Alerts): a condition on one KPI of a hall, an optional guard,
// and a pending period; states ok -> pending -> firing -> ok with a 10 % hysteresis.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hallkpi/kpi.hpp"

namespace hallkpi {

enum class Op : uint8_t { Gt, Ge, Lt, Le };

inline const char* op_name(Op op) {
  switch (op) {
    case Op::Gt:
      return ">";
    case Op::Ge:
      return ">=";
    case Op::Lt:
      return "<";
    case Op::Le:
      return "<=";
  }
  return "?";
}

inline Op op_by_name(const std::string& s) {
  if (s == ">") return Op::Gt;
  if (s == ">=") return Op::Ge;
  if (s == "<") return Op::Lt;
  if (s == "<=") return Op::Le;
  throw std::invalid_argument("alert op must be one of >, >=, <, <=; got '" + s + "'");
}

inline bool compare(double v, Op op, double t) {
  switch (op) {
    case Op::Gt:
      return v > t;
    case Op::Ge:
      return v >= t;
    case Op::Lt:
      return v < t;
    case Op::Le:
      return v <= t;
  }
  return false;
}

struct AlertRule {
  std::string name;
  std::string kpi;      // public KPI name
  std::string horizon;  // "now" for gauges, else a horizon name ("15m", "1h", "today")
  Op op = Op::Gt;
  double threshold = 0;
  double for_s = 0;
  bool has_guard = false;
  std::string guard_kpi;
  std::string guard_horizon;
  double guard_min = 0;
};

inline std::vector<AlertRule> default_alert_rules() {
  std::vector<AlertRule> r(6);
  r[0] = {"wait_timeout", "longest_wait_s", "now", Op::Gt, 1800, 0, false, "", "", 0};
  r[1] = {
      "dissatisfaction", "dissatisfied_share", "15m", Op::Ge, 0.2, 0, true, "ratings", "15m", 5};
  r[2] = {"congestion", "window_pressure", "now", Op::Ge, 8, 120, false, "", "", 0};
  r[3] = {"low_answer_rate", "answer_rate", "15m", Op::Lt, 0.8, 0, true,
          "calls_offered",   "15m",         10};
  r[4] = {"call_queue", "calls_waiting", "now", Op::Ge, 10, 60, false, "", "", 0};
  r[5] = {"opinion_overdue", "opinions_overdue", "now", Op::Ge, 1, 0, false, "", "", 0};
  return r;
}

// Hysteresis (KPIS.md): a firing alert clears once its KPI is back past the threshold
// by 10 %: below threshold x kClearBelow for > and >=, above threshold x kClearAbove else.
inline constexpr double kClearBelow = 0.9, kClearAbove = 1.1;

enum class AlertStateKind : uint8_t { Ok, Pending, Firing };

inline const char* state_name(AlertStateKind s) {
  switch (s) {
    case AlertStateKind::Ok:
      return "ok";
    case AlertStateKind::Pending:
      return "pending";
    case AlertStateKind::Firing:
      return "firing";
  }
  return "?";
}

struct AlertState {
  AlertStateKind state = AlertStateKind::Ok;
  int64_t pending_since = 0;
};

// An emitted change of state. `value` is NaN for null.
struct AlertChange {
  uint32_t hall;
  uint32_t rule;
  AlertStateKind state;
  double value;
  double threshold;
  int64_t ts;
  std::string detail = {};  // only the built-in events_lost_upstream alert has one
};

// The one table of horizon names <-> seconds (exported to Python as HORIZON_UNITS):
// a horizon is named by its longest unit that divides it ("15m", "1h", "90s", "2d").
struct HorizonUnit {
  char suffix;
  int64_t seconds;
};
inline constexpr HorizonUnit kHorizonUnits[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};

inline std::string horizon_name(int64_t seconds) {
  for (const HorizonUnit& u : kHorizonUnits)
    if (seconds % u.seconds == 0) return std::to_string(seconds / u.seconds) + u.suffix;
  return std::to_string(seconds) + "s";  // not reached: the last unit divides everything
}

// Seconds of a horizon name ("15m", "1h", "90s", "2d", or plain seconds "900").
inline int64_t horizon_seconds(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("empty horizon name");
  size_t i = 0;
  int64_t n = 0;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9') {
    n = n * 10 + (name[i] - '0');
    if (n > 100000000) throw std::invalid_argument("horizon too long: '" + name + "'");
    ++i;
  }
  if (i == 0 || n <= 0) throw std::invalid_argument("bad horizon name: '" + name + "'");
  if (i == name.size()) return n;
  if (i + 1 == name.size())
    for (const HorizonUnit& u : kHorizonUnits)
      if (name[i] == u.suffix) return n * u.seconds;
  throw std::invalid_argument("bad horizon name: '" + name +
                              "' (use seconds or a number with s, m, h, d)");
}

}  // namespace hallkpi
