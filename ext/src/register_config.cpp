// Config: the engine's configuration as one bound struct (its defaults are the C++ ones,
// so Python reads them instead of restating them), alert rules, the KPI catalogue, and
// the engine-owned tables Python needs: horizon units and the alert hysteresis.
#include <pybind11/stl.h>

#include <optional>
#include <tuple>

#include "py_engine.hpp"

namespace hallkpi::py_binding {

namespace {

using Guard = std::tuple<std::string, std::string, double>;  // (kpi, horizon, min)

AlertRule make_rule(std::string name, std::string kpi, std::string horizon, const std::string& op,
                    double threshold, double for_s, const std::optional<Guard>& guard) {
  AlertRule r;
  r.name = std::move(name);
  r.kpi = std::move(kpi);
  r.horizon = std::move(horizon);
  r.op = op_by_name(op);
  r.threshold = threshold;
  r.for_s = for_s;
  if (guard) {
    r.has_guard = true;
    std::tie(r.guard_kpi, r.guard_horizon, r.guard_min) = *guard;
  }
  return r;
}

std::optional<Guard> guard_of(const AlertRule& r) {
  if (!r.has_guard) return std::nullopt;
  return Guard{r.guard_kpi, r.guard_horizon, r.guard_min};
}

Scope scope_by_name(const std::string& scope) {
  if (scope == "gauge") return Scope::Gauge;
  if (scope == "windowed") return Scope::Windowed;
  if (scope == "staff") return Scope::Staff;
  throw py::value_error("scope is gauge, windowed or staff");
}

void register_rule(py::module_& m) {
  py::class_<AlertRule>(m, "AlertRule", "One alert rule as the engine holds it (read-only).")
      .def(py::init(&make_rule), py::arg("name"), py::arg("kpi"), py::arg("horizon"), py::arg("op"),
           py::arg("threshold"), py::arg("for_s") = 0.0, py::arg("guard") = std::nullopt)
      .def_readonly("name", &AlertRule::name)
      .def_readonly("kpi", &AlertRule::kpi)
      .def_readonly("horizon", &AlertRule::horizon)
      .def_property_readonly("op", [](const AlertRule& r) { return std::string(op_name(r.op)); })
      .def_readonly("threshold", &AlertRule::threshold)
      .def_readonly("for_s", &AlertRule::for_s)
      .def_property_readonly("guard", &guard_of, "(kpi, horizon, min) or None.");
}

// Fields are named and in the units of hallkpi.core.Engine's keywords; the nested C++
// parts (clock bounds, gap detection, time zone) appear flat.
void register_config_struct(py::module_& m) {
  py::class_<Config>(m, "Config", "The engine configuration; a new one holds the defaults.")
      .def(py::init<>())
      .def_readwrite("horizons_s", &Config::horizons_s)
      .def_readwrite("pane_ms", &Config::pane_ms)
      .def_property(
          "tz_segments", [](const Config& c) { return c.timezone.segments(); },
          [](Config& c, const std::vector<std::pair<int64_t, int64_t>>& segments) {
            c.timezone = TimeZone(segments);
          },
          "(utc_ms, offset_ms) segments of the time zone of `today`.")
      .def_readwrite("short_abandon_s", &Config::short_abandon_s)
      .def_readwrite("service_level_s", &Config::service_level_s)
      .def_readwrite("default_handle_s", &Config::default_handle_s)
      .def_readwrite("opinion_sla_s", &Config::opinion_sla_s)
      .def_readwrite("alert_rules", &Config::alert_rules)
      .def_readwrite("configured_windows", &Config::configured_windows)
      .def_readwrite("halls", &Config::halls)
      .def_readwrite("max_payload_bytes", &Config::max_payload_bytes)
      .def_property(
          "max_lead_ms", [](const Config& c) { return c.clock.max_lead_ms; },
          [](Config& c, int64_t v) { c.clock.max_lead_ms = v; })
      .def_property(
          "max_age_ms", [](const Config& c) { return c.clock.max_age_ms; },
          [](Config& c, int64_t v) { c.clock.max_age_ms = v; })
      .def_property(
          "seq_grace_ms", [](const Config& c) { return c.gaps.grace_ms; },
          [](Config& c, int64_t v) { c.gaps.grace_ms = v; })
      .def_property(
          "upstream_alert_s", [](const Config& c) { return c.gaps.alert_ms / 1000; },
          [](Config& c, int64_t v) { c.gaps.alert_ms = v * 1000; })
      .def_property(
          "max_producers", [](const Config& c) { return c.gaps.max_streams; },
          [](Config& c, size_t v) { c.gaps.max_streams = v; });
}

}  // namespace

void register_config(py::module_& m) {
  register_rule(m);
  register_config_struct(m);
  m.def(
      "kpi_names",
      [](const std::string& scope) {
        std::vector<std::string> out;
        for (const KpiInfo* info : kpis_of(scope_by_name(scope))) out.emplace_back(info->name);
        return out;
      },
      py::arg("scope"), "Public KPI names of a scope: 'gauge', 'windowed' or 'staff'.");
  m.def(
      "integer_kpis",
      []() {
        std::vector<std::string> out;
        for (const auto& info : kKpis)
          if (info.integer) out.emplace_back(info.name);
        return out;
      },
      "Names of the KPIs that are counts (integers).");
  m.def("default_rules", &default_alert_rules, "The KPIS.md default alert rules.");
  m.def(
      "horizon_name", [](int64_t seconds) { return horizon_name(seconds); }, py::arg("seconds"),
      "The name of a horizon of `seconds` ('15m', '1h', '90s').");
  m.def(
      "horizon_seconds", [](const std::string& name) { return horizon_seconds(name); },
      py::arg("name"), "Seconds of a horizon name; ValueError if it is not one.");
  py::list units;
  for (const HorizonUnit& u : kHorizonUnits)
    units.append(py::make_tuple(std::string(1, u.suffix), u.seconds));
  m.attr("HORIZON_UNITS") = py::tuple(units);
  m.attr("ALERT_CLEAR_BELOW") = kClearBelow;
  m.attr("ALERT_CLEAR_ABOVE") = kClearAbove;
  m.attr("UPSTREAM_RULE") = upstream_rule_name();
}

}  // namespace hallkpi::py_binding
