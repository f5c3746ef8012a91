#include "ca/enrollment.h"

#include <algorithm>

#include "common/thread_name.h"
#include "x509/names.h"

namespace certward::ca {
namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// The key a server-side key type will be, for the checks made before it is generated.
crypto::KeyInfo key_info_of(crypto::KeyType t) {
  using crypto::KeyAlgorithm;
  using crypto::KeyType;
  switch (t) {
    case KeyType::kRsa2048:
      return {KeyAlgorithm::kRsa, 2048, ""};
    case KeyType::kRsa3072:
      return {KeyAlgorithm::kRsa, 3072, ""};
    case KeyType::kRsa4096:
      return {KeyAlgorithm::kRsa, 4096, ""};
    case KeyType::kEcP256:
      return {KeyAlgorithm::kEcdsa, 256, "P-256"};
    case KeyType::kEcP384:
      return {KeyAlgorithm::kEcdsa, 384, "P-384"};
    case KeyType::kEd25519:
      return {KeyAlgorithm::kEd25519, 256, ""};
    case KeyType::kRsaPss2048:
      return {KeyAlgorithm::kRsaPss, 2048, ""};
    case KeyType::kRsaPss3072:
      return {KeyAlgorithm::kRsaPss, 3072, ""};
    case KeyType::kRsaPss4096:
      return {KeyAlgorithm::kRsaPss, 4096, ""};
  }
  return {};
}

// The certificate as the RA has decided it, before any issuer made it: what policies judge
// before signing (the issuer and chain are judged after).
inventory::CertificateRecord would_be(const inventory::RecordMeta& meta, const Profile& p,
                                      const std::vector<x509::SubjectAltName>& sans,
                                      const std::string& common_name, SysTime now,
                                      std::chrono::seconds validity, const crypto::KeyInfo& key) {
  inventory::CertificateRecord r;
  r.common_name = common_name;
  r.sans = sans;
  r.not_before = now;
  r.not_after = now + validity;
  r.key_algorithm = std::string(crypto::key_algorithm_name(key.algorithm));
  r.key_bits = key.bits;
  r.key_curve = key.curve;
  r.is_ca = p.ca;
  r.extended_key_usage = p.extended_key_usage;
  r.meta = meta;
  return r;
}

// What policies read of a certificate an issuer made, and of its chain.
inventory::CertificateRecord as_record(const x509::Certificate& cert,
                                       const inventory::RecordMeta& meta) {
  const auto& i = cert.info();
  inventory::CertificateRecord r;
  r.fingerprint = i.sha256_hex;
  r.subject = i.subject;
  r.common_name = i.subject_cn;
  r.issuer = i.issuer;
  r.sans = i.sans;
  r.not_before = i.not_before;
  r.not_after = i.not_after;
  r.key_algorithm = std::string(crypto::key_algorithm_name(i.key.algorithm));
  r.key_bits = i.key.bits;
  r.key_curve = i.key.curve;
  r.signature_algorithm = i.signature_algorithm;
  r.is_ca = i.is_ca();
  r.extended_key_usage = i.extended_key_usage;
  r.meta = meta;
  return r;
}

// The request's own limits for a team-scoped requester: its profile, authority and team.
// Names are checked once they are known (authorise_names).
Status authorise_request(const Requester& who, const Scope& scope, const Profile& profile,
                         std::string_view authority, std::string_view default_authority,
                         const std::optional<std::string>& team) {
  if (profile.ca) {
    // A subordinate CA could mint certificates for any name that chains to our root.
    return fail(ErrorCode::kUnauthorized,
                who.actor + " may not issue CA certificates (profile '" + profile.name + "')");
  }
  if (!contains(scope.profiles, profile.name)) {
    return fail(ErrorCode::kUnauthorized,
                who.actor + " may not issue with profile '" + profile.name + "'");
  }
  const bool authority_allowed = scope.authorities.empty() ? authority == default_authority
                                                           : contains(scope.authorities, authority);
  if (!authority_allowed) {
    return fail(ErrorCode::kUnauthorized,
                who.actor + " may not issue from authority '" + std::string(authority) + "'");
  }
  if (team && team != who.team) {
    return fail(ErrorCode::kUnauthorized, who.actor + " issues only for its own team");
  }
  return ok();
}

Status authorise_names(const Requester& who, const Scope& scope,
                       std::span<const x509::SubjectAltName> sans) {
  for (const auto& san : sans) {
    std::string_view domain;
    if (san.type == x509::SanType::kDns)
      domain = san.value;
    else if (san.type == x509::SanType::kEmail)
      domain = std::string_view(san.value).substr(san.value.rfind('@') + 1);
    else
      return fail(ErrorCode::kUnauthorized, who.actor + " may request only DNS and email names");
    const bool allowed = std::any_of(scope.domains.begin(), scope.domains.end(),
                                     [&](const std::string& s) { return name_within(domain, s); });
    if (!allowed) {
      return fail(ErrorCode::kUnauthorized, who.actor + " may not request " +
                                                x509::format_san(san) + " (outside its domains)");
    }
  }
  return ok();
}

struct RequestedNames {
  std::vector<x509::SubjectAltName> sans;
  std::string common_name;  // empty: the subject carries none
};

// Every name the certificate will carry, each through the one syntax check (x509::check_san)
// whatever its source. The common name is a requested name like any other: clients that find
// no DNS name in the SANs match the CN instead (and services authorise clients by it), so for
// every non-CA profile whose subject carries it, it must also be one of the SANs, and it is
// added to them if it is not: every check a SAN passes, it passes.
Result<RequestedNames> requested_names(const EnrollmentRequest& r, const Profile& p) {
  RequestedNames out;
  auto add = [&](const x509::SubjectAltName& san) {
    if (std::find(out.sans.begin(), out.sans.end(), san) == out.sans.end()) out.sans.push_back(san);
  };
  const auto& given = r.sans.empty() && r.csr ? r.csr->info().sans : r.sans;
  for (const auto& san : given) {
    CW_ASSIGN_OR_RETURN(auto checked, x509::check_san(san));
    add(checked);
  }
  if (p.subject_template.find("{cn}") == std::string::npos) return out;
  std::string cn = r.common_name.value_or("");
  if (cn.empty() && r.csr) cn = r.csr->info().subject_cn;
  if (cn.empty()) {
    if (!out.sans.empty()) out.common_name = out.sans.front().value;
    return out;
  }
  if (p.ca) {
    out.common_name = cn;
    return out;
  }
  const auto same = std::find_if(out.sans.begin(), out.sans.end(),
                                 [&](const x509::SubjectAltName& s) { return s.value == cn; });
  if (same != out.sans.end()) {
    out.common_name = same->value;
    return out;
  }
  auto as_name = x509::parse_san(cn);
  if (!as_name) {
    return fail(ErrorCode::kMalformed,
                "common name '" + x509::escape_name_text(cn) +
                    "' is not a DNS name, IP address, email address or URI: the common name "
                    "must be one of the certificate's names (" +
                    as_name.error().message + ")");
  }
  out.common_name = as_name->value;
  if (std::find(out.sans.begin(), out.sans.end(), *as_name) == out.sans.end()) {
    out.sans.insert(out.sans.begin(), *as_name);
  }
  return out;
}

// RFC 4514 escaping for a value placed into the subject template.
std::string escape_dn_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' ||
        c == '=' || c == '/') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

Result<crypto::X509NamePtr> make_subject(const EnrollmentRequest& r, const Profile& p,
                                         std::string_view cn) {
  if (r.subject) {
    if (!p.ca) {
      return fail(ErrorCode::kInvalidArgument,
                  "an explicit subject is only accepted for CA profiles; profile '" + p.name +
                      "' derives it from its template");
    }
    return x509::parse_name(*r.subject);
  }
  std::string subject = p.subject_template;
  if (auto pos = subject.find("{cn}"); pos != std::string::npos) {
    if (cn.empty()) {
      return fail(ErrorCode::kInvalidArgument,
                  "the request names nothing: give a common name or a subject alternative name");
    }
    subject.replace(pos, 4, escape_dn_value(cn));
  }
  return x509::parse_name(subject);
}

}  // namespace

std::string_view channel_name(Channel c) {
  switch (c) {
    case Channel::kCli:
      return "cli";
    case Channel::kRest:
      return "rest";
    case Channel::kAcme:
      return "acme";
    case Channel::kEst:
      return "est";
    case Channel::kScep:
      return "scep";
    case Channel::kCmp:
      return "cmp";
    case Channel::kRenewal:
      return "renewal";
    case Channel::kDashboard:
      return "dashboard";
    case Channel::kSystem:
      return "system";
    case Channel::kSsh:
      return "ssh";
  }
  return "cli";
}

struct Enrollment::Pending {
  x509::Certificate certificate;
  inventory::RecordMeta meta;
  audit::Event event;
  InTransaction in_transaction;
  const crypto::PrivateKey* key = nullptr;
  std::promise<Status> done;
};

Enrollment::Enrollment(const Clock& clock, store::Database& db, IssuerDirectory& issuers,
                       const ProfileSet& profiles, const inventory::Inventory& inventory,
                       const audit::AuditLog& audit, EnrollmentOptions options)
    : clock_(clock),
      db_(db),
      issuers_(issuers),
      profiles_(profiles),
      inventory_(inventory),
      audit_(audit),
      options_(options) {
  writer_ = std::thread([this] {
    common::name_this_thread("ra-writer");
    writer_loop();
  });
}

Enrollment::~Enrollment() {
  {
    common::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

Enrollment::Stats Enrollment::stats() const {
  common::MutexLock lock(mu_);
  Stats out = stats_;
  out.waiting = queue_.size();
  return out;
}

Result<IssuedCertificate> Enrollment::enroll(EnrollmentRequest request) {
  return enroll_with(std::move(request), nullptr);
}

Result<Enrollment::Admitted> Enrollment::admit(const EnrollmentRequest& request,
                                               ApprovalGate gate) const {
  CW_ASSIGN_OR_RETURN(const Profile* profile, profiles_.find(request.profile));
  if (profile->internal && request.channel != Channel::kSystem) {
    return fail(ErrorCode::kUnauthorized,
                "profile '" + profile->name + "' is certward's own: no requester may use it");
  }
  if (profile->requires_approval && gate != ApprovalGate::kGranted) {
    return fail(ErrorCode::kPolicyRejected,
                "profile '" + profile->name +
                    "' requires approval: make one request through the REST API or `certward "
                    "issue`, which hold it for an approver");
  }
  const std::string& default_issuer = issuers_.default_issuer();
  // A profile that lists its issuers decides where its certificates come from: a requester
  // granted the profile is granted its issuers, in the profile's order. Naming an authority
  // instead is held to the requester's grant like any other.
  const bool profile_decides = !request.authority && !profile->issuers.empty();
  const std::string issuer_name =
      profile_decides ? profile->issuers.front() : request.authority.value_or(default_issuer);
  if (const auto& scope = request.requester.scope) {
    CW_RETURN_IF_ERROR(authorise_request(request.requester, *scope, *profile,
                                         profile_decides ? default_issuer : issuer_name,
                                         default_issuer, request.team));
  }
  if (profile_decides) {
    CW_ASSIGN_OR_RETURN(auto issuer, issuers_.issuer_list(profile->issuers, profile->name));
    return Admitted{profile, std::move(issuer)};
  }
  CW_ASSIGN_OR_RETURN(auto issuer, issuers_.issuer(issuer_name));
  return Admitted{profile, std::move(issuer)};
}

Status Enrollment::check(const EnrollmentRequest& request) const {
  return check_with(request, ApprovalGate::kRefuse);
}

Status Enrollment::check_with(const EnrollmentRequest& request, ApprovalGate gate) const {
  CW_ASSIGN_OR_RETURN(auto admitted, admit(request, gate));
  const Profile* profile = admitted.profile;
  CW_ASSIGN_OR_RETURN(
      auto meta, inventory::normalize_meta({inventory::Origin::kIssued, admitted.issuer->name(),
                                            profile->name, request.owner,
                                            request.team ? request.team : request.requester.team,
                                            request.tags}));
  CW_ASSIGN_OR_RETURN(RequestedNames names, requested_names(request, *profile));
  if (request.requester.scope) {
    CW_RETURN_IF_ERROR(authorise_names(request.requester, *request.requester.scope, names.sans));
  }
  CW_RETURN_IF_ERROR(profile->check_names(names.sans));
  if (request.server_key && std::find(profile->key_types.begin(), profile->key_types.end(),
                                      *request.server_key) == profile->key_types.end()) {
    return fail(ErrorCode::kPolicyRejected,
                "profile '" + profile->name + "' does not allow key type " +
                    std::string(crypto::key_type_name(*request.server_key)));
  }
  if (request.csr || request.public_key) {
    const crypto::KeyInfo key =
        crypto::describe_key(request.csr ? request.csr->public_key() : request.public_key.get());
    if (!profile->allows_key(key)) {
      return fail(ErrorCode::kPolicyRejected,
                  "profile '" + profile->name + "' does not allow " + key.name() + " keys");
    }
  }
  if (!profile->ca && (request.path_length || request.name_constraints)) {
    return fail(ErrorCode::kInvalidArgument,
                "path length and name constraints are for CA profiles");
  }
  if (request.subject && !profile->ca) {
    return fail(ErrorCode::kInvalidArgument,
                "an explicit subject is only accepted for CA profiles; profile '" + profile->name +
                    "' derives it from its template");
  }
  if (request.validity && request.validity->count() <= 0) {
    return fail(ErrorCode::kInvalidArgument, "validity must be positive");
  }
  if (request.validity && *request.validity > profile->max_validity) {
    return fail(ErrorCode::kPolicyRejected,
                "requested validity " + format_duration(*request.validity) + " exceeds profile '" +
                    profile->name + "' maximum of " + format_duration(profile->max_validity));
  }
  if (policy_ && (request.csr || request.server_key || request.public_key)) {
    const crypto::KeyInfo key = request.server_key
                                    ? key_info_of(*request.server_key)
                                    : crypto::describe_key(request.csr ? request.csr->public_key()
                                                                       : request.public_key.get());
    CW_RETURN_IF_ERROR(policy_->check_issuance(
        would_be(meta, *profile, names.sans, names.common_name, clock_.now(),
                 request.validity.value_or(profile->default_validity), key),
        policy::Stage::kBeforeSigning));
  }
  return ok();
}

Result<IssuedCertificate> Enrollment::enroll_with(EnrollmentRequest request,
                                                  InTransaction in_transaction, ApprovalGate gate) {
  if (int(request.csr.has_value()) + int(request.server_key.has_value()) +
          int(request.public_key != nullptr) !=
      1) {
    return fail(ErrorCode::kInvalidArgument,
                "give exactly one of a CSR and a server-side key type");
  }
  CW_ASSIGN_OR_RETURN(auto admitted, admit(request, gate));
  const Profile* profile = admitted.profile;
  const auto& issuer = admitted.issuer;

  // Labels are checked before anything is signed: a refused request leaves no certificate.
  CW_ASSIGN_OR_RETURN(auto meta,
                      inventory::normalize_meta(
                          {inventory::Origin::kIssued, issuer->name(), profile->name, request.owner,
                           request.team ? request.team : request.requester.team, request.tags}));
  meta.channel = std::string(channel_name(request.channel));
  std::optional<crypto::PrivateKey> key;
  CW_ASSIGN_OR_RETURN(IssuedChain made,
                      decide_and_issue(request, *profile, *issuer, meta, key));
  // Recorded as made: by whichever issuer of a failover list did, and an upstream CA's
  // certificate as upstream (only that CA can revoke it).
  if (!made.issued_by.empty()) meta.authority = made.issued_by;
  if (made.upstream) meta.origin = inventory::Origin::kUpstream;
  if (policy_) {
    // The issuer and its chain are known now: the certificate is refused before it is stored
    // or returned, so no one ever holds it.
    std::vector<inventory::CertificateRecord> chain;
    for (const auto& c : made.chain) chain.push_back(as_record(c, {}));
    CW_RETURN_IF_ERROR(policy_->check_issuance(as_record(made.certificate, meta),
                                               policy::Stage::kAfterSigning, chain));
  }

  IssuedCertificate issued;
  issued.certificate = std::move(made.certificate);
  issued.chain = std::move(made.chain);
  issued.authority = meta.authority.value_or(issuer->name());
  issued.profile = profile->name;
  auto pending = std::make_shared<Pending>();
  pending->certificate = issued.certificate;
  pending->meta = std::move(meta);
  const auto& info = issued.certificate.info();
  nlohmann::json sans = nlohmann::json::array();
  for (const auto& s : info.sans) sans.push_back(x509::format_san(s));
  pending->event = {request.requester.actor,
                    "certificate.issue",
                    "certificate",
                    info.sha256_hex,
                    {{"serial", info.serial_hex},
                     {"subject", info.subject},
                     {"sans", sans},
                     {"profile", profile->name},
                     {"authority", issued.authority},
                     {"origin", inventory::origin_name(pending->meta.origin)},
                     {"channel", channel_name(request.channel)},
                     {"not_after", format_time(info.not_after)},
                     {"key", info.key.name()},
                     {"key_generated_by_server", key.has_value()}}};
  pending->in_transaction = std::move(in_transaction);
  pending->key = key ? &*key : nullptr;
  CW_RETURN_IF_ERROR(store_durably(pending));
  if (observer_) observer_(issued, request.channel);
  issued.private_key = std::move(key);
  return issued;
}

Result<IssuedChain> Enrollment::decide_and_issue(EnrollmentRequest& r, const Profile& p,
                                                 const Issuer& issuer,
                                                 const inventory::RecordMeta& meta,
                                                 std::optional<crypto::PrivateKey>& key) {
  // Names first: a refused request costs no key generation.
  CW_ASSIGN_OR_RETURN(RequestedNames names, requested_names(r, p));
  if (r.requester.scope) {
    CW_RETURN_IF_ERROR(authorise_names(r.requester, *r.requester.scope, names.sans));
  }
  CW_RETURN_IF_ERROR(p.check_names(names.sans));
  if (!p.ca && (r.path_length || r.name_constraints)) {
    return fail(ErrorCode::kInvalidArgument,
                "path length and name constraints are for CA profiles");
  }

  // Validity: the profile's default unless asked.
  const std::chrono::seconds validity = r.validity.value_or(p.default_validity);
  if (validity.count() <= 0) return fail(ErrorCode::kInvalidArgument, "validity must be positive");
  if (validity > p.max_validity) {
    return fail(ErrorCode::kPolicyRejected, "requested validity " + format_duration(validity) +
                                                " exceeds profile '" + p.name + "' maximum of " +
                                                format_duration(p.max_validity));
  }

  // Subject key.
  const EVP_PKEY* public_key = nullptr;
  const SysTime now = clock_.now();
  if (r.server_key) {
    if (std::find(p.key_types.begin(), p.key_types.end(), *r.server_key) == p.key_types.end()) {
      return fail(ErrorCode::kPolicyRejected,
                  "profile '" + p.name + "' does not allow key type " +
                      std::string(crypto::key_type_name(*r.server_key)));
    }
    // Policies first: a refused request costs no key generation.
    if (policy_) {
      CW_RETURN_IF_ERROR(policy_->check_issuance(
          would_be(meta, p, names.sans, names.common_name, now, validity,
                   key_info_of(*r.server_key)),
          policy::Stage::kBeforeSigning));
    }
    CW_ASSIGN_OR_RETURN(key, crypto::generate_key(*r.server_key));
    public_key = key->get();
  } else if (r.csr) {
    public_key = r.csr->public_key();
  } else {
    public_key = r.public_key.get();
  }
  const crypto::KeyInfo key_info = crypto::describe_key(public_key);
  if (!p.allows_key(key_info)) {
    return fail(ErrorCode::kPolicyRejected,
                "profile '" + p.name + "' does not allow " + key_info.name() + " keys");
  }
  if (policy_ && !r.server_key) {
    CW_RETURN_IF_ERROR(policy_->check_issuance(
        would_be(meta, p, names.sans, names.common_name, now, validity, key_info),
        policy::Stage::kBeforeSigning));
  }

  CW_ASSIGN_OR_RETURN(auto subject, make_subject(r, p, names.common_name));
  Order order;
  order.profile = p.name;
  order.subject = subject.get();
  order.sans = std::move(names.sans);
  order.public_key = public_key;
  if (r.csr) {
    order.public_key_info = X509_REQ_get_X509_PUBKEY(r.csr->get());
    order.csr = &*r.csr;
  }
  if (key) order.private_key = &*key;
  order.now = now;
  order.validity = validity;
  order.max_validity = p.max_validity;
  order.key_usage = p.key_usage_for(key_info);
  order.extended_key_usage = p.extended_key_usage;
  order.policy_oids = p.policy_oids;
  order.require_san = p.require_san;
  order.ocsp_nocheck = p.ocsp_nocheck;
  if (p.ca) {
    order.is_ca = true;
    order.path_length = r.path_length ? r.path_length : p.path_length;
    order.requested_path_length = r.path_length;
    order.name_constraints = r.name_constraints;
  }
  return issuer.issue(order);
}

Status Enrollment::store_durably(std::shared_ptr<Pending> pending) {
  std::future<Status> done = pending->done.get_future();
  {
    common::MutexLock lock(mu_);
    if (stopping_) return fail(ErrorCode::kUnavailable, "enrollment service is stopping");
    queue_.push_back(std::move(pending));
  }
  cv_.notify_one();
  return done.get();
}

void Enrollment::writer_loop() {
  for (;;) {
    std::vector<std::shared_ptr<Pending>> batch;
    {
      common::MutexLock lock(mu_);
      cv_.wait(mu_, [this]() CW_REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    store_batch(std::move(batch));
  }
}

void Enrollment::store_batch(std::vector<std::shared_ptr<Pending>> batch) {
  for (;;) {
    auto committed = commit_batch(batch);
    if (!committed && committed.error().entry) {
      // One bad entry must not fail its neighbours: it fails alone, the rest go again
      // together (a new transaction: the failed one is rolled back whole).
      const std::size_t bad = *committed.error().entry;
      batch[bad]->done.set_value(std::unexpected(std::move(committed.error().error)));
      batch.erase(batch.begin() + static_cast<std::ptrdiff_t>(bad));
      if (batch.empty()) return;
      continue;
    }
    if (committed) {
      common::MutexLock lock(mu_);
      stats_.commits += 1;
      stats_.certificates += batch.size();
    }
    const Status status =
        committed ? ok() : Status(std::unexpected(std::move(committed.error().error)));
    for (auto& p : batch) p->done.set_value(status);
    return;
  }
}

std::expected<void, Enrollment::BatchFailure> Enrollment::commit_batch(
    const std::vector<std::shared_ptr<Pending>>& batch) {
  auto whole = [](Error e) { return std::unexpected(BatchFailure{std::move(e), std::nullopt}); };
  // A database that is unavailable fails every entry alike: that is the batch's failure.
  auto entry = [&](Error e, std::size_t i) {
    if (e.code == ErrorCode::kUnavailable) return whole(std::move(e));
    return std::unexpected(BatchFailure{std::move(e), i});
  };
  auto tx = db_.begin(store::TxMode::kWrite);
  if (!tx) return whole(std::move(tx).error());
  std::vector<audit::Event> events;
  events.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const Pending& p = *batch[i];
    auto inserted = inventory_.record(**tx, p.certificate, p.meta);
    if (!inserted) return entry(std::move(inserted).error(), i);
    if (!*inserted) {
      return entry(Error{ErrorCode::kConflict, "certificate " + p.certificate.info().sha256_hex +
                                                   " is already in the inventory"},
                   i);
    }
    if (p.in_transaction) {
      if (Status s = p.in_transaction(**tx, p.certificate, p.key); !s) {
        return entry(std::move(s).error(), i);
      }
    }
    events.push_back(p.event);
  }
  if (Status s = audit_.append(**tx, events); !s) return whole(std::move(s).error());
  if (Status s = (*tx)->commit(); !s) return whole(std::move(s).error());
  return {};
}

Status check_grant(const ProfileSet& profiles, const AuthorityService& authorities,
                   std::span<const std::string> profile_names,
                   std::span<const std::string> authority_names) {
  for (const auto& name : profile_names) {
    auto p = profiles.find(name);
    if (!p) return fail(ErrorCode::kInvalidArgument, p.error().message);
    if ((*p)->ca) {
      return fail(ErrorCode::kInvalidArgument,
                  "profile '" + name + "' issues CA certificates and cannot be granted to a team");
    }
    if ((*p)->internal) {
      return fail(ErrorCode::kInvalidArgument,
                  "profile '" + name + "' is certward's own and cannot be granted to a team");
    }
  }
  for (const auto& name : authority_names) {
    auto a = authorities.info(name);
    if (!a) {
      if (a.error().code != ErrorCode::kNotFound) return std::unexpected(a.error());
      return fail(ErrorCode::kInvalidArgument, a.error().message);
    }
    if (a->kind == AuthorityKind::kRoot) {
      return fail(ErrorCode::kInvalidArgument,
                  "authority '" + name + "' is a root, which signs only CA certificates");
    }
  }
  return ok();
}

Result<AuthorityInfo> create_subordinate(Enrollment& ra, AuthorityService& authorities,
                                         const SubordinateOptions& o, const Requester& requester) {
  CW_RETURN_IF_ERROR(authorities.check_new_name(o.name));
  if (o.kind == AuthorityKind::kRoot) {
    return fail(ErrorCode::kInvalidArgument, "a subordinate is an intermediate or issuing CA");
  }
  EnrollmentRequest r;
  r.server_key = o.key_type;
  r.profile = "intermediate-ca";
  r.authority = o.parent;
  r.validity = o.validity;
  r.requester = requester;
  r.channel = o.channel;
  r.subject = o.subject;
  r.path_length = o.path_length;
  if (!r.path_length && o.kind == AuthorityKind::kIssuing) r.path_length = 0;
  if (!r.path_length && o.kind == AuthorityKind::kIntermediate) {
    // An intermediate exists to sign CAs: as much room as its parent leaves, else one level.
    CW_ASSIGN_OR_RETURN(auto parent, authorities.info(o.parent));
    const auto& bc = parent.certificate.info().basic_constraints;
    r.path_length = bc && bc->path_length ? std::max(*bc->path_length - 1, 0) : 1;
  }
  r.name_constraints = o.name_constraints;
  r.tags = {"ca"};
  std::optional<AuthorityInfo> parent_info;
  CW_ASSIGN_OR_RETURN(parent_info, authorities.info(o.parent));
  std::optional<TokenKey> token_key;
  if (o.token_key) {
    // The whole request is checked before a key is made in the token, so that none is left
    // there for a request the RA refuses anyway; then the token's key replaces the one the RA
    // would have generated.
    CW_RETURN_IF_ERROR(ra.check(r));
    CW_ASSIGN_OR_RETURN(token_key, authorities.prepare_token_key(*o.token_key, o.name, o.key_type));
    EVP_PKEY* pub = const_cast<EVP_PKEY*>(token_key->signer->public_key());
    r.server_key.reset();
    r.public_key = std::shared_ptr<EVP_PKEY>(crypto::up_ref(pub).release(), EVP_PKEY_free);
  }
  auto store_authority = [&](store::Transaction& tx, const x509::Certificate& cert,
                             const crypto::PrivateKey* key) -> Status {
    if (token_key) {
      return authorities.insert_subordinate(tx, o.name, o.kind, *parent_info, cert, *token_key,
                                            requester.actor);
    }
    if (!key) return fail(ErrorCode::kInternal, "subordinate key missing");
    return authorities.insert_subordinate(tx, o.name, o.kind, *parent_info, cert, *key,
                                          requester.actor);
  };
  auto issued = ra.enroll_with(std::move(r), store_authority);
  if (!issued) {
    if (token_key) authorities.discard_token_key(*token_key);
    return std::unexpected(issued.error());
  }
  return authorities.info(o.name);
}

}  // namespace certward::ca
