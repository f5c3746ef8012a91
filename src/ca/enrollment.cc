#include "ca/enrollment.h"

#include <algorithm>

#include "x509/names.h"

namespace certward::ca {
namespace {

constexpr std::chrono::seconds kBackdate{300};

Status authorise(const Requester& who, const Profile& profile,
                 std::span<const x509::SubjectAltName> sans) {
  if (who.allowed_profiles && std::find(who.allowed_profiles->begin(), who.allowed_profiles->end(),
                                        profile.name) == who.allowed_profiles->end()) {
    return fail(ErrorCode::kUnauthorized,
                who.actor + " may not issue with profile '" + profile.name + "'");
  }
  if (!who.allowed_domains) return ok();
  for (const auto& san : sans) {
    std::string_view domain;
    if (san.type == x509::SanType::kDns)
      domain = san.value;
    else if (san.type == x509::SanType::kEmail)
      domain = std::string_view(san.value).substr(san.value.rfind('@') + 1);
    else
      return fail(ErrorCode::kUnauthorized, who.actor + " may request only DNS and email names");
    const bool allowed = std::any_of(who.allowed_domains->begin(), who.allowed_domains->end(),
                                     [&](const std::string& s) { return name_within(domain, s); });
    if (!allowed) {
      return fail(ErrorCode::kUnauthorized, who.actor + " may not request " +
                                                x509::format_san(san) + " (outside its domains)");
    }
  }
  return ok();
}

// Whether `san` satisfies one name-constraints entry ("DNS:x", "IP:a/n", "email:x", "URI:x").
bool constraint_matches(const x509::SubjectAltName& san, const std::string& entry) {
  const auto colon = entry.find(':');
  if (colon == std::string::npos) return false;
  const std::string type = entry.substr(0, colon);
  const std::string value = entry.substr(colon + 1);
  switch (san.type) {
    case x509::SanType::kDns:
      return type == "DNS" &&
             name_within(san.value, value.starts_with(".") ? value.substr(1) : value);
    case x509::SanType::kEmail: {
      if (type != "email") return false;
      if (value.find('@') != std::string::npos) return san.value == value;
      const std::string host = san.value.substr(san.value.rfind('@') + 1);
      return name_within(host, value.starts_with(".") ? value.substr(1) : value);
    }
    case x509::SanType::kIp: {
      if (type != "IP") return false;
      auto range = parse_ip_range(value);
      auto addr = parse_ip_range(san.value);
      return range && addr && range->contains(addr->network);
    }
    case x509::SanType::kUri: {
      if (type != "URI") return false;
      const auto start = san.value.find("://");
      if (start == std::string::npos) return false;
      std::string host = san.value.substr(start + 3);
      host = host.substr(0, host.find_first_of("/:?#"));
      return name_within(host, value.starts_with(".") ? value.substr(1) : value);
    }
    case x509::SanType::kOther:
      return false;
  }
  return false;
}

bool constrains_type(const std::vector<std::string>& entries, const x509::SubjectAltName& san) {
  const char* type = san.type == x509::SanType::kDns     ? "DNS:"
                     : san.type == x509::SanType::kEmail ? "email:"
                     : san.type == x509::SanType::kIp    ? "IP:"
                                                         : "URI:";
  return std::any_of(entries.begin(), entries.end(),
                     [&](const std::string& e) { return e.starts_with(type); });
}

// RFC 5280 4.2.1.10: a name outside any CA's constraints on the path would be rejected by
// every relying party, so the RA refuses to issue it rather than sign a useless certificate.
Status check_path_constraints(const Authority& authority,
                              std::span<const x509::SubjectAltName> sans) {
  std::vector<const x509::CertificateInfo*> path = {&authority.certificate().info()};
  for (const auto& c : authority.chain()) path.push_back(&c.info());
  for (const auto* ca : path) {
    if (!ca->name_constraints) continue;
    const auto& nc = *ca->name_constraints;
    for (const auto& san : sans) {
      for (const auto& e : nc.excluded) {
        if (constraint_matches(san, e)) {
          return fail(
              ErrorCode::kPolicyRejected,
              x509::format_san(san) + " is excluded by the name constraints of " + ca->subject);
        }
      }
      if (constrains_type(nc.permitted, san) &&
          std::none_of(nc.permitted.begin(), nc.permitted.end(),
                       [&](const std::string& e) { return constraint_matches(san, e); })) {
        return fail(ErrorCode::kPolicyRejected,
                    x509::format_san(san) + " is outside the name constraints of " + ca->subject);
      }
    }
  }
  return ok();
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
  }
  return "cli";
}

struct Enrollment::Pending {
  x509::Certificate certificate;
  inventory::RecordMeta meta;
  audit::Event event;
  std::function<Status(store::Transaction&, const x509::Certificate&, const crypto::PrivateKey*)>
      in_transaction;
  const crypto::PrivateKey* key = nullptr;
  std::promise<Status> done;
};

Enrollment::Enrollment(const Clock& clock, store::Database& db, AuthorityService& authorities,
                       const ProfileSet& profiles, const inventory::Inventory& inventory,
                       const audit::AuditLog& audit, EnrollmentOptions options)
    : clock_(clock),
      db_(db),
      authorities_(authorities),
      profiles_(profiles),
      inventory_(inventory),
      audit_(audit),
      options_(options) {
  writer_ = std::thread([this] { writer_loop(); });
}

Enrollment::~Enrollment() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  writer_.join();
}

Enrollment::Stats Enrollment::stats() const {
  std::lock_guard lock(mu_);
  Stats out = stats_;
  out.waiting = queue_.size();
  return out;
}

Result<IssuedCertificate> Enrollment::enroll(EnrollmentRequest request) {
  if (request.csr.has_value() == request.server_key.has_value()) {
    return fail(ErrorCode::kInvalidArgument,
                "give exactly one of a CSR and a server-side key type");
  }
  CW_ASSIGN_OR_RETURN(const Profile* profile, profiles_.find(request.profile));
  if (profile->requires_approval) {
    return fail(
        ErrorCode::kPolicyRejected,
        "profile '" + profile->name + "' requires approval, which this channel cannot grant");
  }
  const std::string authority_name =
      request.authority.value_or(authorities_.settings().default_authority);
  CW_ASSIGN_OR_RETURN(auto authority, authorities_.load(authority_name));

  // Labels are checked before anything is signed: a refused request leaves no certificate.
  CW_ASSIGN_OR_RETURN(
      auto meta, inventory::normalize_meta(
                     {inventory::Origin::kIssued, authority->name(), profile->name, request.owner,
                      request.team ? request.team : request.requester.team, request.tags}));
  std::optional<crypto::PrivateKey> key;
  CW_ASSIGN_OR_RETURN(IssuedCertificate issued, sign(request, *profile, *authority, key));

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
                     {"authority", authority->name()},
                     {"channel", channel_name(request.channel)},
                     {"not_after", format_time(info.not_after)},
                     {"key", info.key.name()},
                     {"key_generated_by_server", key.has_value()}}};
  pending->in_transaction = std::move(request.in_transaction);
  pending->key = key ? &*key : nullptr;
  CW_RETURN_IF_ERROR(store_durably(pending));
  issued.private_key = std::move(key);
  return issued;
}

Result<IssuedCertificate> Enrollment::sign(EnrollmentRequest& r, const Profile& p,
                                           const Authority& authority,
                                           std::optional<crypto::PrivateKey>& key) {
  const x509::CertificateInfo& issuer = authority.certificate().info();
  if (!p.ca && authority.info().kind == AuthorityKind::kRoot) {
    return fail(ErrorCode::kPolicyRejected,
                "root authority '" + authority.name() + "' signs only CA certificates");
  }
  // Subject key.
  const EVP_PKEY* public_key = nullptr;
  if (r.server_key) {
    if (std::find(p.key_types.begin(), p.key_types.end(), *r.server_key) == p.key_types.end()) {
      return fail(ErrorCode::kPolicyRejected,
                  "profile '" + p.name + "' does not allow key type " +
                      std::string(crypto::key_type_name(*r.server_key)));
    }
    CW_ASSIGN_OR_RETURN(key, crypto::generate_key(*r.server_key));
    public_key = key->get();
  } else {
    public_key = r.csr->public_key();
  }
  const crypto::KeyInfo key_info = crypto::describe_key(public_key);
  if (!p.allows_key(key_info)) {
    return fail(ErrorCode::kPolicyRejected,
                "profile '" + p.name + "' does not allow " + key_info.name() + " keys");
  }

  // Names.
  std::vector<x509::SubjectAltName> sans = r.sans;
  std::string cn = r.common_name.value_or("");
  if (r.csr) {
    if (sans.empty()) sans = r.csr->info().sans;
    if (cn.empty()) cn = r.csr->info().subject_cn;
  }
  if (!cn.empty() && p.require_san &&
      std::none_of(sans.begin(), sans.end(), [&](const auto& s) { return s.value == cn; })) {
    // The CN of a TLS-style certificate must also be one of its SANs (CA/B BR 7.1.4.2.2).
    CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(cn));
    sans.insert(sans.begin(), san);
  }
  if (cn.empty() && !sans.empty()) cn = sans.front().value;
  CW_RETURN_IF_ERROR(authorise(r.requester, p, sans));
  CW_RETURN_IF_ERROR(p.check_names(sans));
  CW_RETURN_IF_ERROR(check_path_constraints(authority, sans));

  // Validity: the profile's default unless asked; never past the issuer's own notAfter.
  const std::chrono::seconds validity = r.validity.value_or(p.default_validity);
  if (validity.count() <= 0) return fail(ErrorCode::kInvalidArgument, "validity must be positive");
  if (validity > p.max_validity) {
    return fail(ErrorCode::kPolicyRejected, "requested validity " + format_duration(validity) +
                                                " exceeds profile '" + p.name + "' maximum of " +
                                                format_duration(p.max_validity));
  }
  const SysTime now = clock_.now();
  x509::CertificateTemplate t;
  CW_ASSIGN_OR_RETURN(t.subject, make_subject(r, p, cn));
  t.sans = std::move(sans);
  t.public_key = public_key;
  // The CSR's decoded SubjectPublicKeyInfo: build_tbs copies it rather than re-encoding the
  // key (on OpenSSL 3.0 an encoder plus a decoder context per certificate).
  if (r.csr) t.public_key_info = X509_REQ_get_X509_PUBKEY(r.csr->get());
  t.serial = x509::random_serial();
  t.not_before = now - kBackdate;
  t.not_after = std::min(t.not_before + validity, issuer.not_after);
  if (t.not_after <= now) {
    return fail(ErrorCode::kPolicyRejected, "authority '" + authority.name() + "' has expired");
  }
  t.key_usage = p.key_usage_for(key_info);
  t.extended_key_usage = p.extended_key_usage;
  t.policy_oids = p.policy_oids;
  const DistributionUrls urls = distribution_urls(authorities_.settings(), authority.name());
  t.crl_urls = urls.crl;
  t.ocsp_urls = urls.ocsp;
  t.ca_issuers_urls = urls.ca_issuers;
  if (p.ca) {
    t.is_ca = true;
    t.path_length = r.path_length ? r.path_length : p.path_length;
    t.name_constraints = r.name_constraints;
    const auto& issuer_bc = issuer.basic_constraints;
    if (issuer_bc && issuer_bc->path_length) {
      const int room = *issuer_bc->path_length - 1;  // CAs allowed below the new one
      if (room < 0) {
        return fail(ErrorCode::kPolicyRejected,
                    "authority '" + authority.name() + "' has path length 0: it cannot sign CAs");
      }
      if (r.path_length && *r.path_length > room) {
        return fail(ErrorCode::kPolicyRejected,
                    "path length " + std::to_string(*r.path_length) + " exceeds what authority '" +
                        authority.name() + "' allows below it (" + std::to_string(room) + ")");
      }
      if (!t.path_length || *t.path_length > room) t.path_length = room;
    }
  } else if (r.path_length || r.name_constraints) {
    return fail(ErrorCode::kInvalidArgument,
                "path length and name constraints are for CA profiles");
  }

  CW_ASSIGN_OR_RETURN(auto tbs, x509::build_tbs(t, &authority.certificate(), nullptr));
  x509::LintRules rules;
  rules.max_validity = p.max_validity;
  rules.require_san = p.require_san;
  rules.expect_ca = p.ca;
  CW_ASSIGN_OR_RETURN(auto linted, x509::lint(std::move(tbs), rules));
  CW_ASSIGN_OR_RETURN(x509::Certificate cert, authority.sign(std::move(linted)));

  IssuedCertificate out;
  out.certificate = std::move(cert);
  out.chain.push_back(authority.certificate());
  out.chain.insert(out.chain.end(), authority.chain().begin(), authority.chain().end());
  out.authority = authority.name();
  out.profile = p.name;
  return out;
}

Status Enrollment::store_durably(std::shared_ptr<Pending> pending) {
  std::future<Status> done = pending->done.get_future();
  {
    std::lock_guard lock(mu_);
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
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
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
      std::lock_guard lock(mu_);
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

Result<AuthorityInfo> create_subordinate(Enrollment& ra, AuthorityService& authorities,
                                         const SubordinateOptions& o, const Requester& requester) {
  CW_RETURN_IF_ERROR(check_authority_name(o.name));
  if (o.kind == AuthorityKind::kRoot) {
    return fail(ErrorCode::kInvalidArgument, "a subordinate is an intermediate or issuing CA");
  }
  if (authorities.info(o.name)) {
    return fail(ErrorCode::kConflict, "authority '" + o.name + "' already exists");
  }
  EnrollmentRequest r;
  r.server_key = o.key_type;
  r.profile = "intermediate-ca";
  r.authority = o.parent;
  r.validity = o.validity;
  r.requester = requester;
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
  r.in_transaction = [&](store::Transaction& tx, const x509::Certificate& cert,
                         const crypto::PrivateKey* key) -> Status {
    if (!key) return fail(ErrorCode::kInternal, "subordinate key missing");
    return authorities.insert_subordinate(tx, o.name, o.kind, *parent_info, cert, *key,
                                          requester.actor);
  };
  CW_ASSIGN_OR_RETURN(IssuedCertificate issued, ra.enroll(std::move(r)));
  return authorities.info(o.name);
}

}  // namespace certward::ca
