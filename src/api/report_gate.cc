#include "api/report_gate.h"

namespace certward::api {

std::expected<std::shared_ptr<ReportGate::Ticket>, ReportGate::Refusal> ReportGate::enter(
    const std::string& principal) {
  common::MutexLock lock(mu_);
  if (principals_.contains(principal)) return std::unexpected(Refusal::kPrincipalBusy);
  if (building_ >= limits_.builds) return std::unexpected(Refusal::kServerBusy);
  principals_.insert(principal);
  ++building_;
  return std::shared_ptr<Ticket>(new Ticket(*this, principal));
}

bool ReportGate::Ticket::built(std::size_t bytes) {
  common::MutexLock lock(gate_.mu_);
  if (building_) {
    building_ = false;
    --gate_.building_;
  }
  if (bytes > gate_.limits_.unsent_bytes - gate_.unsent_ + bytes_) return false;
  gate_.unsent_ += bytes - bytes_;
  bytes_ = bytes;
  return true;
}

ReportGate::Ticket::~Ticket() {
  common::MutexLock lock(gate_.mu_);
  if (building_) --gate_.building_;
  gate_.unsent_ -= bytes_;
  gate_.principals_.erase(principal_);
}

}  // namespace certward::api
