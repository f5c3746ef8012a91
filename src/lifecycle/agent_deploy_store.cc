#include "lifecycle/agent_deploy_store.h"

#include <algorithm>
#include <array>

#include "store/schema.h"

namespace certward::lifecycle {
namespace {

using nlohmann::json;

constexpr std::array<store::Migration, 1> kMigrations = {{
    {1, "agent deployments",
     R"sql(
CREATE TABLE agent_deployments (
  id TEXT PRIMARY KEY,
  managed_id TEXT NOT NULL,
  managed_name TEXT NOT NULL,
  target TEXT NOT NULL,
  agent TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  round TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  offered_at BIGINT NOT NULL,
  deadline BIGINT NOT NULL,
  fetched_at BIGINT,
  reported_at BIGINT,
  outcome TEXT,
  certificate_pem TEXT NOT NULL,
  chain_pem TEXT NOT NULL,
  sealed_key BLOB
);
CREATE INDEX agent_deployments_agent ON agent_deployments (agent, state, offered_at);
CREATE INDEX agent_deployments_managed ON agent_deployments (managed_id, target, state);
)sql"},
}};

constexpr std::string_view kColumns =
    "id, managed_id, managed_name, target, agent, fingerprint, round, spec, state, offered_at, "
    "deadline, fetched_at, reported_at, outcome";

constexpr std::array<AgentDeploymentState, 6> kStates = {
    AgentDeploymentState::kPending,   AgentDeploymentState::kFetched,
    AgentDeploymentState::kSucceeded, AgentDeploymentState::kFailed,
    AgentDeploymentState::kExpired,   AgentDeploymentState::kSuperseded};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<SysTime> time_at(const store::Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_unix(r.int64(i));
}

store::Value time_value(const std::optional<SysTime>& t) {
  return t ? store::Value(to_unix(*t)) : store::Value(nullptr);
}

Result<AgentDeployment> to_deployment(const store::Row& r) {
  AgentDeployment d;
  d.id = r.text(0);
  d.managed_id = r.text(1);
  d.managed_name = r.text(2);
  d.target = r.text(3);
  d.agent = r.text(4);
  d.fingerprint = r.text(5);
  d.round = r.text(6);
  // Written by target_spec_json; one a stricter parser refuses is kept by name, and the agent
  // is given nothing it could apply (the spec has no file).
  auto spec = deploy::parse_target_spec(json::parse(r.text(7), nullptr, false));
  if (spec) {
    d.spec = *std::move(spec);
  } else {
    d.spec.name = d.target;
    d.spec.kind = deploy::TargetKind::kAgent;
    d.spec.agent = d.agent;
  }
  const std::string& state = r.text(8);
  const auto found = std::find_if(kStates.begin(), kStates.end(),
                                  [&](auto s) { return agent_deployment_state_name(s) == state; });
  if (found == kStates.end()) {
    return fail(ErrorCode::kInternal, "agent deployment " + d.id + " has state " + state);
  }
  d.state = *found;
  d.offered_at = from_unix(r.int64(9));
  d.deadline = from_unix(r.int64(10));
  d.fetched_at = time_at(r, 11);
  d.reported_at = time_at(r, 12);
  if (auto outcome = r.optional_text(13)) d.outcome = json::parse(*outcome, nullptr, false);
  if (d.outcome.is_discarded()) d.outcome = nullptr;
  return d;
}

Result<std::vector<AgentDeployment>> to_list(const store::Rows& rows) {
  std::vector<AgentDeployment> out;
  for (const auto& r : rows) {
    CW_ASSIGN_OR_RETURN(auto d, to_deployment(r));
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

std::string_view agent_deployment_state_name(AgentDeploymentState s) {
  switch (s) {
    case AgentDeploymentState::kPending:
      return "pending";
    case AgentDeploymentState::kFetched:
      return "fetched";
    case AgentDeploymentState::kSucceeded:
      return "succeeded";
    case AgentDeploymentState::kFailed:
      return "failed";
    case AgentDeploymentState::kExpired:
      return "expired";
    case AgentDeploymentState::kSuperseded:
      return "superseded";
  }
  return "pending";
}

bool awaiting_report(AgentDeploymentState s) {
  return s == AgentDeploymentState::kPending || s == AgentDeploymentState::kFetched;
}

std::string agent_deployment_aad(std::string_view id) {
  return "agent-deployment:" + std::string(id);
}

json agent_deployment_json(const AgentDeployment& d) {
  auto opt_time = [](const std::optional<SysTime>& t) {
    return t ? json(format_time(*t)) : json(nullptr);
  };
  return {{"id", d.id},
          {"managed_id", d.managed_id},
          {"managed", d.managed_name},
          {"target", d.target},
          {"agent", d.agent},
          {"fingerprint", d.fingerprint},
          {"state", std::string(agent_deployment_state_name(d.state))},
          {"offered_at", format_time(d.offered_at)},
          {"deadline", format_time(d.deadline)},
          {"fetched_at", opt_time(d.fetched_at)},
          {"reported_at", opt_time(d.reported_at)},
          {"outcome", d.outcome}};
}

const store::SchemaModule kSchema{"agent_deployments", kMigrations};

Status AgentDeployStore::migrate(store::Database& db) {
  return db.migrate("agent_deployments", kMigrations);
}

Status AgentDeployStore::insert(store::Transaction& tx, const AgentDeployment& d,
                                const AgentDeploymentMaterial& m) const {
  return tx.execute(
      "INSERT INTO agent_deployments (" + std::string(kColumns) +
          ", certificate_pem, chain_pem, sealed_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?, ?, ?, ?)",
      store::params(d.id, d.managed_id, d.managed_name, d.target, d.agent, d.fingerprint, d.round,
                    dump(deploy::target_spec_json(d.spec)), agent_deployment_state_name(d.state),
                    to_unix(d.offered_at), to_unix(d.deadline), time_value(d.fetched_at),
                    time_value(d.reported_at),
                    d.outcome.is_null() ? store::Value(nullptr) : store::Value(dump(d.outcome)),
                    m.certificate_pem, m.chain_pem, m.sealed_key));
}

Result<std::optional<AgentDeployment>> AgentDeployStore::find(store::Transaction& tx,
                                                              std::string_view id,
                                                              bool lock) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT " + std::string(kColumns) +
                                                 " FROM agent_deployments WHERE id = ?" +
                                                 (lock ? " FOR UPDATE" : ""),
                                             store::params(id)));
  if (!row) return std::optional<AgentDeployment>();
  CW_ASSIGN_OR_RETURN(auto d, to_deployment(*row));
  return std::optional<AgentDeployment>(std::move(d));
}

Result<AgentDeploymentMaterial> AgentDeployStore::material(store::Transaction& tx,
                                                           std::string_view id) const {
  CW_ASSIGN_OR_RETURN(auto row, tx.query_one("SELECT certificate_pem, chain_pem, sealed_key FROM "
                                             "agent_deployments WHERE id = ?",
                                             store::params(id)));
  if (!row || row->is_null(2)) {
    return fail(ErrorCode::kNotFound, "agent deployment " + std::string(id) + " has no key");
  }
  return AgentDeploymentMaterial{row->text(0), row->text(1), row->blob(2)};
}

Result<std::vector<AgentDeployment>> AgentDeployStore::round(store::Transaction& tx,
                                                             std::string_view managed_id,
                                                             std::string_view fingerprint,
                                                             std::string_view round) const {
  CW_ASSIGN_OR_RETURN(
      auto rows, tx.query("SELECT " + std::string(kColumns) +
                              " FROM agent_deployments WHERE managed_id = ? AND fingerprint = ? "
                              "AND round = ? ORDER BY target, offered_at DESC, id",
                          store::params(managed_id, fingerprint, round)));
  CW_ASSIGN_OR_RETURN(auto all, to_list(rows));
  // The newest of each target; rows of one target are adjacent, newest first. Several offers in
  // the same second are told apart by state: one still awaiting a report is the newest.
  std::vector<AgentDeployment> newest;
  for (auto& d : all) {
    if (!newest.empty() && newest.back().target == d.target) {
      if (awaiting_report(d.state) && !awaiting_report(newest.back().state)) newest.back() = d;
      continue;
    }
    newest.push_back(std::move(d));
  }
  return newest;
}

Result<std::vector<AgentDeployment>> AgentDeployStore::awaiting(std::string_view agent,
                                                                int limit) const {
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(
      auto rows, tx->query("SELECT " + std::string(kColumns) +
                               " FROM agent_deployments WHERE agent = ? AND state IN ('pending', "
                               "'fetched') ORDER BY offered_at, id LIMIT ?",
                           store::params(agent, static_cast<std::int64_t>(limit))));
  return to_list(rows);
}

Result<std::int64_t> AgentDeployStore::supersede(store::Transaction& tx,
                                                 std::string_view managed_id,
                                                 const std::optional<std::string>& target) const {
  if (target) {
    return tx.execute_count(
        "UPDATE agent_deployments SET state = 'superseded', sealed_key = NULL WHERE managed_id = "
        "? AND target = ? AND state IN ('pending', 'fetched')",
        store::params(managed_id, *target));
  }
  return tx.execute_count(
      "UPDATE agent_deployments SET state = 'superseded', sealed_key = NULL WHERE managed_id = ? "
      "AND state IN ('pending', 'fetched')",
      store::params(managed_id));
}

Result<bool> AgentDeployStore::update(store::Transaction& tx, const AgentDeployment& d) const {
  const bool keep_key = awaiting_report(d.state);
  CW_ASSIGN_OR_RETURN(
      auto n,
      tx.execute_count(
          std::string("UPDATE agent_deployments SET state = ?, fetched_at = ?, reported_at = ?, "
                      "outcome = ?") +
              (keep_key ? "" : ", sealed_key = NULL") +
              " WHERE id = ? AND state IN ('pending', 'fetched')",
          store::params(agent_deployment_state_name(d.state), time_value(d.fetched_at),
                        time_value(d.reported_at),
                        d.outcome.is_null() ? store::Value(nullptr) : store::Value(dump(d.outcome)),
                        d.id)));
  return n == 1;
}

}  // namespace certward::lifecycle
