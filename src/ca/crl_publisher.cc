#include "ca/crl_publisher.h"

#include "common/log.h"
#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::ca {
namespace {

constexpr store::Migration kMigrations[] = {
    {1, "crls",
     R"sql(
CREATE TABLE crl_state (
  authority TEXT PRIMARY KEY,
  next_number BIGINT NOT NULL
);
CREATE TABLE crls (
  authority TEXT NOT NULL,
  number BIGINT NOT NULL,
  delta INTEGER NOT NULL,
  base_number BIGINT NOT NULL,
  this_update BIGINT NOT NULL,
  next_update BIGINT NOT NULL,
  entries BIGINT NOT NULL,
  revoked_count BIGINT NOT NULL,
  der BLOB NOT NULL,
  PRIMARY KEY (authority, number)
);
CREATE INDEX crls_latest ON crls (authority, delta, number);
)sql"},
};

// How far back of its base full CRL a delta CRL looks: revocations are timed by the clock of
// the replica that made them and commit after they are timed, so one timed just before the
// full CRL was generated may not have been in it.
constexpr std::chrono::seconds kDeltaMargin{300};

constexpr std::string_view kCrlColumns =
    "authority, number, delta, base_number, this_update, next_update, entries, revoked_count, "
    "der";

std::shared_ptr<const PublishedCrl> crl_from_row(const store::Row& r) {
  auto crl = std::make_shared<PublishedCrl>();
  crl->authority = r.text(0);
  crl->number = static_cast<std::uint64_t>(r.int64(1));
  crl->delta = r.int64(2) != 0;
  crl->base_number = static_cast<std::uint64_t>(r.int64(3));
  crl->this_update = from_unix(r.int64(4));
  crl->next_update = from_unix(r.int64(5));
  crl->entries = r.int64(6);
  crl->revoked_count = r.int64(7);
  crl->der = r.blob(8);
  const Bytes digest = crypto::sha256(crl->der);
  crl->etag = "\"" + to_hex(std::span(digest).first(16)) + "\"";
  return crl;
}

Result<std::shared_ptr<const PublishedCrl>> latest_in(store::Transaction& tx,
                                                      std::string_view authority, bool delta) {
  CW_ASSIGN_OR_RETURN(auto row,
                      tx.query_one("SELECT " + std::string(kCrlColumns) +
                                       " FROM crls WHERE authority = ? AND delta = ? "
                                       "ORDER BY number DESC LIMIT 1",
                                   store::params(authority, std::int64_t{delta ? 1 : 0})));
  if (!row) return std::shared_ptr<const PublishedCrl>();
  return crl_from_row(*row);
}

Result<std::vector<x509::CrlEntry>> entries_of(const std::vector<inventory::RevokedSerial>& rows) {
  std::vector<x509::CrlEntry> out;
  out.reserve(rows.size());
  for (const auto& r : rows) {
    x509::CrlEntry e;
    CW_ASSIGN_OR_RETURN(e.serial, from_hex(r.serial));
    e.revocation_time = r.revoked_at;
    e.reason = x509::crl_reason_from_code(r.reason);
    e.invalidity_date = r.invalidity_date;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

const store::SchemaModule kSchema{"crl", kMigrations};

Status CrlPublisher::migrate(store::Database& db) { return db.migrate("crl", kMigrations); }

std::string CrlPublisher::delta_url(std::string_view authority) const {
  if (ca_.crl_base_url.empty()) return {};
  return ca_.crl_base_url + "/" + std::string(authority) + "-delta.crl";
}

Result<CrlPublication> CrlPublisher::publish(std::string_view name) {
  CW_ASSIGN_OR_RETURN(auto authority, authorities_.load_for_status(name));
  const CrlSettings& cfg = settings_.crl_for(name);
  const bool deltas = cfg.delta_interval.count() > 0;

  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kWrite));
  // The authority's row is the lock: a replica that comes second waits here, then finds the
  // CRLs the first one made and has nothing left to do.
  CW_RETURN_IF_ERROR(
      tx->execute("INSERT INTO crl_state (authority, next_number) VALUES (?, 1) "
                  "ON CONFLICT (authority) DO NOTHING",
                  store::params(name)));
  CW_ASSIGN_OR_RETURN(auto state,
                      tx->query_one("SELECT next_number FROM crl_state WHERE authority = ? "
                                    "FOR UPDATE",
                                    store::params(name)));
  std::uint64_t next = state ? static_cast<std::uint64_t>(state->int64(0)) : 1;
  CW_ASSIGN_OR_RETURN(auto full, latest_in(*tx, name, false));
  CW_ASSIGN_OR_RETURN(auto delta, latest_in(*tx, name, true));
  // Counted before the entries are read: a revocation committing in between makes the CRL
  // list more than it counts, and the next run generates it again; never the reverse.
  CW_ASSIGN_OR_RETURN(const std::int64_t revoked, inventory_.revoked_count(name));
  const SysTime now = clock_.now();

  const bool full_due = !full || now >= full->this_update + cfg.interval ||
                        now >= full->next_update ||
                        (cfg.on_revoke == "full" && full->revoked_count < revoked);
  CrlPublication out;
  std::vector<std::shared_ptr<const PublishedCrl>> made;
  auto store_crl = [&](x509::CrlTemplate tmpl, bool is_delta, std::uint64_t base,
                       std::size_t entries) -> Result<std::shared_ptr<const PublishedCrl>> {
    CW_ASSIGN_OR_RETURN(Bytes der, authority->sign_crl(std::move(tmpl)));
    const std::uint64_t number = next++;
    CW_RETURN_IF_ERROR(tx->execute(
        "INSERT INTO crls (" + std::string(kCrlColumns) + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        store::params(name, static_cast<std::int64_t>(number), std::int64_t{is_delta ? 1 : 0},
                      static_cast<std::int64_t>(base), to_unix(now),
                      to_unix(now + (is_delta ? cfg.delta_validity : cfg.validity)),
                      static_cast<std::int64_t>(entries), revoked, der)));
    auto crl = std::make_shared<PublishedCrl>();
    crl->authority = std::string(name);
    crl->number = number;
    crl->delta = is_delta;
    crl->base_number = base;
    crl->this_update = now;
    crl->next_update = now + (is_delta ? cfg.delta_validity : cfg.validity);
    crl->entries = static_cast<std::int64_t>(entries);
    crl->revoked_count = revoked;
    const Bytes digest = crypto::sha256(der);
    crl->etag = "\"" + to_hex(std::span(digest).first(16)) + "\"";
    crl->der = std::move(der);
    return crl;
  };

  if (full_due) {
    CW_ASSIGN_OR_RETURN(auto rows, inventory_.revoked_by(name, now, std::nullopt));
    x509::CrlTemplate tmpl;
    tmpl.number = x509::crl_number_bytes(next);
    tmpl.this_update = now;
    tmpl.next_update = now + cfg.validity;
    CW_ASSIGN_OR_RETURN(tmpl.entries, entries_of(rows));
    if (deltas) {
      if (std::string url = delta_url(name); !url.empty()) tmpl.freshest_crl_urls.push_back(url);
    }
    CW_ASSIGN_OR_RETURN(full, store_crl(std::move(tmpl), false, 0, rows.size()));
    out.full = full->number;
    made.push_back(full);
  }
  const bool delta_due = deltas && (full_due || !delta || delta->base_number != full->number ||
                                    now >= delta->this_update + cfg.delta_interval ||
                                    now >= delta->next_update || delta->revoked_count < revoked);
  if (delta_due) {
    CW_ASSIGN_OR_RETURN(auto rows,
                        inventory_.revoked_by(name, now, full->this_update - kDeltaMargin));
    x509::CrlTemplate tmpl;
    tmpl.number = x509::crl_number_bytes(next);
    tmpl.this_update = now;
    tmpl.next_update = now + cfg.delta_validity;
    tmpl.delta_base = x509::crl_number_bytes(full->number);
    CW_ASSIGN_OR_RETURN(tmpl.entries, entries_of(rows));
    CW_ASSIGN_OR_RETURN(delta, store_crl(std::move(tmpl), true, full->number, rows.size()));
    out.delta = delta->number;
    made.push_back(delta);
  }
  if (made.empty()) return out;
  // Only the newest full CRL and the newest delta CRL are served. Each delta lists all that a
  // delta before it on the same base did: kept, a day of revocations one by one with
  // on_revoke = "delta" would store its revocations over and over (their square).
  CW_RETURN_IF_ERROR(tx->execute("DELETE FROM crls WHERE authority = ? AND number < ?",
                                 store::params(name, static_cast<std::int64_t>(full->number))));
  if (delta) {
    CW_RETURN_IF_ERROR(
        tx->execute("DELETE FROM crls WHERE authority = ? AND delta = 1 AND number < ?",
                    store::params(name, static_cast<std::int64_t>(delta->number))));
  }
  CW_RETURN_IF_ERROR(tx->execute("UPDATE crl_state SET next_number = ? WHERE authority = ?",
                                 store::params(static_cast<std::int64_t>(next), name)));
  CW_RETURN_IF_ERROR(tx->commit());
  for (const auto& crl : made) {
    remember(crl);
    log::info("crl_published", {{"authority", crl->authority},
                                {"number", std::to_string(crl->number)},
                                {"delta", crl->delta ? "true" : "false"},
                                {"entries", std::to_string(crl->entries)},
                                {"next_update", format_time(crl->next_update)}});
  }
  return out;
}

Status CrlPublisher::publish_all() {
  CW_ASSIGN_OR_RETURN(auto all, authorities_.list());
  Status first = ok();
  for (const auto& a : all) {
    if (a.status == "revoked") continue;
    auto published = publish(a.name);
    if (!published) {
      log::warn("crl_publish_failed",
                {{"authority", a.name}, {"error", published.error().message}});
      if (first) first = std::unexpected(published.error());
    }
  }
  return first;
}

Result<std::shared_ptr<const PublishedCrl>> CrlPublisher::load_latest(std::string_view authority,
                                                                      bool delta) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  return latest_in(*tx, authority, delta);
}

void CrlPublisher::remember(const std::shared_ptr<const PublishedCrl>& crl) {
  common::MutexLock lock(mu_);
  auto& slot = cache_[{crl->authority, crl->delta}];
  if (!slot.crl || slot.crl->number <= crl->number) slot.crl = crl;
  slot.checked_at = clock_.now();
}

Result<std::shared_ptr<const PublishedCrl>> CrlPublisher::current(std::string_view authority,
                                                                  bool delta) {
  const SysTime now = clock_.now();
  {
    common::MutexLock lock(mu_);
    auto it = cache_.find(std::pair<std::string, bool>(authority, delta));
    if (it != cache_.end() && now - it->second.checked_at < settings_.refresh_interval) {
      return it->second.crl;
    }
  }
  CW_ASSIGN_OR_RETURN(auto latest, load_latest(authority, delta));
  common::MutexLock lock(mu_);
  // Names nobody published for are not remembered: they come from requests.
  if (!latest && !cache_.contains(std::pair<std::string, bool>(authority, delta))) return latest;
  auto& slot = cache_[{std::string(authority), delta}];
  if (latest && (!slot.crl || slot.crl->number < latest->number)) slot.crl = latest;
  slot.checked_at = now;
  return slot.crl;
}

}  // namespace certward::ca
