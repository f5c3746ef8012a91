#include "ca/revocation.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace certward::ca {
namespace {

constexpr RevocationReason kReasons[] = {
    RevocationReason::kUnspecified,        RevocationReason::kKeyCompromise,
    RevocationReason::kCaCompromise,       RevocationReason::kAffiliationChanged,
    RevocationReason::kSuperseded,         RevocationReason::kCessationOfOperation,
    RevocationReason::kPrivilegeWithdrawn, RevocationReason::kAaCompromise,
};

// The reasons a revocation may give. "keyCompromise", "key-compromise", "KEY_COMPROMISE" all
// read the same.
std::string folded(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '-' || c == '_') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// Commits and gives the connection back before the observers are told: they write too (the
// server schedules CRL publication in the database), and SQLite has one writer connection,
// which the committed transaction would otherwise hold until the observers returned.
Status commit_and_release(std::unique_ptr<store::Transaction>& tx) {
  Status committed = tx->commit();
  tx.reset();
  return committed;
}

bool scoped_out(const Requester& who, const std::optional<std::string>& team) {
  return who.scope.has_value() && team != who.team;
}

}  // namespace

std::string_view revocation_reason_name(RevocationReason r) { return x509::crl_reason_name(r); }

std::string_view revocation_reason_name(int code) {
  for (auto r : kReasons)
    if (static_cast<int>(r) == code) return revocation_reason_name(r);
  return "unspecified";
}

Result<RevocationReason> parse_revocation_reason(std::string_view text) {
  const std::string want = folded(text);
  for (auto r : kReasons) {
    if (folded(revocation_reason_name(r)) == want || std::to_string(static_cast<int>(r)) == want) {
      return r;
    }
  }
  if (want == "certificatehold" || want == "removefromcrl" || want == "6" || want == "8") {
    return fail(ErrorCode::kInvalidArgument,
                "'" + std::string(text) + "' is not offered: a revocation here is final");
  }
  return fail(ErrorCode::kInvalidArgument,
              "unknown revocation reason '" + std::string(text) +
                  "' (unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                  "cessationOfOperation, privilegeWithdrawn, aACompromise)");
}

Status RevocationService::check_invalidity(const std::optional<SysTime>& invalidity,
                                           SysTime now) const {
  if (invalidity && *invalidity > now) {
    return fail(ErrorCode::kInvalidArgument, "the invalidity date is in the future");
  }
  return ok();
}

audit::Event RevocationService::event_for(const inventory::RevocationTarget& t,
                                          RevocationReason reason,
                                          const std::optional<SysTime>& invalidity,
                                          const Requester& requester, Channel channel,
                                          const std::optional<std::string>& bulk) const {
  nlohmann::json details = {{"serial", t.serial},
                            {"authority", t.authority},
                            {"reason", revocation_reason_name(reason)},
                            {"channel", channel_name(channel)}};
  if (invalidity) details["invalidity_date"] = format_time(*invalidity);
  if (bulk) details["bulk"] = *bulk;
  return {requester.actor, "certificate.revoke", "certificate", t.fingerprint, std::move(details)};
}

void RevocationService::notify(const std::vector<std::string>& authorities) const {
  if (!observer_) return;
  for (const auto& a : std::set<std::string>(authorities.begin(), authorities.end())) observer_(a);
}

Result<inventory::CertificateRecord> RevocationService::revoke(const RevokeRequest& r) {
  const SysTime now = clock_.now();
  CW_RETURN_IF_ERROR(check_invalidity(r.invalidity_date, now));
  // A scoped requester's id is resolved among its team's certificates only.
  CW_ASSIGN_OR_RETURN(
      auto record,
      inventory_.resolve(
          r.id, r.requester.scope ? std::optional(r.requester.team.value_or("")) : std::nullopt));
  if (scoped_out(r.requester, record.meta.team)) {
    // Indistinguishable from absence: a requester learns nothing about other teams.
    return fail(ErrorCode::kNotFound, "no certificate matches '" + r.id + "'");
  }
  if (record.meta.authority && record.meta.origin == inventory::Origin::kUpstream && issuers_) {
    return revoke_upstream(r, record, now);
  }
  if (!record.meta.authority || record.meta.origin != inventory::Origin::kIssued) {
    return fail(ErrorCode::kInvalidArgument,
                "certificate " + record.fingerprint +
                    " was not issued by a certward authority: only its issuer can revoke it");
  }
  if (record.is_ca) {
    return fail(ErrorCode::kInvalidArgument,
                "certificate " + record.fingerprint +
                    " is a CA certificate: revoke its authority (ca revoke) instead");
  }
  if (record.revoked_at) {
    return fail(ErrorCode::kConflict, "certificate " + record.fingerprint + " is already revoked");
  }

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  // Again under the row lock: a relabel or another revocation racing with this one counts.
  inventory::Filter exactly;
  exactly.fingerprint = record.fingerprint;
  if (r.requester.scope) exactly.team = r.requester.team.value_or("");
  CW_ASSIGN_OR_RETURN(auto targets, inventory_.revocable(*tx, exactly, 1, nullptr));
  if (targets.empty()) {
    return fail(ErrorCode::kConflict,
                "certificate " + record.fingerprint + " changed meanwhile; look at it again");
  }
  const inventory::RevocationMark mark{now, static_cast<int>(r.reason), r.invalidity_date};
  const std::string fingerprints[] = {record.fingerprint};
  CW_RETURN_IF_ERROR(inventory_.mark_revoked(*tx, fingerprints, mark));
  CW_RETURN_IF_ERROR(audit_.append(
      *tx, event_for(targets.front(), r.reason, r.invalidity_date, r.requester, r.channel, {})));
  CW_RETURN_IF_ERROR(commit_and_release(tx));
  notify({targets.front().authority});
  CW_ASSIGN_OR_RETURN(auto after, inventory_.get(record.fingerprint));
  if (!after) return fail(ErrorCode::kInternal, "revoked certificate vanished");
  return std::move(*after);
}

Result<inventory::CertificateRecord> RevocationService::revoke_upstream(
    const RevokeRequest& r, const inventory::CertificateRecord& record, SysTime now) {
  if (record.is_ca) {
    return fail(ErrorCode::kInvalidArgument,
                "certificate " + record.fingerprint + " is a CA certificate");
  }
  if (record.revoked_at) {
    return fail(ErrorCode::kConflict, "certificate " + record.fingerprint + " is already revoked");
  }
  // The CA that made it revokes it first: its CRL and OCSP are what relying parties ask. Only
  // once it has, the inventory says so; a refusal there changes nothing here.
  CW_ASSIGN_OR_RETURN(auto issuer, issuers_->issuer(*record.meta.authority));
  CW_ASSIGN_OR_RETURN(auto cert, inventory_.certificate(record.fingerprint));
  CW_RETURN_IF_ERROR(issuer->revoke(cert, static_cast<int>(r.reason)));

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  const inventory::RevocationMark mark{now, static_cast<int>(r.reason), r.invalidity_date};
  const std::string fingerprints[] = {record.fingerprint};
  CW_RETURN_IF_ERROR(inventory_.mark_revoked(*tx, fingerprints, mark));
  const inventory::RevocationTarget target{record.fingerprint, record.serial,
                                           *record.meta.authority, record.meta.team, false};
  auto event = event_for(target, r.reason, r.invalidity_date, r.requester, r.channel, {});
  event.details["origin"] = "upstream";
  CW_RETURN_IF_ERROR(audit_.append(*tx, event));
  CW_RETURN_IF_ERROR(commit_and_release(tx));
  CW_ASSIGN_OR_RETURN(auto after, inventory_.get(record.fingerprint));
  if (!after) return fail(ErrorCode::kInternal, "revoked certificate vanished");
  return std::move(*after);
}

Result<BulkRevokeResult> RevocationService::revoke_bulk(const BulkRevokeRequest& r) {
  const RevocationSelection& s = r.selection;
  if (!s.authority && !s.team && !s.tag && !s.issued_after && !s.issued_before && !s.key_sha256) {
    return fail(ErrorCode::kInvalidArgument,
                "a bulk revocation needs a selection: authority, team, tag, issue window or key");
  }
  if (!r.dry_run && !r.expected_count) {
    return fail(ErrorCode::kInvalidArgument,
                "give the count a dry run showed (expected_count), or ask for a dry run");
  }
  const SysTime now = clock_.now();
  if (r.replace_only && r.at)
    return fail(ErrorCode::kInvalidArgument, "a replacement only revokes nothing: no time");
  if (r.at && (*r.at <= now || *r.at > now + std::chrono::days(366)))
    return fail(ErrorCode::kInvalidArgument,
                "a scheduled revocation is in the future, within a year");
  // A scheduled revocation records no invalidity date: refused rather than dropped.
  if ((r.at || r.replace_only) && r.invalidity_date)
    return fail(ErrorCode::kInvalidArgument,
                "an invalidity date goes with a revocation made now, not a scheduled one");
  CW_RETURN_IF_ERROR(check_invalidity(r.invalidity_date, now));
  inventory::Filter f;
  f.authority = s.authority;
  f.team = s.team;
  f.tag = s.tag;
  f.issued_after = s.issued_after;
  f.issued_before = s.issued_before;
  f.key_sha256 = s.key_sha256;
  if (r.requester.scope) {
    if (f.team && f.team != r.requester.team) {
      return fail(ErrorCode::kUnauthorized,
                  r.requester.actor + " revokes only its own team's certificates");
    }
    f.team = r.requester.team.value_or("");
  }

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  BulkRevokeResult out;
  CW_ASSIGN_OR_RETURN(out.certificates, inventory_.revocable(*tx, f, kMaxBulk, &out.matched));
  if (out.matched > static_cast<std::int64_t>(kMaxBulk)) {
    return fail(ErrorCode::kPolicyRejected,
                std::to_string(out.matched) + " certificates match; one bulk revocation takes " +
                    "at most " + std::to_string(kMaxBulk) + ": narrow the selection");
  }
  if (r.dry_run) return out;  // the transaction rolls back: nothing was written
  if (out.matched != *r.expected_count) {
    return fail(ErrorCode::kConflict,
                std::to_string(out.matched) + " certificates match now, not the " +
                    std::to_string(*r.expected_count) + " expected: run the dry run again");
  }
  if (out.certificates.empty()) return out;
  if (r.replace_only || r.at) {
    CW_RETURN_IF_ERROR(schedule(*tx, out.certificates, r, now));
    CW_RETURN_IF_ERROR(commit_and_release(tx));
    out.scheduled = true;
    return out;
  }
  std::vector<std::string> fingerprints;
  std::vector<std::string> authorities;
  std::vector<audit::Event> events;
  fingerprints.reserve(out.certificates.size());
  events.reserve(out.certificates.size());
  // One id for the whole operation, in every event, so the audit trail shows it as one act.
  const std::string bulk = to_hex(crypto::random_bytes(8));
  for (const auto& t : out.certificates) {
    fingerprints.push_back(t.fingerprint);
    authorities.push_back(t.authority);
    events.push_back(event_for(t, r.reason, r.invalidity_date, r.requester, r.channel, bulk));
  }
  const inventory::RevocationMark mark{now, static_cast<int>(r.reason), r.invalidity_date};
  CW_RETURN_IF_ERROR(inventory_.mark_revoked(*tx, fingerprints, mark));
  CW_RETURN_IF_ERROR(audit_.append(*tx, events));
  CW_RETURN_IF_ERROR(commit_and_release(tx));
  out.revoked = true;
  notify(authorities);
  return out;
}

Result<AuthorityInfo> RevocationService::revoke_authority(
    const std::string& name, RevocationReason reason, const std::optional<SysTime>& invalidity_date,
    const Requester& requester) {
  const SysTime now = clock_.now();
  CW_RETURN_IF_ERROR(check_invalidity(invalidity_date, now));
  CW_ASSIGN_OR_RETURN(auto a, authorities_.info(name));
  if (a.kind == AuthorityKind::kRoot) {
    return fail(ErrorCode::kInvalidArgument,
                "authority '" + name + "' is a root: no CRL above it can list it; disable it");
  }
  if (a.status == "revoked") {
    return fail(ErrorCode::kConflict, "authority '" + name + "' is already revoked");
  }
  CW_ASSIGN_OR_RETURN(auto record, inventory_.get(a.certificate.info().sha256_hex));
  if (!record || !a.parent || record->meta.authority != a.parent) {
    return fail(ErrorCode::kInvalidArgument,
                "authority '" + name +
                    "' was not issued by one of certward's authorities: its issuer revokes it");
  }
  inventory::RevocationTarget target{record->fingerprint, record->serial, *a.parent,
                                     record->meta.team, true};
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_RETURN_IF_ERROR(authorities_.mark_revoked(*tx, name));
  const std::string fingerprints[] = {target.fingerprint};
  CW_RETURN_IF_ERROR(
      inventory_.mark_revoked(*tx, fingerprints, {now, static_cast<int>(reason), invalidity_date}));
  const audit::Event events[] = {
      event_for(target, reason, invalidity_date, requester, Channel::kCli, {}),
      {requester.actor,
       "authority.revoke",
       "authority",
       name,
       {{"reason", revocation_reason_name(reason)}, {"parent", *a.parent}}}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, events));
  CW_RETURN_IF_ERROR(commit_and_release(tx));
  authorities_.forget(name);
  notify({*a.parent, name});
  return authorities_.info(name);
}

Status RevocationService::schedule(store::Transaction& tx,
                                   const std::vector<inventory::RevocationTarget>& targets,
                                   const BulkRevokeRequest& r, SysTime now) const {
  std::vector<std::string> fingerprints;
  std::vector<audit::Event> events;
  const std::string bulk = to_hex(crypto::random_bytes(8));
  for (const auto& t : targets) {
    fingerprints.push_back(t.fingerprint);
    audit::Event e = event_for(t, r.reason, r.invalidity_date, r.requester, r.channel, bulk);
    if (r.replace_only) {
      e.action = "certificate.replace";
      e.details.erase("reason");
    } else {
      e.action = "certificate.revocation_scheduled";
      e.details["at"] = format_time(*r.at);
    }
    events.push_back(std::move(e));
  }
  CW_RETURN_IF_ERROR(
      inventory_.mark_for_replacement(tx, fingerprints, now, r.at, static_cast<int>(r.reason)));
  return audit_.append(tx, events);
}

Result<std::int64_t> RevocationService::revoke_due() {
  const SysTime now = clock_.now();
  {
    // Nearly always nothing is due: a read answers that without taking the writer (on SQLite
    // a write transaction, even an empty one, holds the database's one write lock).
    CW_ASSIGN_OR_RETURN(auto rx, db_.begin(store::TxMode::kRead));
    CW_ASSIGN_OR_RETURN(auto due, inventory_.due_revocations(*rx, now, 1, /*lock=*/false));
    if (due.empty()) return 0;
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  CW_ASSIGN_OR_RETURN(auto due, inventory_.due_revocations(*tx, now, kMaxBulk));
  if (due.empty()) return 0;
  std::vector<std::string> authorities;
  const Requester system{.actor = "system", .team = std::nullopt, .scope = std::nullopt};
  // One transaction per reason: mark_revoked takes one mark for all it is given.
  std::map<int, std::vector<const inventory::RevocationTarget*>> by_reason;
  for (const auto& [t, reason] : due) by_reason[reason].push_back(&t);
  for (const auto& [reason, targets] : by_reason) {
    std::vector<std::string> fingerprints;
    std::vector<audit::Event> events;
    for (const auto* t : targets) {
      fingerprints.push_back(t->fingerprint);
      authorities.push_back(t->authority);
      audit::Event e = event_for(*t, static_cast<RevocationReason>(reason), std::nullopt, system,
                                 Channel::kSystem, std::nullopt);
      e.details["scheduled"] = true;
      events.push_back(std::move(e));
    }
    CW_RETURN_IF_ERROR(inventory_.mark_revoked(*tx, fingerprints, {now, reason, std::nullopt}));
    CW_RETURN_IF_ERROR(audit_.append(*tx, events));
  }
  CW_RETURN_IF_ERROR(commit_and_release(tx));
  notify(authorities);
  return static_cast<std::int64_t>(due.size());
}

}  // namespace certward::ca
