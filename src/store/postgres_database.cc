#include "store/postgres_database.h"

#include <libpq-fe.h>

#include <charconv>
#include <string>
#include <unordered_map>

#include "store/sql_text.h"

namespace certward::store::internal {
namespace {

constexpr std::size_t kMaxPreparedStatements = 256;

// Type OIDs from PostgreSQL's pg_type.dat; stable across versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kOidOid = 26;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;
constexpr Oid kUnknownOid = 0;  // let the server infer the type from context

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

ErrorCode code_for_sqlstate(std::string_view state) {
  if (state.size() != 5) return ErrorCode::kUnavailable;  // no SQLSTATE: the connection broke
  std::string_view cls = state.substr(0, 2);
  if (cls == "23") return ErrorCode::kConflict;  // integrity constraint violation
  if (state == "40001" || state == "40P01") return ErrorCode::kUnavailable;  // retry
  if (cls == "08" || cls == "53" || cls == "57" || state == "55P03") {
    return ErrorCode::kUnavailable;  // connection, resources, shutdown/cancel, lock timeout
  }
  return ErrorCode::kInternal;  // syntax, undefined objects, read-only violations: bugs
}

std::string trimmed(const char* message) {
  std::string s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Oid type_of(const Value& v) {
  switch (v.index()) {
    case 1:
      return kInt8Oid;
    case 2:
      return kFloat8Oid;
    case 4:
      return kByteaOid;
    default:
      return kUnknownOid;
  }
}

std::string double_text(double d) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, end);
}

template <typename T>
bool parse_number(std::string_view text, T* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<Value> decode(Oid type, std::string_view text) {
  switch (type) {
    case kInt8Oid:
    case kInt4Oid:
    case kInt2Oid:
    case kOidOid: {
      std::int64_t n = 0;
      if (parse_number(text, &n)) return n;
      break;
    }
    case kBoolOid:
      return std::int64_t{text == "t" ? 1 : 0};
    case kNumericOid: {  // e.g. SUM(bigint): integral values stay integers
      std::int64_t n = 0;
      if (parse_number(text, &n)) return n;
      double d = 0;
      if (parse_number(text, &d)) return d;
      break;
    }
    case kFloat4Oid:
    case kFloat8Oid: {
      double d = 0;
      if (parse_number(text, &d)) return d;
      break;
    }
    case kByteaOid: {  // text format, bytea_output = hex: "\x0a1b..."
      if (text.starts_with("\\x")) {
        Result<Bytes> bytes = from_hex(text.substr(2));
        if (bytes) return *std::move(bytes);
      }
      break;
    }
    default:
      return std::string(text);
  }
  return fail(ErrorCode::kInternal,
              "store: cannot decode postgres value of type " + std::to_string(type));
}

}  // namespace

// One libpq connection and its prepared statements. Used by one transaction at a time.
class PgConnection {
 public:
  static Result<std::unique_ptr<PgConnection>> open(const std::string& url) {
    auto conn = std::unique_ptr<PgConnection>(new PgConnection(PQconnectdb(url.c_str())));
    if (conn->conn_ == nullptr || PQstatus(conn->conn_) != CONNECTION_OK) {
      // The message never contains the password; the URL might, so it is not repeated.
      return fail(ErrorCode::kUnavailable,
                  "store: cannot connect to postgres: " +
                      trimmed(conn->conn_ ? PQerrorMessage(conn->conn_) : "out of memory"));
    }
    // Keeps NOTICEs ("relation already exists, skipping") off stderr.
    PQsetNoticeProcessor(
        conn->conn_, [](void*, const char*) {}, nullptr);
    CW_RETURN_IF_ERROR(conn->exec_script("SET bytea_output = 'hex'; SET client_encoding = 'UTF8'"));
    CW_RETURN_IF_ERROR(conn->make_commits_durable());
    return conn;
  }

  ~PgConnection() { PQfinish(conn_); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool reusable() const {
    return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
  }
  bool in_transaction() const { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

  std::unexpected<Error> error(const PGresult* res, std::string_view sql) const {
    const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    std::string message = trimmed(res != nullptr ? PQresultErrorMessage(res) : "");
    if (message.empty()) message = trimmed(PQerrorMessage(conn_));
    return fail(code_for_sqlstate(state != nullptr ? state : ""),
                "store: postgres: " + message + (state ? std::string(" [") + state + "]" : "") +
                    " in: " + std::string(sql));
  }

  // Runs parameterless text, possibly several statements, with the simple query protocol.
  Status exec_script(std::string_view sql) {
    std::string text(sql);
    PgResultPtr res(PQexec(conn_, text.c_str()));
    ExecStatusType st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(res.get(), sql);
    return ok();
  }

  // Ends the transaction with COMMIT and checks that the server committed: a transaction that
  // an error aborted answers COMMIT with the command tag "ROLLBACK" and no error at all.
  Status commit() {
    PgResultPtr res(PQexec(conn_, "COMMIT"));
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return error(res.get(), "COMMIT");
    const std::string_view tag = PQcmdStatus(res.get());
    if (tag != "COMMIT") {
      return fail(ErrorCode::kUnavailable, "store: postgres answered COMMIT with '" +
                                               std::string(tag) +
                                               "': the transaction was rolled back");
    }
    return ok();
  }

  // Runs one statement through this connection's prepared-statement cache.
  Result<PgResultPtr> exec(std::string_view sql, std::span<const Value> params) {
    std::vector<Oid> types;
    types.reserve(params.size());
    for (const Value& v : params) types.push_back(type_of(v));
    CW_ASSIGN_OR_RETURN(const std::string* name, prepared(sql, types));

    std::vector<std::string> texts(params.size());
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    static const char kEmpty = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        texts[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        texts[i] = double_text(*d);
      } else if (const auto* b = std::get_if<Bytes>(&v)) {
        // Binary format skips hex-encoding; a null pointer would mean SQL NULL, not empty.
        values[i] = b->empty() ? &kEmpty : reinterpret_cast<const char*>(b->data());
        lengths[i] = static_cast<int>(b->size());
        formats[i] = 1;
        continue;
      } else if (std::holds_alternative<std::nullptr_t>(v)) {
        continue;  // values[i] stays null
      }
      const std::string& s =
          std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : texts[i];
      values[i] = s.c_str();
    }
    PgResultPtr res(PQexecPrepared(conn_, name->c_str(), static_cast<int>(params.size()),
                                   values.data(), lengths.data(), formats.data(), 0));
    ExecStatusType st = PQresultStatus(res.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return error(res.get(), sql);
    return res;
  }

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}

  // Parameter types are part of the key: a statement prepared for a bytea parameter cannot
  // take the text one that a NULL in the same place is sent as.
  Result<const std::string*> prepared(std::string_view sql, const std::vector<Oid>& types) {
    std::string key(sql);
    key += '\0';
    for (Oid t : types) key += std::to_string(t) + ",";
    if (auto it = cache_.find(key); it != cache_.end()) return &it->second;

    int count = 0;
    std::string native = number_placeholders(sql, &count);
    if (static_cast<std::size_t>(count) != types.size()) {
      return fail(ErrorCode::kInternal, "store: statement wants " + std::to_string(count) +
                                            " parameters, got " + std::to_string(types.size()) +
                                            ": " + std::string(sql));
    }
    if (cache_.size() >= kMaxPreparedStatements) {
      // Names stay unique (next_id_), so a failed DEALLOCATE only leaks server memory.
      PgResultPtr dropped(PQexec(conn_, "DEALLOCATE ALL"));
      cache_.clear();
    }
    std::string name = "cw_" + std::to_string(next_id_++);
    PgResultPtr res(PQprepare(conn_, name.c_str(), native.c_str(), static_cast<int>(types.size()),
                              types.data()));
    if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return error(res.get(), sql);
    return &cache_.emplace(std::move(key), std::move(name)).first->second;
  }

  // A certificate is handed out only after its COMMIT returns, so COMMIT must mean "on disk":
  // synchronous_commit is raised to "on" for this session whatever the server, database or
  // role default says ("off" acknowledges commits a crash then loses; "remote_apply" is
  // stronger still and kept), and a server running with fsync = off is refused outright.
  Status make_commits_durable() {
    CW_ASSIGN_OR_RETURN(Settings before, durability_settings());
    if (before.fsync != "on") {
      return fail(ErrorCode::kUnavailable,
                  "store: the PostgreSQL server runs with fsync = " + before.fsync +
                      ", so a crash can lose committed certificates; set fsync = on");
    }
    if (before.synchronous_commit == "remote_apply") return ok();
    CW_RETURN_IF_ERROR(exec_script("SET synchronous_commit = on"));
    CW_ASSIGN_OR_RETURN(Settings after, durability_settings());
    if (after.synchronous_commit != "on") {
      return fail(ErrorCode::kUnavailable,
                  "store: PostgreSQL kept synchronous_commit = " + after.synchronous_commit +
                      " after SET synchronous_commit = on");
    }
    return ok();
  }

  struct Settings {
    std::string fsync;
    std::string synchronous_commit;
  };
  Result<Settings> durability_settings() {
    constexpr std::string_view kSql =
        "SELECT current_setting('fsync'), current_setting('synchronous_commit')";
    PgResultPtr res(PQexec(conn_, std::string(kSql).c_str()));
    if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) return error(res.get(), kSql);
    if (PQntuples(res.get()) != 1 || PQnfields(res.get()) != 2) {
      return fail(ErrorCode::kInternal, "store: unexpected answer to: " + std::string(kSql));
    }
    return Settings{PQgetvalue(res.get(), 0, 0), PQgetvalue(res.get(), 0, 1)};
  }

  PGconn* conn_;
  std::unordered_map<std::string, std::string> cache_;  // key -> statement name
  std::uint64_t next_id_ = 0;
};

namespace {

Status decode_rows(const PGresult* res, Rows* rows) {
  const int n_rows = PQntuples(res);
  const int n_cols = PQnfields(res);
  std::vector<std::string> names;
  for (int c = 0; c < n_cols; ++c) names.emplace_back(PQfname(res, c));
  std::vector<Row> out;
  out.reserve(static_cast<std::size_t>(n_rows));
  for (int r = 0; r < n_rows; ++r) {
    std::vector<Value> values;
    values.reserve(static_cast<std::size_t>(n_cols));
    for (int c = 0; c < n_cols; ++c) {
      if (PQgetisnull(res, r, c)) {
        values.emplace_back(nullptr);
        continue;
      }
      CW_ASSIGN_OR_RETURN(
          Value v, decode(PQftype(res, c),
                          std::string_view(PQgetvalue(res, r, c),
                                           static_cast<std::size_t>(PQgetlength(res, r, c)))));
      values.push_back(std::move(v));
    }
    out.emplace_back(std::move(values));
  }
  *rows = Rows(std::move(names), std::move(out));
  return ok();
}

class PgTransaction final : public Transaction {
 public:
  using Lease = ConnectionPool<PgConnection>::Lease;
  explicit PgTransaction(Lease lease) : conn_(std::move(lease)) {}
  ~PgTransaction() override {
    if (!finished()) do_rollback();
  }

  void execute_unchecked(std::string_view sql) { (void)conn_->exec_script(sql); }

 private:
  Result<std::int64_t> do_execute(std::string_view sql, std::span<const Value> params,
                                  Rows* rows) override {
    CW_ASSIGN_OR_RETURN(PgResultPtr res, conn_->exec(sql, params));
    if (rows != nullptr) CW_RETURN_IF_ERROR(decode_rows(res.get(), rows));
    std::int64_t affected = 0;
    std::string_view tuples = PQcmdTuples(res.get());
    if (!tuples.empty())
      (void)std::from_chars(tuples.data(), tuples.data() + tuples.size(), affected);
    return affected;
  }

  Status do_execute_script(std::string_view sql) override { return conn_->exec_script(sql); }

  Status do_commit() override { return conn_->commit(); }

  void do_rollback() override {
    if (conn_->in_transaction()) (void)conn_->exec_script("ROLLBACK");
  }

  void do_release() override { conn_.give_back(); }

  Lease conn_;
};

}  // namespace

void TEST_execute_unchecked(Transaction& tx, std::string_view sql) {
  auto* pg = dynamic_cast<PgTransaction*>(&tx);
  CW_CHECK(pg != nullptr);
  pg->execute_unchecked(sql);
}

PostgresDatabase::PostgresDatabase(const DatabaseConfig& config)
    : pool_(static_cast<std::size_t>(config.pool_size), config.busy_timeout,
            [url = config.postgres_url] { return PgConnection::open(url); }) {}

PostgresDatabase::~PostgresDatabase() = default;

Result<std::unique_ptr<Database>> PostgresDatabase::open(const DatabaseConfig& config) {
  if (config.postgres_url.empty()) {
    return fail(ErrorCode::kInvalidArgument, "store: postgres_url is required");
  }
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(config));
  CW_RETURN_IF_ERROR(db->pool_.warm_up());
  return std::unique_ptr<Database>(std::move(db));
}

Result<std::unique_ptr<Transaction>> PostgresDatabase::do_begin(TxMode mode) {
  CW_ASSIGN_OR_RETURN(auto lease, pool_.acquire());
  CW_RETURN_IF_ERROR(lease->exec_script(
      mode == TxMode::kWrite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  return std::unique_ptr<Transaction>(new PgTransaction(std::move(lease)));
}

}  // namespace certward::store::internal
