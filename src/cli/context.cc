#include "cli/context.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace certward::cli {
namespace {

std::string local_actor() {
  const passwd* pw = ::getpwuid(::geteuid());
  return std::string("local:") + (pw ? pw->pw_name : std::to_string(::geteuid()));
}

Status prepare_data_dir(const std::string& dir, Init mode) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return ok();
  if (mode == Init::kOpenExisting) {
    return fail(ErrorCode::kNotFound,
                "data directory " + dir + " does not exist (run 'certward init' first)");
  }
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kUnavailable, "cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  return ok();
}

}  // namespace

Result<std::unique_ptr<Context>> Context::open(const std::optional<std::string>& config_path,
                                               const std::optional<std::string>& data_dir,
                                               Init mode) {
  std::unique_ptr<Context> c(new Context());
  auto env = process_environment();
  if (data_dir) env["CERTWARD_DATA_DIR"] = *data_dir;
  CW_ASSIGN_OR_RETURN(c->config_, load_config(config_path, env));
  CW_ASSIGN_OR_RETURN(c->profiles_, ca::ProfileSet::create(c->config_.profiles));
  c->actor_ = local_actor();

  const Config& cfg = c->config_;
  store::DatabaseConfig dbc;
  dbc.pool_size = cfg.database.pool_size;
  if (cfg.database.driver == "postgres") {
    dbc.driver = store::Driver::kPostgres;
    dbc.postgres_url = cfg.database.url;
  } else {
    CW_RETURN_IF_ERROR(prepare_data_dir(cfg.data_dir, mode));
    dbc.driver = store::Driver::kSqlite;
    dbc.sqlite_path = cfg.database.path;
  }
  if (mode == Init::kCreate) CW_RETURN_IF_ERROR(prepare_data_dir(cfg.data_dir, mode));
  CW_ASSIGN_OR_RETURN(c->db_, store::Database::open(dbc));
  CW_RETURN_IF_ERROR(audit::AuditLog::migrate(*c->db_));
  CW_RETURN_IF_ERROR(inventory::Inventory::migrate(*c->db_));
  CW_RETURN_IF_ERROR(ca::AuthorityService::migrate(*c->db_));

  CW_ASSIGN_OR_RETURN(c->wrapper_,
                      ca::load_master_key(cfg.ca, env,
                                          mode == Init::kCreate ? ca::MasterKeyMode::kCreateIfMissing
                                                                : ca::MasterKeyMode::kMustExist));
  c->authorities_ = std::make_unique<ca::AuthorityService>(c->clock_, *c->db_, *c->wrapper_,
                                                           c->audit_, c->inventory_, cfg.ca);
  c->enrollment_ = std::make_unique<ca::Enrollment>(c->clock_, *c->db_, *c->authorities_,
                                                    c->profiles_, c->inventory_, c->audit_);
  return c;
}

}  // namespace certward::cli
