#pragma once
// The schema as a whole. Each module owns its migrations (Database::migrate), and registers
// the newest version it knows here at static initialisation, so that a process can tell,
// before it migrates anything, whether a database was written by a newer certward: one
// that holds a module this build has never heard of, or a module at a version beyond this
// build's. Such a database is refused instead of half-migrated by a binary that cannot read
// what it holds.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "store/store.h"

namespace certward::store {

// Registers `module` at the newest version of `migrations` (or at `latest` when a module
// builds its list at run time). Define one per module, at namespace scope, in the file that
// calls Database::migrate for it:
//   const store::SchemaModule kSchema{"ca", kMigrations};
class SchemaModule {
 public:
  SchemaModule(std::string_view module, std::span<const Migration> migrations);
  SchemaModule(std::string_view module, int latest);
};

struct ModuleVersion {
  std::string module;
  int version = 0;
};

// Every module linked into this binary, by name, with its newest version.
std::vector<ModuleVersion> known_schema();

// One number that grows with every migration any module adds (the sum of the modules'
// newest versions): what `certward --version` reports. Released migrations are never
// removed, so a newer build always has a larger number.
int schema_version();

// The newest version this binary registered for `module`, or 0 if it registered none.
int known_version(std::string_view module);

// Errors: kConflict when `db` holds a module this binary does not know or a version newer
// than it knows (the database was written by a newer certward: a downgrade), naming the
// module; the database is left as it was. A database without schema_migrations is new.
[[nodiscard]] Status refuse_newer_schema(Database& db);

}  // namespace certward::store
