#include "api/metrics.h"

#include <fmt/format.h>

#include <sstream>

namespace certward::api {
namespace {

constexpr std::chrono::seconds kGaugeTtl{15};
// Days-to-expiry buckets (upper bounds, in days) for certificates not yet expired.
constexpr std::array<int, 8> kExpiryDays = {1, 7, 14, 30, 60, 90, 180, 365};

std::vector<std::string_view> split(std::string_view key) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= key.size(); ++i) {
    if (i == key.size() || key[i] == '|') {
      out.push_back(key.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// Label values are route patterns, methods and profile names; escape what the format needs.
std::string esc(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

void Metrics::observe(const http::Exchange& e) {
  const std::string base = fmt::format("{}|{}|{}", e.listener, e.method, e.route);
  const double seconds = std::chrono::duration<double>(e.duration).count();
  common::MutexLock lock(mu_);
  ++requests_[fmt::format("{}|{}", base, e.status)];
  Histogram& h = latencies_[base];
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::count_issued(std::string_view profile, std::string_view authority) {
  common::MutexLock lock(mu_);
  ++issued_[fmt::format("{}|{}", profile, authority)];
}

void Metrics::count_rate_limited() {
  common::MutexLock lock(mu_);
  ++rate_limited_;
}

std::string Metrics::inventory_section(const inventory::Inventory& inventory) {
  const SysTime now = clock_.now();
  bool stale = false;
  {
    common::MutexLock lock(mu_);
    stale = gauges_.computed_at == SysTime{} || gauges_.computed_at + kGaugeTtl <= now;
  }
  if (stale) {
    // Asked of the inventory outside the lock, at most once per kGaugeTtl.
    InventoryGauges g;
    g.computed_at = now;
    if (auto counts = inventory.status_counts()) {
      for (const auto& [status, n] : *counts)
        g.by_status[std::string(inventory::status_name(status))] = n;
    }
    std::vector<std::chrono::seconds> bounds;
    for (int d : kExpiryDays) bounds.emplace_back(std::chrono::days(d));
    if (auto histogram = inventory.expiry_histogram(bounds)) {
      g.expiry_count = (*histogram)[0];
      for (std::size_t i = 0; i < kExpiryDays.size(); ++i) {
        g.expiry_buckets[std::to_string(kExpiryDays[i])] = (*histogram)[i + 1];
      }
    }
    common::MutexLock lock(mu_);
    gauges_ = std::move(g);
  }
  common::MutexLock lock(mu_);
  std::ostringstream out;
  out << "# HELP certward_certificates Certificates in the inventory by derived status.\n"
      << "# TYPE certward_certificates gauge\n";
  for (const auto& [status, n] : gauges_.by_status) {
    out << "certward_certificates{status=\"" << status << "\"} " << n << "\n";
  }
  out << "# HELP certward_certificate_days_to_expiry Unexpired, unrevoked certificates by days "
         "until notAfter.\n"
      << "# TYPE certward_certificate_days_to_expiry histogram\n";
  for (int d : kExpiryDays) {
    out << "certward_certificate_days_to_expiry_bucket{le=\"" << d << "\"} "
        << gauges_.expiry_buckets[std::to_string(d)] << "\n";
  }
  out << "certward_certificate_days_to_expiry_bucket{le=\"+Inf\"} " << gauges_.expiry_count << "\n"
      << "certward_certificate_days_to_expiry_count " << gauges_.expiry_count << "\n";
  return out.str();
}

std::string Metrics::render(const inventory::Inventory& inventory) {
  std::string inventory_text = inventory_section(inventory);
  common::MutexLock lock(mu_);
  std::ostringstream out;
  out << "# HELP certward_http_requests_total HTTP requests by listener, method, route and "
         "status.\n"
      << "# TYPE certward_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    auto p = split(key);
    out << "certward_http_requests_total{listener=\"" << esc(p[0]) << "\",method=\"" << esc(p[1])
        << "\",route=\"" << esc(p[2]) << "\",status=\"" << esc(p[3]) << "\"} " << n << "\n";
  }
  out << "# HELP certward_http_request_duration_seconds Time from a complete request to its "
         "response.\n"
      << "# TYPE certward_http_request_duration_seconds histogram\n";
  for (const auto& [key, h] : latencies_) {
    auto p = split(key);
    const std::string labels =
        fmt::format("listener=\"{}\",method=\"{}\",route=\"{}\"", esc(p[0]), esc(p[1]), esc(p[2]));
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
      out << "certward_http_request_duration_seconds_bucket{" << labels << ",le=\""
          << kLatencyBuckets[i] << "\"} " << h.buckets[i] << "\n";
    }
    out << "certward_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.count
        << "\n"
        << "certward_http_request_duration_seconds_sum{" << labels << "} " << h.sum << "\n"
        << "certward_http_request_duration_seconds_count{" << labels << "} " << h.count << "\n";
  }
  out << "# HELP certward_certificates_issued_total Certificates issued by this process, by "
         "profile and authority.\n"
      << "# TYPE certward_certificates_issued_total counter\n";
  for (const auto& [key, n] : issued_) {
    auto p = split(key);
    out << "certward_certificates_issued_total{profile=\"" << esc(p[0]) << "\",authority=\""
        << esc(p[1]) << "\"} " << n << "\n";
  }
  out << "# HELP certward_rate_limited_total Requests refused with 429.\n"
      << "# TYPE certward_rate_limited_total counter\n"
      << "certward_rate_limited_total " << rate_limited_ << "\n";
  out << inventory_text;
  return out.str();
}

}  // namespace certward::api
