// The reports' arithmetic (aggregate.h).

#include "reports/aggregate.h"

#include <algorithm>

namespace certward::reports {
namespace {

constexpr double kDaysPerMonth = 365.25 / 12;
constexpr std::string_view kDimensions[] = {"issuer", "algorithm", "owner",
                                            "team",   "status",    "origin"};

std::string or_none(const std::optional<std::string>& s) {
  return s && !s->empty() ? *s : std::string(kNone);
}

bool automated(Renewal r) { return r != Renewal::kManual; }

}  // namespace

std::string_view renewal_name(Renewal r) {
  switch (r) {
    case Renewal::kManaged:
      return "managed";
    case Renewal::kAutomated:
      return "automated";
    case Renewal::kManual:
      return "manual";
  }
  return "manual";
}

bool automated_channel(std::string_view channel) {
  // "renewal" is the reconciler of a managed certificate: one whose managed certificate was
  // deleted is renewed no more, but is counted here until it is replaced, as it was issued.
  // CLI, REST, dashboard and system issuance is a person's or a one-off's.
  return channel == "acme" || channel == "est" || channel == "scep" || channel == "cmp" ||
         channel == "renewal";
}

bool in_force(const inventory::CertificateRecord& r, SysTime now) {
  using inventory::CertStatus;
  const CertStatus s = r.status(now);
  return s == CertStatus::kValid || s == CertStatus::kExpiring || s == CertStatus::kNotYetValid;
}

void SummaryAggregator::add(const inventory::CertificateRecord& r) {
  ++total_;
  ++counts_["issuer"][r.issuer.empty() ? std::string(kNone) : r.issuer];
  ++counts_["algorithm"][classify_certificate_key(r).name];
  ++counts_["owner"][or_none(r.meta.owner)];
  ++counts_["team"][or_none(r.meta.team)];
  ++counts_["status"][std::string(inventory::status_name(r.status(now_)))];
  ++counts_["origin"][std::string(inventory::origin_name(r.meta.origin))];
}

std::vector<SummaryAggregator::Entry> SummaryAggregator::entries() const {
  std::vector<Entry> out;
  for (std::string_view dim : kDimensions) {
    const auto it = counts_.find(std::string(dim));
    if (it == counts_.end()) continue;
    const std::size_t first = out.size();
    for (const auto& [value, n] : it->second) out.push_back({std::string(dim), value, n});
    std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                     [](const Entry& a, const Entry& b) { return a.count > b.count; });
  }
  return out;
}

PostureAggregator::Row& PostureAggregator::row_for(AlgorithmClass c) {
  auto [it, inserted] = rows_.try_emplace(c.name);
  if (inserted) it->second.algorithm = std::move(c);
  return it->second;
}

void PostureAggregator::add_certificate(const inventory::CertificateRecord& r, Renewal renewal) {
  Row& row = row_for(classify_certificate_key(r));
  ++row.certificates;
  ++(automated(renewal) ? row.renewed_automatically : row.needs_person);
}

void PostureAggregator::add_ssh_key(std::string_view type, int bits) {
  // certward renews no SSH key: rotating one is a person's work.
  Row& row = row_for(classify_ssh_key(type, bits));
  ++row.ssh_keys;
  ++row.needs_person;
}

std::vector<PostureAggregator::Row> PostureAggregator::rows() const {
  std::vector<Row> out;
  out.reserve(rows_.size());
  for (const auto& [name, row] : rows_) out.push_back(row);
  std::stable_sort(out.begin(), out.end(), [](const Row& a, const Row& b) {
    if (a.algorithm.quantum_vulnerable != b.algorithm.quantum_vulnerable)
      return a.algorithm.quantum_vulnerable;
    return a.certificates + a.ssh_keys > b.certificates + b.ssh_keys;
  });
  return out;
}

PostureAggregator::Totals PostureAggregator::totals() const {
  Totals t;
  for (const auto& [name, row] : rows_) {
    t.certificates += row.certificates;
    t.ssh_keys += row.ssh_keys;
    if (row.algorithm.quantum_vulnerable) {
      t.quantum_vulnerable_certificates += row.certificates;
      t.quantum_vulnerable_ssh_keys += row.ssh_keys;
    }
    t.renewed_automatically += row.renewed_automatically;
    t.needs_person += row.needs_person;
  }
  t.quantum_vulnerable = t.quantum_vulnerable_certificates + t.quantum_vulnerable_ssh_keys;
  return t;
}

double renewals_per_month(std::chrono::seconds lifetime) {
  if (lifetime.count() <= 0) return 0;
  const double days = static_cast<double>(lifetime.count()) / 86400.0;
  return kDaysPerMonth / (days * 2.0 / 3.0);
}

bool LifetimesAggregator::breaks(const inventory::CertificateRecord& r, Renewal renewal,
                                 int max_days) {
  return !automated(renewal) && r.not_after - r.not_before > std::chrono::days(max_days);
}

void LifetimesAggregator::add(const inventory::CertificateRecord& r, Renewal renewal) {
  TeamRow& t = teams_[or_none(r.meta.team)];
  ++t.certificates;
  ++(automated(renewal) ? t.automated : t.manual);
  const auto lifetime =
      std::chrono::duration_cast<std::chrono::seconds>(r.not_after - r.not_before);
  t.renewals_today += renewals_per_month(lifetime);
  for (std::size_t i = 0; i < std::size(kSimulatedMaxDays); ++i) {
    const std::chrono::seconds max = std::chrono::days(kSimulatedMaxDays[i]);
    const double n = renewals_per_month(std::min(lifetime, max));
    t.renewals_under[i] += n;
    if (!automated(renewal)) t.manual_renewals_under[i] += n;
    if (breaks(r, renewal, kSimulatedMaxDays[i])) ++t.breaking_under[i];
  }
}

std::vector<LifetimesAggregator::TeamRow> LifetimesAggregator::teams() const {
  std::vector<TeamRow> out;
  TeamRow all;
  all.team = "(all)";
  for (const auto& [name, row] : teams_) {
    TeamRow r = row;
    r.team = name;
    out.push_back(r);
    all.certificates += r.certificates;
    all.automated += r.automated;
    all.manual += r.manual;
    all.renewals_today += r.renewals_today;
    for (std::size_t i = 0; i < std::size(kSimulatedMaxDays); ++i) {
      all.renewals_under[i] += r.renewals_under[i];
      all.breaking_under[i] += r.breaking_under[i];
      all.manual_renewals_under[i] += r.manual_renewals_under[i];
    }
  }
  out.push_back(all);
  return out;
}

}  // namespace certward::reports
