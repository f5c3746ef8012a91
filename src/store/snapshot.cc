#include "store/snapshot.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace certward::store {

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

Result<DbHandle> open_file(const std::string& path, int flags) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOFOLLOW, nullptr);
  DbHandle db(raw);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kUnavailable, "store: cannot open " + path + ": " +
                                             (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // A backup may come from anywhere: no schema trick in it may write files or run code.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_busy_timeout(db.get(), 30'000);
  // No value certward writes comes near this; a file built to make one huge (a generated
  // column of zeroblob(1e9)) fails instead of taking the memory.
  sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, 64 << 20);
  return db;
}

Status fail_sqlite(sqlite3* db, int rc, const std::string& what) {
  const ErrorCode code = (rc == SQLITE_NOTADB || rc == SQLITE_CORRUPT) ? ErrorCode::kMalformed
                                                                       : ErrorCode::kUnavailable;
  return fail(code, "store: " + what + ": " + sqlite3_errmsg(db));
}

Status fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(ErrorCode::kUnavailable, "cannot open " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return fail(ErrorCode::kUnavailable, "cannot fsync " + path + ": " + std::strerror(errno));
  return ok();
}

void append_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void append_value(std::string& out, sqlite3_stmt* stmt, int column) {
  const int type = sqlite3_column_type(stmt, column);
  out.push_back(static_cast<char>(type));
  switch (type) {
    case SQLITE_INTEGER:
      append_u64(out, static_cast<std::uint64_t>(sqlite3_column_int64(stmt, column)));
      break;
    case SQLITE_FLOAT: {
      const double d = sqlite3_column_double(stmt, column);
      std::uint64_t bits = 0;
      std::memcpy(&bits, &d, sizeof bits);
      append_u64(out, bits);
      break;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const void* data = type == SQLITE_TEXT
                             ? static_cast<const void*>(sqlite3_column_text(stmt, column))
                             : sqlite3_column_blob(stmt, column);
      const int n = sqlite3_column_bytes(stmt, column);
      append_u64(out, static_cast<std::uint64_t>(n));
      out.append(static_cast<const char*>(data), static_cast<std::size_t>(n));
      break;
    }
    default:  // NULL
      break;
  }
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

}  // namespace

namespace {

Status vacuum_into(const std::string& source, const std::string& source_uri, int flags,
                   const std::string& dest) {
  // Created empty and private first: VACUUM INTO would make it with the umask's mode, and a
  // database holding sealed keys and tokens' hashes is nobody else's to read.
  const int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return fail(ErrorCode::kConflict, dest + " already exists");
    return fail(ErrorCode::kUnavailable, "cannot create " + dest + ": " + std::strerror(errno));
  }
  ::close(fd);
  auto drop = [&] { ::unlink(dest.c_str()); };
  auto src = open_file(source_uri, flags);
  if (!src) {
    drop();
    return std::unexpected(src.error());
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(src->get(), "VACUUM INTO ?", -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(stmt.get(), 1, dest.c_str(), -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt.get());
  }
  if (rc != SQLITE_DONE && rc != SQLITE_OK) {
    Status failed = fail_sqlite(src->get(), rc, "copying " + source);
    stmt.reset();
    drop();
    return failed;
  }
  stmt.reset();
  // VACUUM INTO writes without syncing: the copy is durable only from here.
  if (Status synced = fsync_path(dest); !synced) {
    drop();
    return synced;
  }
  return ok();
}

// A path as a URI filename: the characters that would end or escape the path are
// percent-encoded.
std::string file_uri(const std::string& path) {
  // Absolute, after an empty authority: a path that starts with "//" is then still a path.
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).string();
  std::string out = "file://";
  for (char c : ec ? path : absolute) {
    if (c == '?' || c == '#' || c == '%') {
      static constexpr char kHex[] = "0123456789abcdef";
      out.push_back('%');
      out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(c) & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Status sqlite_snapshot(const std::string& source, const std::string& dest) {
  return vacuum_into(source, source, SQLITE_OPEN_READONLY, dest);
}

Status sqlite_copy_foreign(const std::string& source, const std::string& dest) {
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    struct stat st {};
    if (::lstat((source + suffix).c_str(), &st) == 0) {
      return fail(ErrorCode::kConflict,
                  source + suffix + " lies beside the backup; a backup is one file: remove it");
    }
  }
  return vacuum_into(source, file_uri(source) + "?immutable=1",
                     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, dest);
}

Status sqlite_rebuild_and_check(const std::string& path) {
  CW_ASSIGN_OR_RETURN(DbHandle db, open_file(path, SQLITE_OPEN_READWRITE));
  char* message = nullptr;
  int rc = sqlite3_exec(db.get(), "REINDEX", nullptr, nullptr, &message);
  std::string text = message ? message : "";
  sqlite3_free(message);
  if (rc != SQLITE_OK) return fail(ErrorCode::kMalformed, "store: rebuilding indexes: " + text);
  sqlite3_stmt* raw = nullptr;
  rc = sqlite3_prepare_v2(db.get(), "PRAGMA integrity_check(1)", -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) return fail_sqlite(db.get(), rc, "checking " + path);
  rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return fail_sqlite(db.get(), rc, "checking " + path);
  const auto* first = reinterpret_cast<const char*>(sqlite3_column_text(stmt.get(), 0));
  if (!first || std::string_view(first) != "ok") {
    return fail(ErrorCode::kMalformed,
                "store: the database is damaged (SQLite's integrity check: " +
                    std::string(first ? first : "no answer").substr(0, 200) + ")");
  }
  return ok();
}

Result<std::map<std::string, std::string>> sqlite_read_pairs(const std::string& path,
                                                             std::string_view table,
                                                             std::string_view required_sql,
                                                             std::size_t max_rows,
                                                             std::size_t max_value) {
  CW_ASSIGN_OR_RETURN(DbHandle db, open_file(path, SQLITE_OPEN_READONLY));
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(
      db.get(), "SELECT COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' AND name = ?", -1,
      &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> exists(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) return std::unexpected(fail_sqlite(db.get(), rc, "reading " + path).error());
  sqlite3_bind_text(exists.get(), 1, table.data(), static_cast<int>(table.size()),
                    SQLITE_TRANSIENT);
  rc = sqlite3_step(exists.get());
  if (rc == SQLITE_DONE) return fail(ErrorCode::kNotFound, "no table " + std::string(table));
  if (rc != SQLITE_ROW)
    return std::unexpected(fail_sqlite(db.get(), rc, "reading " + path).error());
  // Declared exactly so, the table has no generated column or anything else a read would
  // evaluate.
  const auto* declared = reinterpret_cast<const char*>(sqlite3_column_text(exists.get(), 0));
  if (!declared || std::string_view(declared) != required_sql) {
    return fail(ErrorCode::kMalformed, std::string(table) + " is not declared as expected");
  }
  exists.reset();

  const std::string sql = "SELECT name, value FROM " + quote_identifier(table);
  rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> rows(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) return std::unexpected(fail_sqlite(db.get(), rc, "reading " + path).error());
  std::map<std::string, std::string> out;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    if (out.size() == max_rows) {
      return fail(ErrorCode::kMalformed,
                  std::string(table) + " has more than " + std::to_string(max_rows) + " rows");
    }
    std::string pair[2];
    for (int i = 0; i < 2; ++i) {
      if (sqlite3_column_type(rows.get(), i) != SQLITE_TEXT) {
        return fail(ErrorCode::kMalformed, std::string(table) + " holds a value that is not text");
      }
      const auto n = static_cast<std::size_t>(sqlite3_column_bytes(rows.get(), i));
      if (n > max_value) {
        return fail(ErrorCode::kMalformed, std::string(table) + " holds a value longer than " +
                                               std::to_string(max_value) + " bytes");
      }
      pair[i].assign(reinterpret_cast<const char*>(sqlite3_column_text(rows.get(), i)), n);
    }
    out[std::move(pair[0])] = std::move(pair[1]);
  }
  if (rc != SQLITE_DONE)
    return std::unexpected(fail_sqlite(db.get(), rc, "reading " + path).error());
  return out;
}

Status sqlite_seal_file(const std::string& path) {
  CW_ASSIGN_OR_RETURN(DbHandle db, open_file(path, SQLITE_OPEN_READWRITE));
  char* message = nullptr;
  const int rc =
      sqlite3_exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;",
                   nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  if (rc != SQLITE_OK) {
    return fail(ErrorCode::kUnavailable, "store: sealing " + path + ": " + text);
  }
  db.reset();
  return fsync_path(path);
}

Status sqlite_visit_content(const std::string& path, std::string_view exclude,
                            const ContentVisitor& visit) {
  CW_ASSIGN_OR_RETURN(DbHandle db, open_file(path, SQLITE_OPEN_READONLY));
  auto prepare = [&](const std::string& sql)
      -> Result<std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)>> {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
    if (rc != SQLITE_OK)
      return std::unexpected(fail_sqlite(db.get(), rc, "reading " + path).error());
    return stmt;
  };
  // One read transaction: the schema and the rows are of one moment.
  char* message = nullptr;
  if (sqlite3_exec(db.get(), "BEGIN", nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string text = message ? message : "";
    sqlite3_free(message);
    return fail(ErrorCode::kUnavailable, "store: reading " + path + ": " + text);
  }
  CW_ASSIGN_OR_RETURN(auto schema,
                      prepare("SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master "
                              "ORDER BY name, type"));
  std::vector<std::string> tables;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(schema.get())) == SQLITE_ROW) {
    const auto text = [&](int i) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(schema.get(), i));
      return std::string(p ? p : "");
    };
    const std::string type = text(0), name = text(1), table_name = text(2), sql = text(3);
    if (table_name == exclude) continue;  // its own indexes go with it
    visit.schema(type, name, sql);
    const bool is_virtual = sql.rfind("CREATE VIRTUAL TABLE", 0) == 0;
    if (type == "table" && !is_virtual) tables.push_back(name);
  }
  if (rc != SQLITE_DONE) return fail_sqlite(db.get(), rc, "reading the schema of " + path);
  schema.reset();
  if (!visit.row) return ok();
  for (const std::string& table : tables) {
    CW_ASSIGN_OR_RETURN(auto rows, prepare("SELECT * FROM " + quote_identifier(table)));
    const int columns = sqlite3_column_count(rows.get());
    std::string row;
    while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
      row.clear();
      for (int i = 0; i < columns; ++i) append_value(row, rows.get(), i);
      visit.row(table, row);
    }
    if (rc != SQLITE_DONE) return fail_sqlite(db.get(), rc, "reading " + table + " in " + path);
    visit.table_done(table);
  }
  return ok();
}

}  // namespace certward::store
