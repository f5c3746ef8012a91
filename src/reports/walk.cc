// Walking the listings reports read (walk.h).

#include "reports/walk.h"

#include <algorithm>
#include <charconv>

namespace certward::reports {
namespace {

std::optional<std::uint64_t> prefix64(std::string_view fingerprint) {
  if (fingerprint.size() < 16) return std::nullopt;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(fingerprint.data(), fingerprint.data() + 16, v, 16);
  if (ec != std::errc() || end != fingerprint.data() + 16) return std::nullopt;
  return v;
}

}  // namespace

Status check_output(const std::ostream& out) {
  if (out.fail()) return fail(ErrorCode::kUnavailable, "the report could not be written whole");
  return ok();
}

Status for_each_certificate(const inventory::Inventory& inventory, const inventory::Filter& filter,
                            const std::function<Status()>& go_on,
                            const std::function<void(const inventory::CertificateRecord&)>& fn) {
  inventory::PageRequest page;
  page.limit = kPage;
  for (;;) {
    CW_RETURN_IF_ERROR(go_on());
    CW_ASSIGN_OR_RETURN(auto p, inventory.query(filter, page));
    for (const auto& r : p.items) fn(r);
    if (!p.next_cursor) return ok();
    page.cursor = std::move(p.next_cursor);
  }
}

Status for_each_certificate(const inventory::Inventory& inventory, const inventory::Filter& filter,
                            const std::ostream& out,
                            const std::function<void(const inventory::CertificateRecord&)>& fn) {
  // Checked before each page, and once more after the last.
  CW_RETURN_IF_ERROR(for_each_certificate(
      inventory, filter, [&out] { return check_output(out); }, fn));
  return check_output(out);
}

Status for_each_ssh_key(const inventory::Sightings& sightings,
                        const std::optional<std::string>& team, const std::ostream& out,
                        const std::function<void(const inventory::Sightings::SshKeySummary&)>& fn) {
  std::string after;
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto keys, sightings.ssh_keys_after(after, kPage, team));
    for (const auto& k : keys) fn(k);
    CW_RETURN_IF_ERROR(check_output(out));
    if (keys.size() < static_cast<std::size_t>(kPage)) return ok();
    after = keys.back().key.fingerprint;
  }
}

Result<RenewalIndex> RenewalIndex::load(const lifecycle::ManagedService* managed) {
  RenewalIndex index;
  if (!managed) return index;
  // Every live managed certificate, whoever's: the report's own certificates are already
  // narrowed to the caller's team.
  const ca::Requester reader{.actor = "system:reports", .team = {}, .scope = {}};
  lifecycle::ManagedFilter filter;
  filter.limit = kPage;
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto page, managed->list(filter, reader));
    for (const auto& m : page.items) {
      if (!m.fingerprint) continue;
      if (auto v = prefix64(*m.fingerprint)) index.managed_.push_back(*v);
    }
    if (!page.next_cursor) break;
    filter.cursor = std::move(page.next_cursor);
  }
  std::sort(index.managed_.begin(), index.managed_.end());
  return index;
}

Renewal RenewalIndex::of(const inventory::CertificateRecord& r) const {
  if (auto v = prefix64(r.fingerprint);
      v && std::binary_search(managed_.begin(), managed_.end(), *v)) {
    return Renewal::kManaged;
  }
  const auto& tags = r.meta.tags;
  if (std::find(tags.begin(), tags.end(), kManualTag) != tags.end()) return Renewal::kManual;
  if (r.meta.channel && automated_channel(*r.meta.channel)) return Renewal::kAutomated;
  if (std::find(tags.begin(), tags.end(), kAutomatedTag) != tags.end()) return Renewal::kAutomated;
  return Renewal::kManual;
}

}  // namespace certward::reports
