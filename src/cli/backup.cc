#include "cli/backup.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "ca/master_key.h"
#include "cli/output.h"
#include "common/file.h"
#include "crypto/passphrase.h"
#include "store/schema.h"
#include "store/snapshot.h"

namespace certward::cli {

namespace {

constexpr std::string_view kFormat = "1";
constexpr std::string_view kKeyCheckAad = "certward backup key check";
constexpr std::string_view kSealedKeyAad = "certward backup master key";
constexpr std::string_view kContentAad = "certward backup content";
constexpr std::string_view kSchemaAad = "certward backup schema";
// Exactly as SQLite keeps it in sqlite_master; restore reads the table only if so declared.
constexpr std::string_view kBackupTableSql =
    "CREATE TABLE certward_backup (name TEXT PRIMARY KEY, value TEXT NOT NULL)";
constexpr std::string_view kPassphraseEnv = "CERTWARD_BACKUP_PASSPHRASE";
constexpr std::size_t kMinPassphrase = 12;
constexpr std::size_t kMaxConfigBytes = 1 << 20;
// What a backup's own table may hold: a few dozen entries, the largest the configuration.
constexpr std::size_t kMaxMetaRows = 64;
constexpr std::size_t kMaxMetaValue = kMaxConfigBytes + 4096;

using Meta = std::map<std::string, std::string>;

Result<std::unique_ptr<store::Database>> open_file(const std::string& path) {
  store::DatabaseConfig dbc;
  dbc.driver = store::Driver::kSqlite;
  dbc.sqlite_path = path;
  dbc.pool_size = 1;
  return store::Database::open(dbc);
}

Result<std::int64_t> count(store::Database& db, std::string_view sql) {
  CW_ASSIGN_OR_RETURN(auto tx, db.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(std::optional<store::Row> row, tx->query_one(sql));
  return row ? row->optional_int64(0).value_or(0) : 0;
}

std::string head_text(const audit::Checkpoint& head) {
  return std::to_string(head.seq) + ":" + head.hash;
}

Result<crypto::SecretBytes> passphrase(const std::optional<std::string>& file) {
  CW_ASSIGN_OR_RETURN(auto secret, read_secret_bytes(file, std::string(kPassphraseEnv)));
  if (!secret || secret->size() == 0) {
    return fail(ErrorCode::kInvalidArgument,
                "the master key travels only under a passphrase: give --passphrase-file or "
                "set " +
                    std::string(kPassphraseEnv));
  }
  return std::move(*secret);
}

// The master key sealed under a key derived from the passphrase, as JSON text.
Result<std::string> seal_master_key(const crypto::SecretBytes& master,
                                    const crypto::SecretBytes& pass) {
  const Bytes salt = crypto::random_bytes(16);
  const crypto::ScryptParams params;
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes derived,
                      crypto::derive_key_scrypt(pass.chars(), salt, params));
  CW_ASSIGN_OR_RETURN(auto wrapper, crypto::KeyWrapper::create(std::move(derived)));
  CW_ASSIGN_OR_RETURN(Bytes sealed, wrapper.seal(master.span(), kSealedKeyAad));
  return nlohmann::json{{"kdf", "scrypt"}, {"n", params.n},           {"r", params.r},
                        {"p", params.p},   {"salt", to_base64(salt)}, {"sealed", to_base64(sealed)}}
      .dump();
}

Result<crypto::SecretBytes> open_master_key(std::string_view text,
                                            const crypto::SecretBytes& pass) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  const auto bad = [] {
    return fail(ErrorCode::kMalformed, "the backup's sealed master key is damaged");
  };
  if (!doc.is_object() || doc.value("kdf", "") != "scrypt") return bad();
  for (const char* field : {"n", "r", "p"}) {
    if (!doc.contains(field) || !doc[field].is_number_unsigned()) return bad();
  }
  for (const char* field : {"salt", "sealed"}) {
    if (!doc.contains(field) || !doc[field].is_string()) return bad();
  }
  auto salt = from_base64(doc["salt"].get<std::string>());
  auto sealed = from_base64(doc["sealed"].get<std::string>());
  if (!salt || !sealed) return bad();
  crypto::ScryptParams params{doc["n"].get<std::uint64_t>(), doc["r"].get<std::uint64_t>(),
                              doc["p"].get<std::uint64_t>()};
  auto derived = crypto::derive_key_scrypt(pass.chars(), *salt, params);
  if (!derived) return bad();
  CW_ASSIGN_OR_RETURN(auto wrapper, crypto::KeyWrapper::create(std::move(*derived)));
  auto key = wrapper.open(*sealed, kSealedKeyAad);
  if (!key) return fail(ErrorCode::kBadPassword, "wrong passphrase for the backup's master key");
  return std::move(*key);
}

// Whether `key` is the key the backup's check value was sealed under: AES-GCM opens the value
// only under the same key, and says nothing about the key otherwise.
Result<bool> key_matches(const crypto::SecretBytes& key, const Meta& meta) {
  auto it = meta.find("key_check");
  auto check = it == meta.end() ? std::nullopt : std::optional(from_base64(it->second));
  if (!check || !*check) return fail(ErrorCode::kMalformed, "the backup has no key check value");
  crypto::SecretBytes copy(key.span());
  CW_ASSIGN_OR_RETURN(auto wrapper, crypto::KeyWrapper::create(std::move(copy)));
  return wrapper.open(**check, kKeyCheckAad).has_value();
}

void append_field(std::string& out, std::string_view v) {
  const std::uint64_t n = v.size();
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  out.append(v);
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void append_schema_entry(std::string& out, std::string_view type, std::string_view name,
                         std::string_view sql) {
  append_field(out, "schema");
  append_field(out, type);
  append_field(out, name);
  append_field(out, sql);
}

// SHA-256 over the schema alone (every table, index, trigger and view but the backup's own
// table), read without evaluating anything it declares: sealed separately so that restore
// can refuse a schema built to exhaust memory or time (a generated column, an expression
// index) before anything evaluates it.
Result<Bytes> schema_digest(const std::string& path) {
  std::string top;
  store::ContentVisitor visit;
  visit.schema = [&](std::string_view type, std::string_view name, std::string_view sql) {
    append_schema_entry(top, type, name, sql);
  };
  CW_RETURN_IF_ERROR(store::sqlite_visit_content(path, "certward_backup", visit));
  return crypto::sha256(bytes_of(top));
}

// SHA-256 over everything the database holds but the backup's own table: its schema and each
// table's rows, hashed row by row and sorted, so that neither the order a copy keeps rows in
// nor the rowids it gives them changes the digest.
Result<Bytes> content_digest(const std::string& path) {
  std::string top;
  std::vector<Bytes> rows;
  store::ContentVisitor visit;
  visit.schema = [&](std::string_view type, std::string_view name, std::string_view sql) {
    append_schema_entry(top, type, name, sql);
  };
  visit.row = [&](std::string_view, std::string_view row) {
    rows.push_back(crypto::sha256(bytes_of(row)));
  };
  visit.table_done = [&](std::string_view table) {
    std::sort(rows.begin(), rows.end());
    std::string all;
    all.reserve(rows.size() * 32);
    for (const Bytes& h : rows) all.append(reinterpret_cast<const char*>(h.data()), h.size());
    append_field(top, "table");
    append_field(top, table);
    append_field(top, std::to_string(rows.size()));
    const Bytes h = crypto::sha256(bytes_of(all));
    append_field(top, std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
    rows.clear();
  };
  CW_RETURN_IF_ERROR(store::sqlite_visit_content(path, "certward_backup", visit));
  return crypto::sha256(bytes_of(top));
}

// What the content MAC covers: the database's digest and every entry of the backup's own
// table but the MAC, so that neither the data nor what the backup says about it (the
// configuration it would write, the audit head it is checked against) can be changed by
// anyone without the master key.
std::string mac_input(const Bytes& digest, const Meta& meta) {
  std::string out(reinterpret_cast<const char*>(digest.data()), digest.size());
  for (const auto& [name, value] : meta) {
    if (name == "content_mac") continue;
    append_field(out, name);
    append_field(out, value);
  }
  return out;
}

// Errors: kMalformed when `actual` is not what was sealed under `key` as meta[`entry`] at
// backup time.
Status check_sealed(const crypto::SecretBytes& key, const Meta& meta, const std::string& entry,
                    std::string_view aad, const Bytes& actual) {
  const auto altered = [] {
    return fail(ErrorCode::kMalformed,
                "the backup was altered after it was taken (its content no longer matches "
                "what was sealed under the master key); nothing was restored");
  };
  auto it = meta.find(entry);
  if (it == meta.end()) return altered();
  auto sealed = from_base64(it->second);
  if (!sealed) return altered();
  crypto::SecretBytes copy(key.span());
  CW_ASSIGN_OR_RETURN(auto wrapper, crypto::KeyWrapper::create(std::move(copy)));
  auto expected = wrapper.open(*sealed, aad);
  if (!expected || expected->size() != actual.size() ||
      !std::equal(actual.begin(), actual.end(), expected->data())) {
    return altered();
  }
  return ok();
}

// Links `from` to `to` only if nothing is at `to`, then drops `from`: unlike rename(), never
// replaces a database that appeared meanwhile.
Status place(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return fail(ErrorCode::kConflict, to + " appeared during the restore");
    return fail(ErrorCode::kUnavailable, "cannot create " + to + ": " + std::strerror(errno));
  }
  ::unlink(from.c_str());
  const std::string dir = std::filesystem::path(to).parent_path().string();
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return ok();
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

Status check_backup_supported(const std::optional<std::string>& config_path,
                              const std::optional<std::string>& data_dir) {
  auto env = process_environment();
  if (data_dir) env["CERTWARD_DATA_DIR"] = *data_dir;
  CW_ASSIGN_OR_RETURN(Config cfg, load_config(config_path, env));
  if (cfg.database.driver != "sqlite") {
    return fail(ErrorCode::kInvalidArgument,
                "certward backup copies the embedded SQLite database; for PostgreSQL use "
                "pg_dump or pg_basebackup and keep the master key (docs/operations.md)");
  }
  return ok();
}

Result<nlohmann::json> create_backup(Context& c, const BackupOptions& o, bool& audit_broken) {
  audit_broken = false;
  const Config& cfg = c.config();
  if (cfg.database.driver != "sqlite") {
    return fail(ErrorCode::kInvalidArgument,
                "certward backup copies the embedded SQLite database; for PostgreSQL use "
                "pg_dump or pg_basebackup and keep the master key (docs/operations.md)");
  }
  if (o.file.empty()) return fail(ErrorCode::kInvalidArgument, "give the backup file's path");
  if (exists(o.file)) return fail(ErrorCode::kConflict, o.file + " already exists");
  const auto env = process_environment();

  // Everything that can be refused is asked before the copy is made.
  CW_ASSIGN_OR_RETURN(crypto::SecretBytes master, ca::read_master_key(cfg.ca, env));
  std::optional<std::string> sealed_master;
  if (o.include_master_key) {
    CW_ASSIGN_OR_RETURN(crypto::SecretBytes pass, passphrase(o.passphrase_file));
    if (pass.size() < kMinPassphrase) {
      return fail(ErrorCode::kInvalidArgument, "the passphrase must be at least " +
                                                   std::to_string(kMinPassphrase) + " characters");
    }
    CW_ASSIGN_OR_RETURN(sealed_master, seal_master_key(master, pass));
  }
  std::string config_text;
  if (o.config_path) {
    CW_ASSIGN_OR_RETURN(config_text, read_file(*o.config_path));
    if (config_text.size() > kMaxConfigBytes) {
      return fail(ErrorCode::kInvalidArgument, *o.config_path + " is larger than 1 MiB");
    }
  }

  // Written beside the destination under another name and moved into place once complete
  // and checked: a crash or an error leaves no file that looks like a backup.
  // The name is unpredictable: in a shared directory, nobody can plant it (or its -wal) first.
  const std::string partial = o.file + ".partial-" + to_hex(crypto::random_bytes(8));
  CW_RETURN_IF_ERROR(store::sqlite_snapshot(cfg.database.path, partial));
  auto result = [&]() -> Result<nlohmann::json> {
    CW_ASSIGN_OR_RETURN(Bytes schema, schema_digest(partial));
    CW_ASSIGN_OR_RETURN(Bytes digest, content_digest(partial));
    CW_ASSIGN_OR_RETURN(auto copy, open_file(partial));
    const audit::AuditLog copy_log(c.clock(), *copy);
    CW_ASSIGN_OR_RETURN(audit::VerifyReport report, copy_log.verify());
    if (!report.ok) {
      audit_broken = true;
      return fail(ErrorCode::kMalformed, "the audit chain does not verify (" + report.problem +
                                             "); no backup was written: see certward audit verify");
    }
    CW_ASSIGN_OR_RETURN(std::int64_t certificates,
                        count(*copy, "SELECT COUNT(*) FROM certificates"));
    crypto::SecretBytes check_key(master.span());
    CW_ASSIGN_OR_RETURN(auto wrapper, crypto::KeyWrapper::create(std::move(check_key)));
    CW_ASSIGN_OR_RETURN(Bytes check, wrapper.seal(crypto::random_bytes(32), kKeyCheckAad));
    const std::string taken_at = format_time(c.clock().now());
    Meta meta{{"format", std::string(kFormat)},
              {"certward_version", CERTWARD_VERSION},
              {"schema_version", std::to_string(store::schema_version())},
              {"taken_at", taken_at},
              {"audit_head", head_text(report.head)},
              {"audit_events", std::to_string(report.events_checked)},
              {"certificates", std::to_string(certificates)},
              {"master_key_source", ca::master_key_source(cfg.ca, env)},
              {"key_check", to_base64(check)}};
    if (o.config_path) {
      meta["config_path"] = *o.config_path;
      meta["config"] = config_text;
    }
    if (sealed_master) meta["master_key_sealed"] = *sealed_master;
    CW_ASSIGN_OR_RETURN(Bytes schema_mac, wrapper.seal(schema, kSchemaAad));
    meta["schema_mac"] = to_base64(schema_mac);
    const std::string input = mac_input(digest, meta);
    CW_ASSIGN_OR_RETURN(Bytes mac, wrapper.seal(crypto::sha256(bytes_of(input)), kContentAad));
    meta["content_mac"] = to_base64(mac);
    {
      CW_ASSIGN_OR_RETURN(auto tx, copy->begin());
      CW_RETURN_IF_ERROR(
          tx->execute("CREATE TABLE certward_backup (name TEXT PRIMARY KEY, value TEXT NOT NULL)"));
      for (const auto& [name, value] : meta) {
        CW_RETURN_IF_ERROR(tx->execute("INSERT INTO certward_backup (name, value) VALUES (?, ?)",
                                       store::params(name, value)));
      }
      CW_RETURN_IF_ERROR(tx->commit());
    }
    copy.reset();
    CW_RETURN_IF_ERROR(store::sqlite_seal_file(partial));
    // Audited before the file is published: a backup nobody recorded never appears, even
    // when the live database is too busy to take the event.
    {
      CW_ASSIGN_OR_RETURN(auto tx, c.db().begin());
      CW_RETURN_IF_ERROR(
          c.audit().append(*tx, audit::Event{c.actor(),
                                             "backup.create",
                                             "backup",
                                             o.file,
                                             {{"master_key_included", sealed_master.has_value()},
                                              {"audit_head", head_text(report.head)},
                                              {"certificates", certificates}}}));
      CW_RETURN_IF_ERROR(tx->commit());
    }
    CW_RETURN_IF_ERROR(place(partial, o.file));
    return nlohmann::json{{"file", o.file},
                          {"taken_at", taken_at},
                          {"certificates", certificates},
                          {"audit_events", report.events_checked},
                          {"audit_head", head_text(report.head)},
                          {"schema_version", store::schema_version()},
                          {"master_key_included", sealed_master.has_value()},
                          {"config_included", o.config_path.has_value()}};
  }();
  if (!result) {
    ::unlink(partial.c_str());
    for (const char* suffix : {"-wal", "-shm"}) ::unlink((partial + suffix).c_str());
  }
  return result;
}

namespace {

bool same_directory(const std::string& a, const std::string& b) {
  std::error_code ec;
  return std::filesystem::equivalent(a, b, ec);
}

// One restore into a database path at a time. Every live restore holds this lock for as long
// as it works, so whoever holds it knows that a `.restoring-*` copy beside the target is the
// leftover of a restore that died (killed, a power cut) and may remove it.
class RestoreLock {
 public:
  // Errors: kConflict (another restore into `target` is running), kUnavailable.
  static Result<std::unique_ptr<RestoreLock>> take(const std::string& target) {
    const std::string path = target + ".restore-lock";
    // A holder that finishes unlinks the file before closing it: whoever locked that unlinked
    // file must try again with the one now at the path.
    for (int attempt = 0; attempt < 8; ++attempt) {
      // Only a regular file is opened: a FIFO or a device planted there is refused before
      // open(2) can have an effect on it, and never unlinked.
      struct stat existing {};
      if (::lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
        return not_a_lock_file(path);
      }
      const int fd =
          ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
      if (fd < 0) {
        return fail(ErrorCode::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
      }
      struct stat opened {};
      if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode)) {
        ::close(fd);
        return not_a_lock_file(path);
      }
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        ::close(fd);
        if (err == EWOULDBLOCK) {
          return fail(ErrorCode::kConflict,
                      "another restore into " + target + " is running (it holds " + path + ")");
        }
        return fail(ErrorCode::kUnavailable, "cannot lock " + path + ": " + std::strerror(err));
      }
      struct stat held {};
      struct stat named {};
      if (::fstat(fd, &held) == 0 && ::lstat(path.c_str(), &named) == 0 &&
          held.st_dev == named.st_dev && held.st_ino == named.st_ino) {
        return std::unique_ptr<RestoreLock>(new RestoreLock(path, fd));
      }
      ::close(fd);
    }
    return fail(ErrorCode::kUnavailable, "cannot take " + path + ": it keeps being replaced");
  }

  ~RestoreLock() { release(); }
  RestoreLock(const RestoreLock&) = delete;
  RestoreLock& operator=(const RestoreLock&) = delete;

  void release() {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
  }

 private:
  RestoreLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  static std::unexpected<Error> not_a_lock_file(const std::string& path) {
    return fail(ErrorCode::kPolicyRejected,
                path + " is not a regular file: move it away before restoring");
  }
  std::string path_;
  int fd_;
};

// Removes the copies (and their journals) that restores into `target` left when they died;
// only called with the RestoreLock held. Returns how many files went.
std::size_t remove_stale_copies(const std::string& target) {
  const std::filesystem::path t(target);
  const std::string prefix = t.filename().string() + ".restoring-";
  // Exactly the names a restore writes: the prefix, 16 hex digits, then nothing or a journal.
  auto is_copy = [&](std::string_view name) {
    if (name.substr(0, prefix.size()) != prefix) return false;
    name.remove_prefix(prefix.size());
    if (name.size() < 16 || !std::all_of(name.begin(), name.begin() + 16, [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        })) {
      return false;
    }
    name.remove_prefix(16);
    return name.empty() || name == "-wal" || name == "-shm" || name == "-journal";
  };
  std::error_code ec;
  std::size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(directory_of(target), ec)) {
    const std::string name = entry.path().filename().string();
    if (!is_copy(name)) continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec) && !entry.is_symlink(type_ec)) continue;
    if (::unlink(entry.path().c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace

Result<nlohmann::json> restore_backup(const RestoreOptions& o, bool& audit_broken) {
  audit_broken = false;
  auto env = process_environment();
  if (o.data_dir) env["CERTWARD_DATA_DIR"] = *o.data_dir;
  CW_ASSIGN_OR_RETURN(Config cfg, load_config(o.config_path, env));
  if (cfg.database.driver != "sqlite") {
    return fail(ErrorCode::kInvalidArgument,
                "certward restore writes an embedded SQLite database; for PostgreSQL restore "
                "with pg_restore or psql (docs/operations.md)");
  }
  std::optional<audit::Checkpoint> checkpoint;
  if (o.checkpoint) {
    CW_ASSIGN_OR_RETURN(checkpoint, audit::parse_checkpoint(*o.checkpoint));
  }
  const std::string& target = cfg.database.path;
  // A -wal left by a process that died would be replayed into the restored database.
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (exists(target + suffix)) {
      return fail(ErrorCode::kConflict,
                  target + suffix +
                      " already exists: restore never replaces a "
                      "database; move it away (with its -wal and -shm) first");
    }
  }
  if (o.config_out && exists(*o.config_out)) {
    return fail(ErrorCode::kConflict, *o.config_out + " already exists");
  }
  if (!exists(o.file)) return fail(ErrorCode::kNotFound, o.file + " does not exist");

  // The directory is made here only as its last component, so that a refusal leaves nothing;
  // an existing one must be private before anything secret is written into it.
  bool made_dir = false;
  if (::mkdir(cfg.data_dir.c_str(), 0700) == 0) {
    made_dir = true;
  } else if (errno != EEXIST) {  // EEXIST: there already, or another restore made it first
    return fail(ErrorCode::kUnavailable,
                "cannot create " + cfg.data_dir + ": " + std::strerror(errno));
  }
  Status private_dir = check_private_directory(cfg.data_dir);
  // The database may be configured outside the data directory: its directory receives the
  // copy, the lock and the database, so it must be as private.
  const std::string target_dir = directory_of(target);
  if (private_dir && !same_directory(target_dir, cfg.data_dir)) {
    private_dir = check_private_directory(target_dir);
  }
  if (!private_dir) {
    if (made_dir) ::rmdir(cfg.data_dir.c_str());
    return std::unexpected(private_dir.error());
  }
  auto lock = RestoreLock::take(target);
  if (!lock) {
    if (made_dir) ::rmdir(cfg.data_dir.c_str());
    return std::unexpected(lock.error());
  }
  const std::size_t stale_removed = remove_stale_copies(target);
  // Unpredictable, so that no one can prepare a file at the name this restore will write.
  const std::string partial = target + ".restoring-" + to_hex(crypto::random_bytes(8));
  std::vector<std::string> written;  // removed again if the restore fails
  auto undo = [&] {
    for (const std::string& path : written) ::unlink(path.c_str());
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      ::unlink((partial + suffix).c_str());
    }
    (*lock)->release();
    if (made_dir) ::rmdir(cfg.data_dir.c_str());
  };

  std::string key_state;
  Meta meta;
  Status checked = [&]() -> Status {
    // Copied, not opened in place, and read as plain data through a read-only, defensive
    // connection until the master key has vouched for every byte: nothing in the file (a
    // view, a trigger, an altered index) runs or counts before that.
    CW_RETURN_IF_ERROR(store::sqlite_copy_foreign(o.file, partial));
    auto pairs = store::sqlite_read_pairs(partial, "certward_backup", kBackupTableSql, kMaxMetaRows,
                                          kMaxMetaValue);
    if (!pairs && pairs.error().code == ErrorCode::kNotFound) {
      return fail(ErrorCode::kMalformed, "not a certward backup (no certward_backup table)");
    }
    if (!pairs) return std::unexpected(pairs.error());
    meta = std::move(*pairs);
    if (meta["format"] != kFormat) {
      return fail(ErrorCode::kMalformed,
                  "unknown backup format '" + meta["format"].substr(0, 40) + "'");
    }
    CW_ASSIGN_OR_RETURN(Bytes schema, schema_digest(partial));

    std::optional<crypto::SecretBytes> key;
    auto here = ca::read_master_key(cfg.ca, env);
    if (here) {
      CW_ASSIGN_OR_RETURN(bool same, key_matches(*here, meta));
      if (!same) {
        return fail(ErrorCode::kBadPassword,
                    "the master key from " + ca::master_key_source(cfg.ca, env) +
                        " is not the one this backup's CA keys are sealed under");
      }
      key_state = "existing";
      key = std::move(*here);
    } else if (here.error().code != ErrorCode::kNotFound) {
      return std::unexpected(here.error());
    } else if (auto it = meta.find("master_key_sealed"); it != meta.end()) {
      CW_ASSIGN_OR_RETURN(crypto::SecretBytes pass, passphrase(o.passphrase_file));
      CW_ASSIGN_OR_RETURN(crypto::SecretBytes carried, open_master_key(it->second, pass));
      CW_ASSIGN_OR_RETURN(bool same, key_matches(carried, meta));
      if (!same) return fail(ErrorCode::kMalformed, "the backup's master key fails its own check");
      key_state = "restored";
      key = std::move(carried);
    } else {
      return fail(ErrorCode::kNotFound,
                  "no master key at " + cfg.ca.master_key_file +
                      " and the backup does not carry one: copy the key from the original host "
                      "(or set CERTWARD_MASTER_KEY), or take the backup with --include-master-key");
    }
    // The schema first, read without evaluating anything in it; only a schema this
    // deployment wrote is then re-indexed, checked and read row by row.
    CW_RETURN_IF_ERROR(check_sealed(*key, meta, "schema_mac", kSchemaAad, schema));
    CW_RETURN_IF_ERROR(store::sqlite_rebuild_and_check(partial));
    CW_ASSIGN_OR_RETURN(Bytes digest, content_digest(partial));
    const std::string input = mac_input(digest, meta);
    CW_RETURN_IF_ERROR(
        check_sealed(*key, meta, "content_mac", kContentAad, crypto::sha256(bytes_of(input))));

    // Vouched for: from here on it is certward's own database.
    CW_ASSIGN_OR_RETURN(auto db, open_file(partial));
    CW_RETURN_IF_ERROR(store::refuse_newer_schema(*db));
    const SystemClock clock;
    const audit::AuditLog log(clock, *db);
    CW_ASSIGN_OR_RETURN(audit::VerifyReport report, log.verify(checkpoint));
    if (!report.ok || head_text(report.head) != meta["audit_head"] ||
        (checkpoint && !report.checkpoint_matched)) {
      audit_broken = true;
      const std::string why = !report.ok ? " (" + report.problem + ")"
                              : head_text(report.head) != meta["audit_head"]
                                  ? " to the head recorded when it was taken"
                                  : " through checkpoint " + *o.checkpoint +
                                        ": it is older than that event, or "
                                        "its history was rewritten";
      return fail(ErrorCode::kMalformed,
                  "the backup's audit chain does not verify" + why + "; nothing was restored");
    }

    if (key_state == "restored") {
      CW_RETURN_IF_ERROR(ca::write_master_key_file(cfg.ca.master_key_file, *key));
      written.push_back(cfg.ca.master_key_file);
    }
    if (o.config_out && !meta.contains("config")) {
      return fail(ErrorCode::kNotFound, "the backup carries no configuration file");
    }
    {
      CW_ASSIGN_OR_RETURN(auto tx, db->begin());
      CW_RETURN_IF_ERROR(tx->execute("DROP TABLE certward_backup"));
      CW_RETURN_IF_ERROR(tx->commit());
    }
    db.reset();
    CW_RETURN_IF_ERROR(store::sqlite_seal_file(partial));
    if (o.config_out) {
      CW_RETURN_IF_ERROR(create_file_exclusive(*o.config_out, meta["config"], 0600));
      written.push_back(*o.config_out);
    }
    CW_RETURN_IF_ERROR(place(partial, target));
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) written.push_back(target + suffix);
    return ok();
  }();
  if (!checked) {
    undo();
    return std::unexpected(checked.error());
  }

  // Opened as every command opens it: migrations from an older schema run here, and the
  // restore is the first event of the restored chain's new life. A failure here (a
  // configuration this binary refuses) takes the restored files away again.
  auto opened = [&]() -> Result<nlohmann::json> {
    CW_ASSIGN_OR_RETURN(auto c, Context::open(o.config_path, o.data_dir, Init::kOpenExisting));
    {
      CW_ASSIGN_OR_RETURN(auto tx, c->db().begin());
      CW_RETURN_IF_ERROR(c->audit().append(*tx, audit::Event{c->actor(),
                                                             "backup.restore",
                                                             "backup",
                                                             o.file,
                                                             {{"taken_at", meta["taken_at"]},
                                                              {"audit_head", meta["audit_head"]},
                                                              {"master_key", key_state}}}));
      CW_RETURN_IF_ERROR(tx->commit());
    }
    CW_ASSIGN_OR_RETURN(std::int64_t certificates,
                        count(c->db(), "SELECT COUNT(*) FROM certificates"));
    CW_ASSIGN_OR_RETURN(audit::VerifyReport after, c->audit().verify());
    if (!after.ok) {
      audit_broken = true;
      return fail(ErrorCode::kMalformed, "the restored audit chain does not verify (" +
                                             after.problem + "); the restore was undone");
    }
    return nlohmann::json{{"database", target},
                          {"taken_at", meta["taken_at"]},
                          {"backup_certward_version", meta["certward_version"]},
                          {"backup_schema_version", meta["schema_version"]},
                          {"schema_version", store::schema_version()},
                          {"certificates", certificates},
                          {"audit_head", head_text(after.head)},
                          {"master_key", key_state},
                          {"config_written", o.config_out.value_or("")},
                          {"stale_copies_removed", stale_removed}};
  }();
  if (!opened) undo();
  return opened;
}

}  // namespace certward::cli
