// What each KPI is computed from, as bits, so that an alert rule is evaluated only when
// one of its inputs changed (or a wake is due: a pending period ending, a waiting time
// crossing a threshold, a new pane for figures that move with time, a new day). Bits
// 0-15 are contribution kinds (recorded into, or expired from, a horizon); the others
// are the hall's live state. A KPI not listed reads everything (always safe).
#pragma once

#include <cstdint>

#include "hallkpi/kpi.hpp"
#include "hallkpi/windows.hpp"

namespace hallkpi {

constexpr uint32_t kWaitingInput = 1u << 16;  // the waiting tickets (count and queue)
constexpr uint32_t kWindowInput = 1u << 17;   // window states
constexpr uint32_t kCallInput = 1u << 18;     // calls waiting, the call queue
constexpr uint32_t kAgentInput = 1u << 19;    // agent states
constexpr uint32_t kOpinionInput = 1u << 20;  // open opinions
constexpr uint32_t kServingInput = 1u << 21;  // tickets being served
constexpr uint32_t kAllInputs = ~0u;
constexpr uint32_t kKindInputs = 0xFFFFu;  // the contribution kinds

constexpr uint32_t bit(Contrib c) { return 1u << static_cast<unsigned>(c); }

inline uint32_t inputs_of(Kpi k) {
  constexpr uint32_t offered =
      bit(Contrib::CallAnswered) | bit(Contrib::CallAbandoned) | bit(Contrib::CallTimeout);
  switch (k) {
    case Kpi::Waiting:
    case Kpi::LongestWaitS:
      return kWaitingInput;
    case Kpi::Serving:
      return kServingInput;
    case Kpi::OpenWindows:
    case Kpi::PausedWindows:
    case Kpi::WindowOpenRate:
      return kWindowInput;
    case Kpi::WindowPressure:
      return kWaitingInput | kWindowInput;
    case Kpi::EstWaitS:
      return kWaitingInput | kWindowInput | bit(Contrib::Handle);
    case Kpi::CallsWaiting:
    case Kpi::LongestCallWaitS:
      return kCallInput;
    case Kpi::AgentsAvailable:
    case Kpi::AgentsBusy:
    case Kpi::AgentsPaused:
      return kAgentInput;
    case Kpi::OpinionsOpen:
    case Kpi::OpinionsOverdue:
      return kOpinionInput;
    case Kpi::Issued:
    case Kpi::WechatShare:
      return bit(Contrib::Issued);
    case Kpi::CalledFirst:
      return bit(Contrib::CalledFirst);
    case Kpi::WaitMeanS:
    case Kpi::WaitP50S:
    case Kpi::WaitP90S:
    case Kpi::WaitMaxS:
      return bit(Contrib::Wait);
    case Kpi::Served:
    case Kpi::ThroughputPerH:
      return bit(Contrib::Served);
    case Kpi::HandleMeanS:
    case Kpi::HandleP90S:
      return bit(Contrib::Handle);
    case Kpi::NoShow:
      return bit(Contrib::NoShow);
    case Kpi::Cancelled:
      return bit(Contrib::Cancelled);
    case Kpi::NoShowRate:
      return bit(Contrib::NoShow) | bit(Contrib::Served);
    case Kpi::Ratings:
    case Kpi::RatingMean:
    case Kpi::VerySatisfiedShare:
    case Kpi::DissatisfiedShare:
      return bit(Contrib::Rated);
    case Kpi::CallsAnswered:
    case Kpi::AsaS:
      return bit(Contrib::CallAnswered);
    case Kpi::CallsAbandoned:
    case Kpi::CallsShortAbandoned:
      return bit(Contrib::CallAbandoned);
    case Kpi::CallsTimeout:
      return bit(Contrib::CallTimeout);
    case Kpi::CallsOffered:
    case Kpi::AnswerRate:
    case Kpi::ServiceLevel:
      return offered;
    case Kpi::AhtS:
      return bit(Contrib::CallCompleted);
    case Kpi::CallRatings:
    case Kpi::CallRatingMean:
      return bit(Contrib::CallRated);
    case Kpi::OpinionsSubmitted:
      return bit(Contrib::OpinionSubmitted);
    case Kpi::OpinionsResolved:
      return bit(Contrib::OpinionResolved);
    case Kpi::AlertsFired:
      return bit(Contrib::AlertFired);
    default:
      return kAllInputs;
  }
}

}  // namespace hallkpi
