// The catalogue of KPIs (KPIS.md): one table gives every public name, whether it is a
// gauge (the `now` row), a windowed figure (one per horizon) or a per-staff figure,
// and whether it is a count. The snapshot, the columns for sinks, the JSON writer and
// the alert rules all read this table, so names cannot drift apart.
#pragma once

#include <cstdint>
#include <string_view>

namespace hallkpi {

enum class Scope : uint8_t { Gauge, Windowed, Staff };

enum class Kpi : uint8_t {
  // gauges
  Waiting,
  LongestWaitS,
  Serving,
  OpenWindows,
  PausedWindows,
  WindowOpenRate,
  WindowPressure,
  EstWaitS,
  CallsWaiting,
  LongestCallWaitS,
  AgentsAvailable,
  AgentsBusy,
  AgentsPaused,
  OpinionsOpen,
  OpinionsOverdue,
  // windowed
  Issued,
  WechatShare,
  CalledFirst,
  WaitMeanS,
  WaitP50S,
  WaitP90S,
  WaitMaxS,
  Served,
  ThroughputPerH,
  HandleMeanS,
  HandleP90S,
  NoShow,
  Cancelled,
  NoShowRate,
  Ratings,
  RatingMean,
  VerySatisfiedShare,
  DissatisfiedShare,
  CallsAnswered,
  CallsAbandoned,
  CallsShortAbandoned,
  CallsTimeout,
  CallsOffered,
  AnswerRate,
  ServiceLevel,
  AsaS,
  AhtS,
  CallRatings,
  CallRatingMean,
  OpinionsSubmitted,
  OpinionsResolved,
  AlertsFired,
  // per staff
  StaffServed,
  StaffHandleMeanS,
  StaffRatings,
  StaffRatingMean,
  StaffDissatisfied,
  StaffNoShow,
  Count
};

struct KpiInfo {
  Kpi kpi;
  std::string_view name;
  Scope scope;
  bool integer;
};

inline constexpr KpiInfo kKpis[] = {
    {Kpi::Waiting, "waiting", Scope::Gauge, true},
    {Kpi::LongestWaitS, "longest_wait_s", Scope::Gauge, false},
    {Kpi::Serving, "serving", Scope::Gauge, true},
    {Kpi::OpenWindows, "open_windows", Scope::Gauge, true},
    {Kpi::PausedWindows, "paused_windows", Scope::Gauge, true},
    {Kpi::WindowOpenRate, "window_open_rate", Scope::Gauge, false},
    {Kpi::WindowPressure, "window_pressure", Scope::Gauge, false},
    {Kpi::EstWaitS, "est_wait_s", Scope::Gauge, false},
    {Kpi::CallsWaiting, "calls_waiting", Scope::Gauge, true},
    {Kpi::LongestCallWaitS, "longest_call_wait_s", Scope::Gauge, false},
    {Kpi::AgentsAvailable, "agents_available", Scope::Gauge, true},
    {Kpi::AgentsBusy, "agents_busy", Scope::Gauge, true},
    {Kpi::AgentsPaused, "agents_paused", Scope::Gauge, true},
    {Kpi::OpinionsOpen, "opinions_open", Scope::Gauge, true},
    {Kpi::OpinionsOverdue, "opinions_overdue", Scope::Gauge, true},
    {Kpi::Issued, "issued", Scope::Windowed, true},
    {Kpi::WechatShare, "wechat_share", Scope::Windowed, false},
    {Kpi::CalledFirst, "called_first", Scope::Windowed, true},
    {Kpi::WaitMeanS, "wait_mean_s", Scope::Windowed, false},
    {Kpi::WaitP50S, "wait_p50_s", Scope::Windowed, false},
    {Kpi::WaitP90S, "wait_p90_s", Scope::Windowed, false},
    {Kpi::WaitMaxS, "wait_max_s", Scope::Windowed, false},
    {Kpi::Served, "served", Scope::Windowed, true},
    {Kpi::ThroughputPerH, "throughput_per_h", Scope::Windowed, false},
    {Kpi::HandleMeanS, "handle_mean_s", Scope::Windowed, false},
    {Kpi::HandleP90S, "handle_p90_s", Scope::Windowed, false},
    {Kpi::NoShow, "no_show", Scope::Windowed, true},
    {Kpi::Cancelled, "cancelled", Scope::Windowed, true},
    {Kpi::NoShowRate, "no_show_rate", Scope::Windowed, false},
    {Kpi::Ratings, "ratings", Scope::Windowed, true},
    {Kpi::RatingMean, "rating_mean", Scope::Windowed, false},
    {Kpi::VerySatisfiedShare, "very_satisfied_share", Scope::Windowed, false},
    {Kpi::DissatisfiedShare, "dissatisfied_share", Scope::Windowed, false},
    {Kpi::CallsAnswered, "calls_answered", Scope::Windowed, true},
    {Kpi::CallsAbandoned, "calls_abandoned", Scope::Windowed, true},
    {Kpi::CallsShortAbandoned, "calls_short_abandoned", Scope::Windowed, true},
    {Kpi::CallsTimeout, "calls_timeout", Scope::Windowed, true},
    {Kpi::CallsOffered, "calls_offered", Scope::Windowed, true},
    {Kpi::AnswerRate, "answer_rate", Scope::Windowed, false},
    {Kpi::ServiceLevel, "service_level", Scope::Windowed, false},
    {Kpi::AsaS, "asa_s", Scope::Windowed, false},
    {Kpi::AhtS, "aht_s", Scope::Windowed, false},
    {Kpi::CallRatings, "call_ratings", Scope::Windowed, true},
    {Kpi::CallRatingMean, "call_rating_mean", Scope::Windowed, false},
    {Kpi::OpinionsSubmitted, "opinions_submitted", Scope::Windowed, true},
    {Kpi::OpinionsResolved, "opinions_resolved", Scope::Windowed, true},
    {Kpi::AlertsFired, "alerts_fired", Scope::Windowed, true},
    {Kpi::StaffServed, "served", Scope::Staff, true},
    {Kpi::StaffHandleMeanS, "handle_mean_s", Scope::Staff, false},
    {Kpi::StaffRatings, "ratings", Scope::Staff, true},
    {Kpi::StaffRatingMean, "rating_mean", Scope::Staff, false},
    {Kpi::StaffDissatisfied, "dissatisfied", Scope::Staff, true},
    {Kpi::StaffNoShow, "no_show", Scope::Staff, true},
};

static_assert(sizeof(kKpis) / sizeof(kKpis[0]) == static_cast<size_t>(Kpi::Count),
              "every Kpi has one catalogue entry");

inline const KpiInfo& kpi_info(Kpi k) { return kKpis[static_cast<size_t>(k)]; }

// A gauge or windowed KPI by public name; false when unknown.
inline bool kpi_by_name(std::string_view name, Kpi* out) {
  for (const auto& info : kKpis)
    if (info.scope != Scope::Staff && info.name == name) {
      *out = info.kpi;
      return true;
    }
  return false;
}

}  // namespace hallkpi
