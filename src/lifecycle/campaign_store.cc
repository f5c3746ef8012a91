#include "lifecycle/campaign_store.h"

#include <array>

#include "store/schema.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::array<store::Migration, 1> kMigrations = {{
    {1, "campaigns",
     R"sql(
CREATE TABLE lifecycle_campaigns (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  request TEXT NOT NULL,
  state TEXT NOT NULL,
  current_wave INTEGER NOT NULL,
  waves INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  last_error TEXT NOT NULL,
  finish TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT,
  completed_at BIGINT
);
CREATE INDEX lifecycle_campaigns_created ON lifecycle_campaigns (created_at, id);
CREATE TABLE lifecycle_campaign_items (
  campaign_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  wave INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  authority TEXT,
  key_desc TEXT NOT NULL,
  not_after BIGINT NOT NULL,
  managed_id TEXT,
  managed_name TEXT,
  targets TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT NOT NULL,
  old_fingerprint TEXT,
  new_fingerprint TEXT,
  generation BIGINT NOT NULL,
  started_at BIGINT,
  revoked INTEGER NOT NULL,
  revoke_error TEXT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (campaign_id, seq)
);
CREATE INDEX lifecycle_campaign_items_wave ON lifecycle_campaign_items (campaign_id, wave, seq);
CREATE INDEX lifecycle_campaign_items_state ON lifecycle_campaign_items (campaign_id, state, seq);
)sql"},
}};

constexpr std::string_view kColumns =
    "id, name, request, state, current_wave, waves, created_by, last_error, finish, created_at, "
    "updated_at, started_at, completed_at";
constexpr std::string_view kItemColumns =
    "seq, wave, fingerprint, subject, authority, key_desc, not_after, managed_id, managed_name, "
    "targets, state, error, old_fingerprint, new_fingerprint, generation, started_at, revoked, "
    "revoke_error, updated_at";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json parse_text(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::optional<SysTime> time_at(const store::Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_unix(r.int64(i));
}

store::Value time_value(const std::optional<SysTime>& t) {
  return t ? store::Value(to_unix(*t)) : store::Value(nullptr);
}

json finish_json(const std::optional<FinishOptions>& f) {
  if (!f) return nullptr;
  return {{"revoke", f->revoke}, {"reason", f->reason}, {"force", f->force}};
}

Result<Campaign> to_campaign(const store::Row& r) {
  Campaign c;
  c.id = r.text(0);
  // A stored request was written by campaign_request_json(); it parses back unless a rule
  // got stricter, and then the campaign keeps its name and can still be listed.
  auto request = parse_campaign_request(parse_text(r.text(2)));
  if (request) c.request = *std::move(request);
  c.request.name = r.text(1);
  CW_ASSIGN_OR_RETURN(c.state, parse_campaign_state(r.text(3)));
  c.current_wave = static_cast<int>(r.int64(4));
  c.waves = static_cast<int>(r.int64(5));
  c.created_by = r.text(6);
  c.last_error = r.text(7);
  if (auto f = r.optional_text(8)) {
    const json j = parse_text(*f);
    if (j.is_object()) {
      c.finish = FinishOptions{.revoke = j.value("revoke", false),
                               .reason = j.value("reason", 4),
                               .force = j.value("force", false)};
    }
  }
  c.created_at = from_unix(r.int64(9));
  c.updated_at = from_unix(r.int64(10));
  c.started_at = time_at(r, 11);
  c.completed_at = time_at(r, 12);
  return c;
}

Result<CampaignItem> to_item(const store::Row& r) {
  CampaignItem i;
  i.seq = r.int64(0);
  i.wave = static_cast<int>(r.int64(1));
  i.fingerprint = r.text(2);
  i.subject = r.text(3);
  i.authority = r.optional_text(4);
  i.key = r.text(5);
  i.not_after = from_unix(r.int64(6));
  i.managed_id = r.optional_text(7);
  i.managed_name = r.optional_text(8);
  i.targets = parse_text(r.text(9));
  CW_ASSIGN_OR_RETURN(i.state, parse_item_state(r.text(10)));
  i.error = r.text(11);
  i.old_fingerprint = r.optional_text(12);
  i.new_fingerprint = r.optional_text(13);
  i.generation = r.int64(14);
  i.started_at = time_at(r, 15);
  i.revoked = r.int64(16) != 0;
  i.revoke_error = r.text(17);
  i.updated_at = from_unix(r.int64(18));
  return i;
}

}  // namespace

const store::SchemaModule kSchema{"campaigns", kMigrations};

Status CampaignStore::migrate(store::Database& db) { return db.migrate("campaigns", kMigrations); }

Status CampaignStore::insert(store::Transaction& tx, const Campaign& c,
                             const std::vector<CampaignItem>& items) const {
  CW_RETURN_IF_ERROR(tx.execute(
      "INSERT INTO lifecycle_campaigns (" + std::string(kColumns) +
          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      store::params(c.id, c.request.name, dump(campaign_request_json(c.request)),
                    campaign_state_name(c.state), c.current_wave, c.waves, c.created_by,
                    c.last_error,
                    c.finish ? store::Value(dump(finish_json(c.finish))) : store::Value(nullptr),
                    to_unix(c.created_at), to_unix(c.updated_at), time_value(c.started_at),
                    time_value(c.completed_at))));
  for (const auto& i : items) {
    CW_RETURN_IF_ERROR(tx.execute(
        "INSERT INTO lifecycle_campaign_items (campaign_id, " + std::string(kItemColumns) +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        store::params(c.id, i.seq, i.wave, i.fingerprint, i.subject, i.authority, i.key,
                      to_unix(i.not_after), i.managed_id, i.managed_name, dump(i.targets),
                      item_state_name(i.state), i.error, i.old_fingerprint, i.new_fingerprint,
                      i.generation, time_value(i.started_at), i.revoked, i.revoke_error,
                      to_unix(i.updated_at))));
  }
  return ok();
}

Result<std::optional<Campaign>> CampaignStore::find(store::Transaction& tx, std::string_view id,
                                                    bool lock) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kColumns) +
                                                 " FROM lifecycle_campaigns WHERE id = ?" +
                                                 (lock ? " FOR UPDATE" : ""),
                                             store::params(id)));
  if (!row) return std::optional<Campaign>();
  CW_ASSIGN_OR_RETURN(auto c, to_campaign(*row));
  return std::optional<Campaign>(std::move(c));
}

Result<std::vector<Campaign>> CampaignStore::list(int limit,
                                                  const std::optional<std::string>& before) const {
  if (limit < 1 || limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM lifecycle_campaigns";
  std::vector<store::Value> params;
  if (before) {
    sql +=
        " WHERE created_at < (SELECT created_at FROM lifecycle_campaigns WHERE id = ?) OR "
        "(created_at = (SELECT created_at FROM lifecycle_campaigns WHERE id = ?) AND id < ?)";
    params = {*before, *before, *before};
  }
  sql += " ORDER BY created_at DESC, id DESC LIMIT " + std::to_string(limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<Campaign> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto c, to_campaign(r));
    out.push_back(std::move(c));
  }
  return out;
}

Status CampaignStore::update(store::Transaction& tx, Campaign& c) const {
  c.updated_at = clock_.now();
  return tx.execute(
      "UPDATE lifecycle_campaigns SET state = ?, current_wave = ?, last_error = ?, finish = ?, "
      "updated_at = ?, started_at = ?, completed_at = ? WHERE id = ?",
      store::params(campaign_state_name(c.state), c.current_wave, c.last_error,
                    c.finish ? store::Value(dump(finish_json(c.finish))) : store::Value(nullptr),
                    to_unix(c.updated_at), time_value(c.started_at), time_value(c.completed_at),
                    c.id));
}

Result<CampaignCounts> CampaignStore::counts(std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(
      auto rows,
      tx->query("SELECT state, COUNT(*), SUM(revoked), SUM(CASE WHEN revoke_error = '' THEN 0 "
                "ELSE 1 END), SUM(CASE WHEN managed_id IS NULL THEN 1 ELSE 0 END) "
                "FROM lifecycle_campaign_items WHERE campaign_id = ? GROUP BY state",
                store::params(id)));
  CampaignCounts c;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto state, parse_item_state(r.text(0)));
    const std::int64_t n = r.int64(1);
    c.total += n;
    // Managed or not is what the plan found, whatever the item's state: a certificate nobody
    // manages is counted so before the campaign starts too, as its dry run counted it.
    c.not_managed += r.optional_int64(4).value_or(0);
    c.revoked += r.optional_int64(2).value_or(0);
    c.revoke_failed += r.optional_int64(3).value_or(0);
    switch (state) {
      case ItemState::kPending:
        c.pending += n;
        break;
      case ItemState::kReplacing:
        c.replacing += n;
        break;
      case ItemState::kDone:
        c.done += n;
        break;
      case ItemState::kFailed:
        c.failed += n;
        break;
      case ItemState::kNotManaged:
        break;
    }
  }
  c.managed = c.total - c.not_managed;
  return c;
}

Result<std::vector<CampaignItem>> CampaignStore::items(std::string_view id,
                                                       const ItemFilter& f) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  return items(*tx, id, f);
}

Result<std::vector<CampaignItem>> CampaignStore::items(store::Transaction& tx, std::string_view id,
                                                       const ItemFilter& f) const {
  if (f.limit < 1 || f.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kItemColumns) +
                    " FROM lifecycle_campaign_items WHERE campaign_id = ? AND seq > ?";
  std::vector<store::Value> params = {std::string(id), f.after_seq};
  if (f.state) {
    sql += " AND state = ?";
    params.emplace_back(std::string(item_state_name(*f.state)));
  }
  if (f.wave) {
    sql += " AND wave = ?";
    params.emplace_back(std::int64_t{*f.wave});
  }
  sql += " ORDER BY seq LIMIT " + std::to_string(f.limit);
  CW_ASSIGN_OR_RETURN(auto rows, tx.query(sql, params));
  std::vector<CampaignItem> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto i, to_item(r));
    out.push_back(std::move(i));
  }
  return out;
}

Status CampaignStore::update_item(store::Transaction& tx, CampaignItem& i,
                                  std::string_view campaign) const {
  i.updated_at = clock_.now();
  return tx.execute(
      "UPDATE lifecycle_campaign_items SET state = ?, error = ?, old_fingerprint = ?, "
      "new_fingerprint = ?, generation = ?, started_at = ?, revoked = ?, revoke_error = ?, "
      "updated_at = ? WHERE campaign_id = ? AND seq = ?",
      store::params(item_state_name(i.state), i.error, i.old_fingerprint, i.new_fingerprint,
                    i.generation, time_value(i.started_at), i.revoked, i.revoke_error,
                    to_unix(i.updated_at), campaign, i.seq));
}

}  // namespace certward::lifecycle
