#include "auth/eab.h"

#include "auth/validate.h"
#include "common/config.h"
#include "common/encoding.h"
#include "store/schema.h"

namespace certward::auth {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "eab_keys",
     R"sql(
CREATE TABLE acme_eab_keys (
  kid TEXT PRIMARY KEY,
  sealed_key BLOB NOT NULL,
  team TEXT NOT NULL,
  directory TEXT,
  description TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  account TEXT,
  bound_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX acme_eab_keys_team ON acme_eab_keys (team);
)sql"},
};

constexpr std::string_view kColumns =
    "kid, team, directory, description, created_by, created_at, account, bound_at, revoked_at";
constexpr std::size_t kHmacKeyBytes = 32;  // HS256's block-size-worthy key: 256 bits

// Binds a sealed key to its row: a sealed key copied to another kid does not open.
std::string aad_for(std::string_view kid) { return "certward-eab:" + std::string(kid); }

EabKeyInfo info_from(const store::Row& r) {
  EabKeyInfo k;
  k.kid = r.text(0);
  k.team = r.text(1);
  k.directory = r.optional_text(2);
  k.description = r.text(3);
  k.created_by = r.text(4);
  k.created_at = from_unix(r.int64(5));
  k.account = r.optional_text(6);
  if (auto t = r.optional_int64(7)) k.bound_at = from_unix(*t);
  if (auto t = r.optional_int64(8)) k.revoked_at = from_unix(*t);
  return k;
}

}  // namespace

const store::SchemaModule kSchema{"acme_eab", kMigrations};

Status EabKeys::migrate(store::Database& db) { return db.migrate("acme_eab", kMigrations); }

Result<NewEabKey> EabKeys::create(const EabKeyRequest& request, std::string_view actor) {
  CW_RETURN_IF_ERROR(detail::check_name(request.team, "team"));
  // The ACME server's own rule for directory names: a key for a name no directory can have
  // would bind nothing, and one refused here could only be made for every directory.
  if (request.directory && !acme_directory_name_ok(*request.directory))
    return fail(ErrorCode::kInvalidArgument,
                "'" + *request.directory +
                    "' is not an ACME directory name (a-z, 0-9, '-', '_', at most 64; not a "
                    "resource word such as 'order')");
  if (request.description.size() > 256)
    return fail(ErrorCode::kInvalidArgument, "description must be at most 256 characters");
  NewEabKey out;
  out.info.kid = "eab-" + to_hex(crypto::random_bytes(12));
  out.info.team = request.team;
  out.info.directory = request.directory;
  out.info.description = request.description;
  out.info.created_by = std::string(actor);
  out.info.created_at = clock_.now();
  const crypto::SecretBytes key(crypto::random_bytes(kHmacKeyBytes));
  CW_ASSIGN_OR_RETURN(Bytes sealed, wrapper_.seal(key.span(), aad_for(out.info.kid)));
  out.hmac_key = to_base64url(key.span());

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_ASSIGN_OR_RETURN(auto team, tx->query_one("SELECT name FROM teams WHERE name = ?",
                                               store::params(request.team)));
  if (!team) return fail(ErrorCode::kNotFound, "no team '" + request.team + "'");
  CW_RETURN_IF_ERROR(tx->execute(
      "INSERT INTO acme_eab_keys (kid, sealed_key, team, directory, description, created_by, "
      "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      store::params(out.info.kid, sealed, out.info.team, out.info.directory, out.info.description,
                    out.info.created_by, to_unix(out.info.created_at))));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "acme.eab.create";
  e.target_type = "acme_eab_key";
  e.target_id = out.info.kid;
  e.details = {{"team", out.info.team}};
  if (out.info.directory) e.details["directory"] = *out.info.directory;
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return out;
}

Result<std::vector<EabKeyInfo>> EabKeys::list(const std::optional<std::string>& team) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  const std::string sql = "SELECT " + std::string(kColumns) + " FROM acme_eab_keys" +
                          (team ? " WHERE team = ?" : "") + " ORDER BY created_at, kid";
  CW_ASSIGN_OR_RETURN(auto rows, team ? tx->query(sql, store::params(*team)) : tx->query(sql));
  std::vector<EabKeyInfo> out;
  for (const auto& r : rows) out.push_back(info_from(r));
  return out;
}

Result<EabKeyInfo> EabKeys::revoke(std::string_view kid, std::string_view actor) {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin());
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  " FROM acme_eab_keys WHERE kid = ? FOR UPDATE",
                                              store::params(kid)));
  if (!row) return fail(ErrorCode::kNotFound, "no EAB key '" + std::string(kid) + "'");
  EabKeyInfo info = info_from(*row);
  if (info.revoked_at) return fail(ErrorCode::kConflict, "EAB key is already revoked");
  info.revoked_at = clock_.now();
  CW_RETURN_IF_ERROR(tx->execute("UPDATE acme_eab_keys SET revoked_at = ? WHERE kid = ?",
                                 store::params(to_unix(*info.revoked_at), kid)));
  audit::Event e;
  e.actor = std::string(actor);
  e.action = "acme.eab.revoke";
  e.target_type = "acme_eab_key";
  e.target_id = info.kid;
  e.details = {{"team", info.team}};
  CW_RETURN_IF_ERROR(audit_.append(*tx, e));
  CW_RETURN_IF_ERROR(tx->commit());
  return info;
}

Result<std::optional<EabSecret>> EabKeys::secret(std::string_view kid) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto row, tx->query_one("SELECT " + std::string(kColumns) +
                                                  ", sealed_key FROM acme_eab_keys WHERE kid = ?",
                                              store::params(kid)));
  if (!row) return std::optional<EabSecret>();
  EabSecret s{info_from(*row), {}};
  CW_ASSIGN_OR_RETURN(s.key, wrapper_.open(row->blob(9), aad_for(s.info.kid)));
  return std::optional<EabSecret>(std::move(s));
}

Status EabKeys::bind(store::Transaction& tx, std::string_view kid, std::string_view account) const {
  CW_ASSIGN_OR_RETURN(std::int64_t n,
                      tx.execute_count("UPDATE acme_eab_keys SET account = ?, bound_at = ? "
                                       "WHERE kid = ? AND account IS NULL AND revoked_at IS NULL",
                                       store::params(account, to_unix(clock_.now()), kid)));
  if (n != 1) return fail(ErrorCode::kConflict, "the EAB key is already bound or revoked");
  return ok();
}

}  // namespace certward::auth
