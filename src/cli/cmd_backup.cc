// backup FILE and restore FILE (cli/backup.h).

#include "cli/backup.h"
#include "cli/commands.h"

namespace certward::cli {

namespace {

void print_backup(const nlohmann::json& doc) {
  std::printf("backup written to %s\n", doc.value("file", "").c_str());
  std::printf("  taken at        %s\n", doc.value("taken_at", "").c_str());
  std::printf("  certificates    %lld\n", static_cast<long long>(doc.value("certificates", 0)));
  std::printf("  audit head      %s\n", doc.value("audit_head", "").c_str());
  std::printf("  master key      %s\n", doc.value("master_key_included", false)
                                            ? "included, sealed under the passphrase"
                                            : "not included: keep it safe apart from the backup");
}

void print_restore(const nlohmann::json& doc) {
  std::printf("restored %s from the backup taken at %s\n", doc.value("database", "").c_str(),
              doc.value("taken_at", "").c_str());
  std::printf("  certificates    %lld\n", static_cast<long long>(doc.value("certificates", 0)));
  std::printf("  audit head      %s (chain verified)\n", doc.value("audit_head", "").c_str());
  std::printf("  master key      %s\n", doc.value("master_key", "").c_str());
  if (const std::string out = doc.value("config_written", ""); !out.empty())
    std::printf("  configuration   written to %s\n", out.c_str());
}

}  // namespace

void add_backup_commands(CLI::App& app, Globals& g) {
  {
    auto o = std::make_shared<BackupOptions>();
    auto* cmd = app.add_subcommand(
        "backup", "write an online, consistent backup of the local SQLite deployment to FILE");
    cmd->add_option("file", o->file, "the backup file to create (must not exist)")->required();
    cmd->add_flag("--include-master-key", o->include_master_key,
                  "carry the master key too, sealed under a passphrase (--passphrase-file or "
                  "CERTWARD_BACKUP_PASSPHRASE)");
    cmd->add_option("--passphrase-file", o->passphrase_file,
                    "file holding the passphrase for --include-master-key");
    cmd->callback([&g, o] {
      o->config_path = g.config;
      if (!g.server) {
        if (Status supported = check_backup_supported(g.config, g.data_dir); !supported) {
          g.exit_code = report_error(supported.error());
          return;
        }
      }
      bool audit_broken = false;
      run(g, Init::kOpenExisting, [&](Context& c) -> Status {
        CW_ASSIGN_OR_RETURN(nlohmann::json doc, create_backup(c, *o, audit_broken));
        if (g.json)
          print_json(doc);
        else
          print_backup(doc);
        return ok();
      });
      if (audit_broken) g.exit_code = kExitAuditBroken;
    });
  }
  {
    auto o = std::make_shared<RestoreOptions>();
    auto* cmd = app.add_subcommand(
        "restore",
        "check a backup (audit chain, master key, schema) and restore it into an empty data "
        "directory");
    cmd->add_option("file", o->file, "the backup file")->required();
    cmd->add_option("--passphrase-file", o->passphrase_file,
                    "passphrase of a backup that carries the master key (or "
                    "CERTWARD_BACKUP_PASSPHRASE); used only when no master key is configured");
    cmd->add_option("--checkpoint", o->checkpoint,
                    "SEQ:HASH printed by an earlier audit verify and kept outside certward: the "
                    "backup must hold that event unchanged (refuses an older or rewritten one)");
    cmd->add_option("--write-config", o->config_out,
                    "also write the configuration file the backup carries to this new file");
    cmd->callback([&g, o] {
      if (g.server) {
        g.exit_code =
            report_error({ErrorCode::kInvalidArgument,
                          "restore writes the local data directory; run it without --server"});
        return;
      }
      o->config_path = g.config;
      o->data_dir = g.data_dir;
      bool audit_broken = false;
      auto doc = restore_backup(*o, audit_broken);
      if (!doc) {
        g.exit_code = report_error(doc.error());
        if (audit_broken) g.exit_code = kExitAuditBroken;
        return;
      }
      if (g.json)
        print_json(*doc);
      else
        print_restore(*doc);
    });
  }
}

}  // namespace certward::cli
