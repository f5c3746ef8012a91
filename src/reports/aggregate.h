#pragma once
// The reports' arithmetic, apart from where the records come from and how the result is
// written: each aggregator is fed one record at a time (a page of the inventory, then the
// next) and keeps only its totals, so that a report over a million certificates holds no more
// than one page of them. Pure code: no clock (the caller says what "now" is), no database.
//
// Not thread-safe: one aggregator per report.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "inventory/inventory.h"
#include "reports/classify.h"

namespace certward::reports {

// Whether someone renews a certificate when it falls due, without a person doing it.
enum class Renewal : std::uint8_t {
  kManaged,    // the current certificate of a managed certificate: the reconciler renews it
  // Issued through a protocol that clients renew over unattended (ACME, EST, SCEP, CMP) or by
  // the reconciler, or tagged "automated": renewed by automation outside certward.
  kAutomated,
  kManual,     // nobody: a person must renew it
};
std::string_view renewal_name(Renewal r);  // "managed", "automated", "manual"
inline constexpr std::string_view kAutomatedTag = "automated";
// Says a person renews it whatever its channel: a one-off from an automated front-end, an ACME
// client since retired.
inline constexpr std::string_view kManualTag = "manual";
// Whether certificates issued through this channel (inventory RecordMeta::channel) are renewed
// by the client that asked for them, without a person.
bool automated_channel(std::string_view channel);

// Whether a certificate is in force at `now`: what posture, CBOM and lifetimes count (an
// expired, revoked or superseded certificate needs no migration and no renewal).
bool in_force(const inventory::CertificateRecord& r, SysTime now);

// Summary: counts of every certificate by issuer, key algorithm and size, owner, team, status
// and origin.
class SummaryAggregator {
 public:
  explicit SummaryAggregator(SysTime now) : now_(now) {}
  void add(const inventory::CertificateRecord& r);

  struct Entry {
    std::string dimension;  // "issuer", "algorithm", "owner", "team", "status", "origin"
    std::string value;      // "(none)" for an unset owner or team
    std::int64_t count = 0;
  };
  // By dimension in the order above, then by count (largest first), then value.
  std::vector<Entry> entries() const;
  std::int64_t total() const { return total_; }

 private:
  SysTime now_;
  std::int64_t total_ = 0;
  std::map<std::string, std::map<std::string, std::int64_t>> counts_;
};

// Crypto posture: certificates in force and SSH keys per key algorithm, how many a quantum
// computer breaks, and who renews them.
class PostureAggregator {
 public:
  void add_certificate(const inventory::CertificateRecord& r, Renewal renewal);
  void add_ssh_key(std::string_view type, int bits);

  struct Row {
    AlgorithmClass algorithm;
    std::int64_t certificates = 0;
    std::int64_t ssh_keys = 0;
    std::int64_t renewed_automatically = 0;  // certificates managed or automated
    std::int64_t needs_person = 0;           // manual certificates and every SSH key
  };
  struct Totals {
    std::int64_t certificates = 0;
    std::int64_t ssh_keys = 0;
    std::int64_t quantum_vulnerable = 0;  // certificates and keys
    std::int64_t quantum_vulnerable_certificates = 0;
    std::int64_t quantum_vulnerable_ssh_keys = 0;
    std::int64_t renewed_automatically = 0;
    std::int64_t needs_person = 0;
  };
  // Quantum-vulnerable first, then by total count (largest first), then name.
  std::vector<Row> rows() const;
  Totals totals() const;

 private:
  Row& row_for(AlgorithmClass c);
  std::map<std::string, Row> rows_;  // by AlgorithmClass::name
};

// Lifetime simulation: the renewals a team's certificates cost per month today and under a
// maximum validity, renewing when a third of the lifetime remains (the managed certificates'
// default), and which of them nobody renews although the maximum would shorten them.
inline constexpr int kSimulatedMaxDays[] = {200, 100, 47};

// Renewals per month of one certificate with this lifetime, renewed when a third of it
// remains (every two thirds of it); 0 for an empty or negative lifetime.
double renewals_per_month(std::chrono::seconds lifetime);

class LifetimesAggregator {
 public:
  void add(const inventory::CertificateRecord& r, Renewal renewal);

  struct TeamRow {
    std::string team;  // "(none)" for certificates of no team
    std::int64_t certificates = 0;
    std::int64_t automated = 0;  // managed or automated
    std::int64_t manual = 0;
    double renewals_today = 0;             // per month, all certificates
    double renewals_under[3] = {0, 0, 0};  // per month under kSimulatedMaxDays[i]
    // Manual certificates longer than kSimulatedMaxDays[i]: they break under that rule.
    std::int64_t breaking_under[3] = {0, 0, 0};
    double manual_renewals_under[3] = {0, 0, 0};  // per month, by a person
  };
  // By team name; a last row "(all)" sums them.
  std::vector<TeamRow> teams() const;

  // Whether `r` breaks under the rule kSimulatedMaxDays[i]: nobody renews it and its lifetime
  // is longer than the rule allows.
  static bool breaks(const inventory::CertificateRecord& r, Renewal renewal, int max_days);

 private:
  std::map<std::string, TeamRow> teams_;
};

// The label of an unset owner or team in every report.
inline constexpr std::string_view kNone = "(none)";

}  // namespace certward::reports
