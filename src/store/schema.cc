#include "store/schema.h"

#include <algorithm>
#include <map>

#include "common/mutex.h"

namespace certward::store {

namespace {

// Filled during static initialisation, before main() and before any other thread exists;
// the mutex keeps later readers honest anyway.
struct Registry {
  common::Mutex mu;
  std::map<std::string, int, std::less<>> latest CW_GUARDED_BY(mu);
};

Registry& registry() {
  static Registry r;
  return r;
}

void add(std::string_view module, int latest) {
  Registry& r = registry();
  common::MutexLock lock(r.mu);
  int& v = r.latest[std::string(module)];
  v = std::max(v, latest);
}

}  // namespace

SchemaModule::SchemaModule(std::string_view module, std::span<const Migration> migrations) {
  add(module, migrations.empty() ? 0 : migrations.back().version);
}

SchemaModule::SchemaModule(std::string_view module, int latest) { add(module, latest); }

std::vector<ModuleVersion> known_schema() {
  Registry& r = registry();
  common::MutexLock lock(r.mu);
  std::vector<ModuleVersion> out;
  for (const auto& [module, version] : r.latest) out.push_back({module, version});
  return out;
}

int schema_version() {
  int sum = 0;
  for (const ModuleVersion& m : known_schema()) sum += m.version;
  return sum;
}

int known_version(std::string_view module) {
  Registry& r = registry();
  common::MutexLock lock(r.mu);
  auto it = r.latest.find(module);
  return it == r.latest.end() ? 0 : it->second;
}

Status refuse_newer_schema(Database& db) {
  CW_ASSIGN_OR_RETURN(auto tx, db.begin(TxMode::kRead));
  // Asked of the catalogue first: a failed SELECT would leave PostgreSQL's transaction
  // aborted, and a brand-new database has nothing to refuse.
  const std::string_view exists =
      db.dialect() == Dialect::kPostgres
          ? "SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL"
          : "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'";
  CW_ASSIGN_OR_RETURN(std::optional<Row> table, tx->query_one(exists));
  if (!table) return ok();
  CW_ASSIGN_OR_RETURN(
      Rows rows, tx->query("SELECT module, MAX(version) FROM schema_migrations GROUP BY module "
                           "ORDER BY module"));
  for (const Row& row : rows) {
    const std::string& module = row.text(0);
    const std::int64_t applied = row.optional_int64(1).value_or(0);
    const int known = known_version(module);
    if (known == 0) {
      return fail(ErrorCode::kConflict,
                  "store: the database holds schema module '" + module + "' (version " +
                      std::to_string(applied) +
                      ") that this build of certward does not know: it was written by a newer "
                      "certward; run that version, or restore a backup taken before the "
                      "upgrade");
    }
    if (applied > known) {
      return fail(ErrorCode::kConflict,
                  "store: the database holds " + module + " schema version " +
                      std::to_string(applied) + " but this build knows only up to " +
                      std::to_string(known) +
                      ": it was written by a newer certward; run that version, or restore a "
                      "backup taken before the upgrade");
    }
  }
  return ok();
}

}  // namespace certward::store
