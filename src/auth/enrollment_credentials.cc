#include "auth/enrollment_credentials.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "auth/validate.h"
#include "common/encoding.h"
#include "store/schema.h"

namespace certward::auth {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "enrollment_credentials",
     R"sql(
CREATE TABLE enrollment_credentials (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL UNIQUE,
  sealed_secret BLOB,
  team TEXT NOT NULL,
  profile TEXT NOT NULL,
  authority TEXT,
  label TEXT,
  expected_subject TEXT,
  max_uses BIGINT NOT NULL,
  uses BIGINT NOT NULL DEFAULT 0,
  expires_at BIGINT,
  batch TEXT,
  description TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX enrollment_credentials_team ON enrollment_credentials (team, id);
CREATE INDEX enrollment_credentials_batch ON enrollment_credentials (batch, id);
CREATE TABLE enrollment_credential_uses (
  credential TEXT NOT NULL,
  certificate TEXT NOT NULL,
  channel TEXT NOT NULL,
  used_at BIGINT NOT NULL,
  PRIMARY KEY (credential, certificate)
);
)sql"},
};

constexpr std::string_view kColumns =
    "id, kind, team, profile, authority, label, expected_subject, max_uses, uses, expires_at, "
    "batch, description, created_by, created_at, last_used_at, revoked_at";
constexpr std::size_t kSecretBytes = 16;  // 128 bits: guessing is hopeless, a hash suffices
constexpr std::size_t kMaxSubject = 256;
constexpr std::size_t kMaxDescription = 256;

// A sealed CMP secret opens only for its own row.
std::string aad_for(std::string_view id) { return "certward-enrollment:" + std::string(id); }

std::string secret_hash(std::string_view secret) {
  return to_hex(crypto::sha256(as_bytes(secret)));
}

CredentialInfo info_from(const store::Row& r) {
  CredentialInfo c;
  c.id = r.text(0);
  c.kind = parse_credential_kind(r.text(1)).value_or(CredentialKind::kEst);
  c.team = r.text(2);
  c.profile = r.text(3);
  c.authority = r.optional_text(4);
  c.label = r.optional_text(5);
  c.expected_subject = r.optional_text(6);
  c.max_uses = static_cast<int>(r.int64(7));
  c.uses = static_cast<int>(r.int64(8));
  if (auto t = r.optional_int64(9)) c.expires_at = from_unix(*t);
  c.batch = r.optional_text(10);
  c.description = r.text(11);
  c.created_by = r.text(12);
  c.created_at = from_unix(r.int64(13));
  if (auto t = r.optional_int64(14)) c.last_used_at = from_unix(*t);
  if (auto t = r.optional_int64(15)) c.revoked_at = from_unix(*t);
  return c;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f;
  });
}

// EST labels and SCEP/CMP endpoint names share the URL-segment rule of ACME directories.
bool label_ok(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
  });
}

Status check_request(const CredentialRequest& r) {
  CW_RETURN_IF_ERROR(detail::check_name(r.team, "team"));
  if (r.profile.empty() || r.profile.size() > 64 || has_control(r.profile))
    return fail(ErrorCode::kInvalidArgument, "profile: name a profile");
  if (r.authority &&
      (r.authority->empty() || r.authority->size() > 64 || has_control(*r.authority)))
    return fail(ErrorCode::kInvalidArgument, "authority: name an authority");
  if (r.label && !label_ok(*r.label))
    return fail(ErrorCode::kInvalidArgument,
                "label must be 1-64 characters of a-z, 0-9, '-' and '_'");
  if (r.expected_subject &&
      (r.expected_subject->empty() || r.expected_subject->size() > kMaxSubject ||
       has_control(*r.expected_subject)))
    return fail(ErrorCode::kInvalidArgument,
                "expected_subject must be 1-256 characters without control characters");
  if (r.max_uses < 0 || r.max_uses > 1'000'000)
    return fail(ErrorCode::kInvalidArgument, "max_uses must be between 0 (any) and 1000000");
  if (r.lifetime < std::chrono::minutes(1) || r.lifetime > std::chrono::days(5 * 365))
    return fail(ErrorCode::kInvalidArgument, "lifetime must be between 1m and 5y");
  if (r.description.size() > kMaxDescription || has_control(r.description))
    return fail(ErrorCode::kInvalidArgument,
                "description must be at most 256 characters without control characters");
  return ok();
}

Status require_team(store::Transaction& tx, const std::string& team) {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT name FROM teams WHERE name = ?", store::params(team)));
  if (!row) return fail(ErrorCode::kNotFound, "no team '" + team + "'");
  return ok();
}

}  // namespace

std::string_view credential_kind_name(CredentialKind k) {
  switch (k) {
    case CredentialKind::kEst:
      return "est";
    case CredentialKind::kScep:
      return "scep";
    case CredentialKind::kCmp:
      return "cmp";
  }
  return "est";
}

std::optional<CredentialKind> parse_credential_kind(std::string_view name) {
  if (name == "est") return CredentialKind::kEst;
  if (name == "scep") return CredentialKind::kScep;
  if (name == "cmp") return CredentialKind::kCmp;
  return std::nullopt;
}

bool CredentialInfo::usable(SysTime now) const { return state(now) == "active"; }

std::string_view CredentialInfo::state(SysTime now) const {
  if (revoked_at) return "revoked";
  if (expires_at && *expires_at <= now) return "expired";
  if (max_uses > 0 && uses >= max_uses) return "used";
  return "active";
}

const store::SchemaModule kSchema{"enrollment_credentials", kMigrations};

Status EnrollmentCredentials::migrate(store::Database& db) {
  return db.migrate("enrollment_credentials", kMigrations);
}

Result<NewCredential> EnrollmentCredentials::make(const CredentialRequest& request,
                                                  std::string_view actor,
                                                  const std::optional<std::string>& batch) const {
  CW_RETURN_IF_ERROR(check_request(request));
  NewCredential out;
  CredentialInfo& c = out.info;
  c.id = "ec-" + to_hex(crypto::random_bytes(8));
  c.kind = request.kind;
  c.team = request.team;
  c.profile = request.profile;
  c.authority = request.authority;
  c.label = request.label;
  c.expected_subject = request.expected_subject;
  c.max_uses = request.max_uses;
  c.created_at = clock_.now();
  c.expires_at = c.created_at + request.lifetime;
  c.batch = batch;
  c.description = request.description;
  c.created_by = std::string(actor);
  out.secret = to_base64url(crypto::random_bytes(kSecretBytes));
  return out;
}

Status EnrollmentCredentials::insert(store::Transaction& tx, const NewCredential& n) const {
  const CredentialInfo& c = n.info;
  std::optional<Bytes> sealed;
  if (c.kind == CredentialKind::kCmp) {
    CW_ASSIGN_OR_RETURN(sealed, wrapper_.seal(as_bytes(n.secret), aad_for(c.id)));
  }
  return tx.execute(
      "INSERT INTO enrollment_credentials (id, kind, secret_sha256, sealed_secret, team, "
      "profile, authority, label, expected_subject, max_uses, expires_at, batch, description, "
      "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(c.id, std::string(credential_kind_name(c.kind)), secret_hash(n.secret), sealed,
                    c.team, c.profile, c.authority, c.label, c.expected_subject,
                    static_cast<std::int64_t>(c.max_uses), to_unix(*c.expires_at), c.batch,
                    c.description, c.created_by, to_unix(c.created_at)));
}

Result<NewCredential> EnrollmentCredentials::create(const CredentialRequest& request,
                                                    std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto out, make(request, actor, std::nullopt));
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_RETURN_IF_ERROR(require_team(*tx, request.team));
  CW_RETURN_IF_ERROR(insert(*tx, out));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "enrollment.credential.create";
  e.target_type = "enrollment_credential";
  e.target_id = out.info.id;
  e.details = {{"kind", credential_kind_name(out.info.kind)},
               {"team", out.info.team},
               {"profile", out.info.profile},
               {"max_uses", out.info.max_uses}};
  if (out.info.expected_subject) e.details["expected_subject"] = *out.info.expected_subject;
  if (out.info.label) e.details["label"] = *out.info.label;
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return out;
}

Result<NewBatch> EnrollmentCredentials::create_batch(const BatchRequest& request,
                                                     std::string_view actor) {
  const bool by_subject = !request.expected_subjects.empty();
  const std::size_t n =
      by_subject ? request.expected_subjects.size() : static_cast<std::size_t>(request.count);
  if (!by_subject && (request.count < 1 || request.count > kMaxBatch))
    return fail(ErrorCode::kInvalidArgument, "count must be between 1 and 10000");
  if (n > static_cast<std::size_t>(kMaxBatch))
    return fail(ErrorCode::kInvalidArgument, "at most 10000 expected subjects per batch");
  NewBatch out;
  out.batch = "eb-" + to_hex(crypto::random_bytes(8));
  out.credentials.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    CredentialRequest r = request.each;
    r.expected_subject = by_subject ? std::optional(request.expected_subjects[i]) : std::nullopt;
    CW_ASSIGN_OR_RETURN(auto c, make(r, actor, out.batch));
    out.credentials.push_back(std::move(c));
  }
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_RETURN_IF_ERROR(require_team(*tx, request.each.team));
  for (const auto& c : out.credentials) CW_RETURN_IF_ERROR(insert(*tx, c));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "enrollment.credential.create_batch";
  e.target_type = "enrollment_batch";
  e.target_id = out.batch;
  e.details = {{"kind", credential_kind_name(request.each.kind)},
               {"team", request.each.team},
               {"profile", request.each.profile},
               {"count", n},
               {"max_uses", request.each.max_uses}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return out;
}

Result<std::vector<CredentialInfo>> EnrollmentCredentials::list(
    const CredentialFilter& filter) const {
  if (filter.limit < 1 || filter.limit > 1000)
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  std::string sql = "SELECT " + std::string(kColumns) + " FROM enrollment_credentials WHERE 1=1";
  std::vector<store::Value> p;
  if (filter.team) {
    sql += " AND team = ?";
    p.emplace_back(*filter.team);
  }
  if (filter.batch) {
    sql += " AND batch = ?";
    p.emplace_back(*filter.batch);
  }
  if (filter.kind) {
    sql += " AND kind = ?";
    p.emplace_back(std::string(credential_kind_name(*filter.kind)));
  }
  if (filter.after) {
    sql += " AND id > ?";
    p.emplace_back(*filter.after);
  }
  sql += " ORDER BY id LIMIT " + std::to_string(filter.limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, p));
  std::vector<CredentialInfo> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(info_from(r));
  return out;
}

Result<CredentialInfo> EnrollmentCredentials::get(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  " FROM enrollment_credentials WHERE id = ?",
                                              store::params(id)));
  if (!row) return fail(ErrorCode::kNotFound, "no enrollment credential '" + std::string(id) + "'");
  return info_from(*row);
}

Result<std::vector<CredentialUse>> EnrollmentCredentials::uses(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query("SELECT credential, certificate, channel, used_at "
                                           "FROM enrollment_credential_uses WHERE credential = ? "
                                           "ORDER BY used_at, certificate",
                                           store::params(id)));
  std::vector<CredentialUse> out;
  for (const auto& r : rows)
    out.push_back(CredentialUse{r.text(0), r.text(1), r.text(2), from_unix(r.int64(3))});
  return out;
}

Result<CredentialInfo> EnrollmentCredentials::revoke(std::string_view id, std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT " + std::string(kColumns) +
                                        " FROM enrollment_credentials WHERE id = ? FOR UPDATE",
                                    store::params(id)));
  if (!row) return fail(ErrorCode::kNotFound, "no enrollment credential '" + std::string(id) + "'");
  CredentialInfo info = info_from(*row);
  if (info.revoked_at) return fail(ErrorCode::kConflict, "the credential is already revoked");
  info.revoked_at = clock_.now();
  CW_RETURN_IF_ERROR(tx->execute("UPDATE enrollment_credentials SET revoked_at = ? WHERE id = ?",
                                 store::params(to_unix(*info.revoked_at), id)));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "enrollment.credential.revoke";
  e.target_type = "enrollment_credential";
  e.target_id = info.id;
  e.details = {{"team", info.team}, {"kind", credential_kind_name(info.kind)}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return info;
}

Result<std::optional<CredentialInfo>> EnrollmentCredentials::authenticate(
    CredentialKind kind, std::string_view id, std::string_view secret) const {
  if (id.size() > 64 || secret.size() > 256) return std::optional<CredentialInfo>();
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT " + std::string(kColumns) +
                                        ", secret_sha256 FROM enrollment_credentials WHERE id = ?",
                                    store::params(id)));
  if (!row) return std::optional<CredentialInfo>();
  const std::string want = row->text(16);
  const std::string got = secret_hash(secret);
  // Compared in constant time, so that the time taken says nothing about the stored hash.
  if (want.size() != got.size() || CRYPTO_memcmp(want.data(), got.data(), got.size()) != 0)
    return std::optional<CredentialInfo>();
  CredentialInfo info = info_from(*row);
  if (info.kind != kind) return std::optional<CredentialInfo>();
  return std::optional<CredentialInfo>(std::move(info));
}

Result<std::optional<CredentialInfo>> EnrollmentCredentials::find_by_secret(
    CredentialKind kind, std::string_view secret) const {
  if (secret.empty() || secret.size() > 256) return std::optional<CredentialInfo>();
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT " + std::string(kColumns) +
                                        " FROM enrollment_credentials WHERE secret_sha256 = ?",
                                    store::params(secret_hash(secret))));
  if (!row) return std::optional<CredentialInfo>();
  CredentialInfo info = info_from(*row);
  if (info.kind != kind) return std::optional<CredentialInfo>();
  return std::optional<CredentialInfo>(std::move(info));
}

Result<std::optional<crypto::SecretBytes>> EnrollmentCredentials::secret(
    std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row,
                      tx->query_one("SELECT sealed_secret FROM enrollment_credentials WHERE id = ? "
                                    "AND kind = 'cmp'",
                                    store::params(id)));
  if (!row || row->is_null(0)) return std::optional<crypto::SecretBytes>();
  CW_ASSIGN_OR_RETURN(auto key, wrapper_.open(row->blob(0), aad_for(id)));
  return std::optional<crypto::SecretBytes>(std::move(key));
}

Status EnrollmentCredentials::consume(store::Transaction& tx, std::string_view id,
                                      std::string_view fingerprint,
                                      std::string_view channel) const {
  const std::int64_t now = to_unix(clock_.now());
  // One conditional update decides: of two requests racing for the last use, the second
  // finds nothing to update once the first committed, and its certificate is not stored.
  CW_ASSIGN_OR_RETURN(
      std::int64_t n,
      tx.execute_count("UPDATE enrollment_credentials SET uses = uses + 1, last_used_at = ? "
                       "WHERE id = ? AND revoked_at IS NULL AND (max_uses = 0 OR uses < max_uses) "
                       "AND (expires_at IS NULL OR expires_at > ?)",
                       store::params(now, id, now)));
  if (n != 1)
    return fail(ErrorCode::kUnauthorized, "the enrollment credential is used, expired or revoked");
  return tx.execute(
      "INSERT INTO enrollment_credential_uses (credential, certificate, channel, used_at) "
      "VALUES (?, ?, ?, ?)",
      store::params(id, fingerprint, channel, now));
}

}  // namespace certward::auth
