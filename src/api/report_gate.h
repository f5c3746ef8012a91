#pragma once
// Who may have a report built and sent by this server at a time (api/reports.cc). A report is
// built in memory and then written to its client, which may read slowly: the gate bounds the
// reports being built (they walk the inventory on request workers), the bytes built and not yet
// sent, and gives each principal one report at a time, so that one caller reading slowly holds
// one body for the write timeout and keeps nobody else out.

#include <cstddef>
#include <expected>
#include <memory>
#include <set>
#include <string>

#include "common/error.h"
#include "common/mutex.h"

namespace certward::api {

class ReportGate {
 public:
  struct Limits {
    int builds = 2;                                     // reports built at once
    std::size_t unsent_bytes = std::size_t{512} << 20;  // built, not yet written
  };
  enum class Refusal { kPrincipalBusy, kServerBusy };

  // A report's place in the gate, from its request until its answer has been written or its
  // client has gone (http::Response::hold); everything is given back on destruction.
  class Ticket {
   public:
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    // The report is built: its build slot is given back, and its `bytes` are counted until the
    // ticket ends. False (and nothing counted) when they would take the unsent bytes over the
    // limit: the answer must not be kept.
    bool built(std::size_t bytes);

   private:
    friend class ReportGate;
    Ticket(ReportGate& gate, std::string principal)
        : gate_(gate), principal_(std::move(principal)) {}
    ReportGate& gate_;
    std::string principal_;
    bool building_ = true;
    std::size_t bytes_ = 0;
  };

  ReportGate() = default;
  explicit ReportGate(Limits limits) : limits_(limits) {}

  // kPrincipalBusy: `principal` has a report in flight; kServerBusy: every build slot is taken.
  // The gate must outlive its tickets. Thread-safe.
  std::expected<std::shared_ptr<Ticket>, Refusal> enter(const std::string& principal);

 private:
  const Limits limits_{};
  common::Mutex mu_;
  int building_ CW_GUARDED_BY(mu_) = 0;
  std::size_t unsent_ CW_GUARDED_BY(mu_) = 0;
  std::set<std::string> principals_ CW_GUARDED_BY(mu_);
};

}  // namespace certward::api
