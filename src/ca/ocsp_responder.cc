#include "ca/ocsp_responder.h"

#include <algorithm>
#include <array>

#include "common/log.h"
#include "common/thread_name.h"
#include "crypto/crypto.h"

namespace certward::ca {
namespace {

using x509::OcspCertStatus;
using x509::OcspHashAlgorithm;
using x509::OcspResponseStatus;

constexpr std::array kHashes = {OcspHashAlgorithm::kSha1, OcspHashAlgorithm::kSha256,
                                OcspHashAlgorithm::kSha384, OcspHashAlgorithm::kSha512};

// How far back each look for revocations reaches: they are timed by the clock of the replica
// that made them and become visible when they commit, a little later.
constexpr std::chrono::seconds kRevocationMargin{300};  // as the delta CRLs' overlap
// The most revocations one query of a look reads; a look reads on until it has seen them all.
constexpr std::size_t kRevocationPage = 10'000;

std::string cache_key(std::string_view authority, std::span<const std::uint8_t> serial) {
  std::string key(authority);
  key.push_back('\n');
  key.append(as_chars(serial));
  return key;
}

std::shared_ptr<const OcspReply> error_reply(OcspResponseStatus status) {
  auto reply = std::make_shared<OcspReply>();
  const Bytes der = x509::ocsp_error_response(status);
  reply->body.assign(as_chars(der));
  reply->status = status;
  return reply;
}

}  // namespace

struct OcspResponder::Signing {
  std::shared_ptr<const Authority> authority;
  // The delegated responder; empty when the authority signs itself.
  std::optional<x509::Certificate> responder;
  std::shared_ptr<const crypto::Signer> responder_key;
  std::optional<SysTime> renew_at;  // delegated only
};

struct OcspResponder::IssuerEntry {
  std::string authority;
  std::array<x509::OcspIssuerHashes, kHashes.size()> hashes;
};

OcspResponder::OcspResponder(const Clock& clock, AuthorityService& authorities, Enrollment& ra,
                             const inventory::Inventory& inventory,
                             const RevocationSettings& settings)
    : clock_(clock),
      authorities_(authorities),
      ra_(ra),
      inventory_(inventory),
      settings_(settings),
      limits_{.max_requests = settings.ocsp_max_requests, .max_nonce_size = 32},
      poll_page_(kRevocationPage) {}

OcspResponder::~OcspResponder() { stop(); }

Status OcspResponder::start() {
  CW_RETURN_IF_ERROR(reload_authorities());
  {
    common::MutexLock lock(mu_);
    polled_at_ = clock_.now();
    stopping_ = false;
  }
  thread_ = std::thread([this] {
    common::name_this_thread("ocsp-signer");
    run();
  });
  return ok();
}

void OcspResponder::stop() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OcspResponder::revoked(const std::string&) {
  // On the revoking thread, before the revocation is answered: once a client is told its
  // certificate is revoked, this replica no longer answers "good" for it.
  if (Status s = poll_revocations(); !s) {
    log::warn("ocsp_refresh_failed", {{"error", s.error().message}});
    {
      common::MutexLock lock(mu_);
      wake_ = true;  // the refresher tries again now
    }
    cv_.notify_all();
  }
}

std::size_t OcspResponder::cached() const {
  common::MutexLock lock(mu_);
  return cache_.size();
}

OcspResponder::AuthorityStatus OcspResponder::status(std::string_view authority) const {
  common::MutexLock lock(mu_);
  AuthorityStatus out;
  out.answered = std::ranges::any_of(
      issuers_, [&](const auto& issuer) { return issuer->authority == authority; });
  if (auto it = signing_.find(std::string(authority)); it != signing_.end()) {
    out.delegated = it->second->responder.has_value();
    out.responder = it->second->responder;
    out.responder_renew_at = it->second->renew_at;
  }
  out.revocations_seen_at = polled_at_;
  return out;
}

void OcspResponder::run() {
  for (;;) {
    {
      common::MutexLock lock(mu_);
      cv_.wait_for(mu_, settings_.refresh_interval,
                   [this]() CW_REQUIRES(mu_) { return stopping_ || wake_; });
      if (stopping_) return;
      wake_ = false;
    }
    if (Status s = refresh(); !s) {
      log::warn("ocsp_refresh_failed", {{"error", s.error().message}});
    }
  }
}

Status OcspResponder::reload_authorities() {
  CW_ASSIGN_OR_RETURN(auto all, authorities_.list());
  std::vector<std::shared_ptr<const IssuerEntry>> issuers;
  for (const auto& a : all) {
    if (a.status == "revoked") continue;
    auto entry = std::make_shared<IssuerEntry>();
    entry->authority = a.name;
    for (std::size_t i = 0; i < kHashes.size(); ++i) {
      entry->hashes[i] = x509::ocsp_issuer_hashes(a.certificate, kHashes[i]);
    }
    issuers.push_back(std::move(entry));
  }
  common::MutexLock lock(mu_);
  // An authority gone (revoked) takes its responses and its responder with it.
  std::erase_if(cache_, [&](const auto& kv) {
    const std::string_view name = std::string_view(kv.first).substr(0, kv.first.find('\n'));
    return std::none_of(issuers.begin(), issuers.end(),
                        [&](const auto& i) { return i->authority == name; });
  });
  std::erase_if(signing_, [&](const auto& kv) {
    return std::none_of(issuers.begin(), issuers.end(),
                        [&](const auto& i) { return i->authority == kv.first; });
  });
  issuers_ = std::move(issuers);
  return ok();
}

std::shared_ptr<const OcspResponder::IssuerEntry> OcspResponder::find_issuer(
    const x509::OcspCertId& id) const {
  common::MutexLock lock(mu_);
  for (const auto& issuer : issuers_) {
    for (const auto& h : issuer->hashes) {
      if (h.matches(id)) return issuer;
    }
  }
  return nullptr;
}

Result<std::shared_ptr<const OcspResponder::Signing>> OcspResponder::make_signing(
    const std::string& name) {
  CW_ASSIGN_OR_RETURN(auto authority, authorities_.load_for_status(name));
  auto signing = std::make_shared<Signing>();
  signing->authority = authority;
  const bool delegate = settings_.ocsp_signer == "delegated" &&
                        authority->info().kind != AuthorityKind::kRoot &&
                        authority->info().status == "active";
  if (!delegate) return std::shared_ptr<const Signing>(std::move(signing));

  EnrollmentRequest r;
  r.server_key = crypto::KeyType::kEcP256;
  r.profile = "ocsp-responder";
  r.authority = name;
  r.validity = settings_.ocsp_responder_validity;
  r.requester.actor = "system:ocsp";
  r.channel = Channel::kSystem;
  r.tags = {"ocsp-responder"};
  CW_ASSIGN_OR_RETURN(auto issued, ra_.enroll(std::move(r)));
  const auto& info = issued.certificate.info();
  signing->responder = issued.certificate;
  signing->responder_key = std::make_shared<crypto::SoftwareSigner>(
      std::make_shared<const crypto::PrivateKey>(std::move(*issued.private_key)));
  // Renewed with a third of its life left: longer than any response it signed is cached
  // (ocsp_validity, at most a third of the responder's validity).
  signing->renew_at = info.not_before + (info.not_after - info.not_before) * 2 / 3;
  log::info("ocsp_responder_issued", {{"authority", name},
                                      {"serial", info.serial_hex},
                                      {"not_after", format_time(info.not_after)}});
  return std::shared_ptr<const Signing>(std::move(signing));
}

Result<std::shared_ptr<const OcspResponder::Signing>> OcspResponder::signing_for(
    const IssuerEntry& issuer) {
  {
    common::MutexLock lock(mu_);
    if (auto it = signing_.find(issuer.authority); it != signing_.end()) return it->second;
  }
  common::MutexLock issuing(issuing_);
  {
    common::MutexLock lock(mu_);  // made while this one waited
    if (auto it = signing_.find(issuer.authority); it != signing_.end()) return it->second;
  }
  CW_ASSIGN_OR_RETURN(auto signing, make_signing(issuer.authority));
  common::MutexLock lock(mu_);
  signing_[issuer.authority] = signing;
  return signing;
}

Result<std::shared_ptr<const OcspReply>> OcspResponder::sign_answer(
    const IssuerEntry& issuer, const std::vector<x509::OcspCertId>& ids,
    const std::optional<Bytes>& nonce, FirstStatus* first) {
  CW_ASSIGN_OR_RETURN(auto signing, signing_for(issuer));
  const SysTime now = clock_.now();
  x509::OcspResponseTemplate t;
  t.produced_at = now;
  t.nonce = nonce;
  for (const auto& id : ids) {
    CW_ASSIGN_OR_RETURN(auto status, inventory_.serial_status(issuer.authority, id.serial_hex()));
    x509::OcspSingleResponse single;
    single.cert_id = id;
    single.this_update = now;
    single.next_update = now + settings_.ocsp_validity;
    if (!status) {
      single.status = OcspCertStatus::kUnknown;
    } else if (status->revocation) {
      single.status = OcspCertStatus::kRevoked;
      single.revocation_time = status->revocation->revoked_at;
      single.revocation_reason = x509::crl_reason_from_code(status->revocation->reason);
    }
    if (first && t.responses.empty()) {
      first->status = single.status;
      first->expired = status && status->not_after < now;
    }
    t.responses.push_back(std::move(single));
  }
  Result<Bytes> der = signing->responder
                          ? [&] {
                              t.responder = *signing->responder;
                              return x509::build_ocsp_response(t, *signing->responder_key);
                            }()
                          : signing->authority->sign_ocsp_response(t);
  if (!der) return std::unexpected(der.error());
  auto reply = std::make_shared<OcspReply>();
  reply->body.assign(as_chars(*der));
  // Nor may HTTP caches keep an "unknown": the serial may be issued the next moment.
  reply->cacheable = !nonce.has_value() &&
                     std::none_of(t.responses.begin(), t.responses.end(), [](const auto& single) {
                       return single.status == OcspCertStatus::kUnknown;
                     });
  reply->produced_at = now;
  reply->this_update = now;
  reply->next_update = now + settings_.ocsp_validity;
  const Bytes digest = crypto::sha256(*der);
  reply->etag = "\"" + to_hex(std::span(digest).first(16)) + "\"";
  return std::shared_ptr<const OcspReply>(std::move(reply));
}

std::shared_ptr<const OcspReply> OcspResponder::cached_answer(
    std::span<const std::uint8_t> der) const {
  auto request = x509::parse_ocsp_request(der, limits_);
  if (!request || request->cert_ids.size() != 1 || request->nonce) return nullptr;
  const x509::OcspCertId& id = request->cert_ids.front();
  if (id.hash != OcspHashAlgorithm::kSha1 || !id.hash_parameters_null) return nullptr;
  std::shared_ptr<const IssuerEntry> issuer = find_issuer(id);
  if (!issuer) return nullptr;
  const std::string key = cache_key(issuer->authority, id.serial);
  common::MutexLock lock(mu_);
  auto it = cache_.find(key);
  return it == cache_.end() ? nullptr : it->second.reply;
}

std::shared_ptr<const OcspReply> OcspResponder::answer(std::span<const std::uint8_t> der) {
  auto request = x509::parse_ocsp_request(der, limits_);
  if (!request) return error_reply(x509::ocsp_status_for(request.error().code));
  const auto& ids = request->cert_ids;
  std::shared_ptr<const IssuerEntry> issuer = find_issuer(ids.front());
  if (!issuer) return error_reply(OcspResponseStatus::kUnauthorized);
  // One response has one signer: CertIDs of several authorities are not answered together.
  for (std::size_t i = 1; i < ids.size(); ++i) {
    if (find_issuer(ids[i]) != issuer) return error_reply(OcspResponseStatus::kUnauthorized);
  }

  // RFC 5019's request: one SHA-1 CertID with NULL parameters, no nonce. Its answer is
  // cached in the form it is sent, so a hit is a lookup.
  const bool cacheable = ids.size() == 1 && !request->nonce &&
                         ids.front().hash == OcspHashAlgorithm::kSha1 &&
                         ids.front().hash_parameters_null;
  std::string key;
  std::uint64_t looks = 0;
  if (cacheable) {
    key = cache_key(issuer->authority, ids.front().serial);
    common::MutexLock lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return it->second.reply;
    looks = looks_;
  }

  FirstStatus first;
  auto reply = sign_answer(*issuer, ids, request->nonce, &first);
  if (before_caching_) before_caching_();
  if (!reply) {
    log::warn("ocsp_answer_failed",
              {{"authority", issuer->authority}, {"error", reply.error().message}});
    return error_reply(reply.error().code == ErrorCode::kUnavailable
                           ? OcspResponseStatus::kTryLater
                           : OcspResponseStatus::kInternalError);
  }
  // "unknown" is not kept: the serial may be issued by another replica the next moment. Nor
  // is the answer for a certificate that has expired: kept, such answers would fill the cache
  // over the months, signed again twice a day, until no new certificate's answer fitted.
  if (cacheable && first.status != OcspCertStatus::kUnknown && !first.expired) {
    common::MutexLock lock(mu_);
    // A look for revocations since the status was read may have found this certificate
    // revoked while it was not cached yet: this answer would then stay "good" until signed
    // again. Such an answer is sent, not kept.
    if (looks_ == looks && cache_.size() < settings_.ocsp_cache_entries) {
      cache_[key] =
          CacheEntry{*reply, first.status, (*reply)->this_update + settings_.ocsp_validity / 2};
    }
  }
  return *reply;
}

Status OcspResponder::resign(const std::string& key) {
  const auto nl = key.find('\n');
  const std::string authority = key.substr(0, nl);
  const auto serial = as_bytes(std::string_view(key).substr(nl + 1));
  std::shared_ptr<const IssuerEntry> issuer;
  {
    common::MutexLock lock(mu_);
    for (const auto& i : issuers_) {
      if (i->authority == authority) issuer = i;
    }
  }
  if (!issuer) return ok();  // gone meanwhile
  const x509::OcspCertId id = x509::ocsp_cert_id(issuer->hashes[0], serial);
  FirstStatus first;
  auto reply = sign_answer(*issuer, {id}, std::nullopt, &first);
  if (!reply) return std::unexpected(reply.error());
  common::MutexLock lock(mu_);
  if (first.status == OcspCertStatus::kUnknown || first.expired) {
    cache_.erase(key);
  } else {
    cache_[key] =
        CacheEntry{*reply, first.status, (*reply)->this_update + settings_.ocsp_validity / 2};
  }
  return ok();
}

Status OcspResponder::poll_revocations() {
  const SysTime now = clock_.now();
  SysTime since;
  {
    common::MutexLock lock(mu_);
    since = polled_at_.value_or(now) - kRevocationMargin;
  }
  // Page by page to the end: a page ending inside one second (a bulk revocation gives its
  // certificates one time) goes on from its last certificate, not from that second again.
  std::vector<std::string> stale;
  std::optional<inventory::RevokedRef> last;
  for (;;) {
    CW_ASSIGN_OR_RETURN(auto revoked,
                        inventory_.revoked_since(since, poll_page_, last ? &*last : nullptr));
    common::MutexLock lock(mu_);
    ++looks_;
    for (const auto& r : revoked) {
      drop_if_responder(r);
      auto serial = from_hex(r.serial);
      if (!serial) continue;
      auto it = cache_.find(cache_key(r.authority, *serial));
      if (it != cache_.end() && it->second.status != OcspCertStatus::kRevoked) {
        // Until it is signed again, the next request signs its own.
        stale.push_back(it->first);
        cache_.erase(it);
      }
    }
    if (revoked.size() < poll_page_) break;
    last = std::move(revoked.back());
  }
  {
    common::MutexLock lock(mu_);
    polled_at_ = now;
  }
  for (const auto& key : stale) CW_RETURN_IF_ERROR(resign(key));
  return ok();
}

void OcspResponder::drop_if_responder(const inventory::RevokedRef& r) {
  auto it = signing_.find(r.authority);
  if (it == signing_.end() || !it->second->responder ||
      it->second->responder->info().serial_hex != r.serial) {
    return;
  }
  // Someone revoked this process's responder certificate (its key is thought to be exposed,
  // or it was taken by a bulk revocation): it signs nothing more. The next answer for the
  // authority makes a new one, and what it signed is signed again.
  log::warn("ocsp_responder_revoked", {{"authority", r.authority}, {"serial", r.serial}});
  signing_.erase(it);
  for (auto& [key, entry] : cache_) {
    if (key.starts_with(r.authority + "\n")) entry.refresh_at = SysTime{};
  }
}

Status OcspResponder::refresh() {
  CW_RETURN_IF_ERROR(reload_authorities());
  CW_RETURN_IF_ERROR(poll_revocations());
  const SysTime now = clock_.now();

  // Delegated responders due for renewal: the new one signs everything again.
  std::vector<std::string> renew;
  {
    common::MutexLock lock(mu_);
    for (const auto& [name, signing] : signing_) {
      if (signing->renew_at && now >= *signing->renew_at) renew.push_back(name);
    }
  }
  // One authority that cannot get a new responder (it has expired, its key cannot be opened)
  // must not keep the others' responders and answers from being renewed: its error is
  // reported once everything else was done.
  Status first = ok();
  for (const auto& name : renew) {
    common::MutexLock issuing(issuing_);
    auto signing = make_signing(name);
    if (!signing) {
      log::warn("ocsp_responder_renewal_failed",
                {{"authority", name}, {"error", signing.error().message}});
      if (first) first = std::unexpected(signing.error());
      continue;
    }
    common::MutexLock lock(mu_);
    signing_[name] = *signing;
    for (auto& [key, entry] : cache_) {
      if (key.starts_with(name + "\n")) entry.refresh_at = now;
    }
  }

  std::vector<std::string> due;
  {
    common::MutexLock lock(mu_);
    for (const auto& [key, entry] : cache_) {
      if (now >= entry.refresh_at) due.push_back(key);
    }
  }
  for (const auto& key : due) {
    Status s = resign(key);
    if (s) continue;
    if (s.error().code == ErrorCode::kUnavailable) return s;  // nothing more can be signed
    if (first) first = std::move(s);
  }
  return first;
}

}  // namespace certward::ca
