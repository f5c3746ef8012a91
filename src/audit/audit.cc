#include "audit/audit.h"

#include <algorithm>
#include <charconv>

#include "crypto/crypto.h"
#include "store/schema.h"

namespace certward::audit {
namespace {

constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";
constexpr int kVerifyPage = 5000;

constexpr store::Migration kMigrations[] = {
    {1, "audit_log",
     R"sql(
CREATE TABLE audit_events (
  seq BIGINT PRIMARY KEY,
  occurred_at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX audit_events_target ON audit_events (target_type, target_id);
CREATE INDEX audit_events_time ON audit_events (occurred_at);
CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY,
  seq BIGINT NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
)sql"},
};

void put_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += '\n';
}

RecordedEvent to_recorded(const store::Row& r) {
  RecordedEvent e;
  e.seq = r.int64(0);
  e.time = from_unix(r.int64(1));
  e.event.actor = r.text(2);
  e.event.action = r.text(3);
  e.event.target_type = r.text(4);
  e.event.target_id = r.text(5);
  e.event.details = nlohmann::json::parse(r.text(6), nullptr, /*allow_exceptions=*/false);
  e.prev_hash = r.text(7);
  e.hash = r.text(8);
  return e;
}

constexpr std::string_view kColumns =
    "seq, occurred_at, actor, action, target_type, target_id, details, prev_hash, hash";

}  // namespace

const store::SchemaModule kSchema{"audit", kMigrations};

Status AuditLog::migrate(store::Database& db) { return db.migrate("audit", kMigrations); }

std::string AuditLog::event_hash(std::int64_t seq, SysTime time, const Event& e,
                                 std::string_view details_json, std::string_view prev_hash) {
  // Length-prefixed fields: no two different events serialise to the same bytes.
  std::string buf = "certward-audit-v1\n";
  put_field(buf, std::to_string(seq));
  put_field(buf, std::to_string(to_unix(time)));
  put_field(buf, e.actor);
  put_field(buf, e.action);
  put_field(buf, e.target_type);
  put_field(buf, e.target_id);
  put_field(buf, details_json);
  put_field(buf, prev_hash);
  return to_hex(crypto::sha256(as_bytes(buf)));
}

Status AuditLog::append(store::Transaction& tx, std::span<const Event> events) const {
  if (events.empty()) return ok();
  CW_ASSIGN_OR_RETURN(auto head,
                      tx.query_one("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"));
  if (!head) return fail(ErrorCode::kInternal, "audit head row is missing");
  std::int64_t seq = head->int64(0);
  std::string prev = head->text(1);
  const SysTime now = clock_.now();
  for (const Event& e : events) {
    ++seq;
    const std::string details = e.details.dump();
    std::string hash = event_hash(seq, now, e, details, prev);
    const store::Value params[] = {seq,         to_unix(now), e.actor, e.action, e.target_type,
                                   e.target_id, details,      prev,    hash};
    CW_RETURN_IF_ERROR(tx.execute(
        "INSERT INTO audit_events (seq, occurred_at, actor, action, target_type, target_id, "
        "details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params));
    prev = std::move(hash);
  }
  const store::Value head_params[] = {seq, prev};
  return tx.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head_params);
}

Result<std::vector<RecordedEvent>> AuditLog::list(const EventFilter& f) const {
  if (f.limit < 1 || f.limit > 1000) {
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 1000");
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM audit_events WHERE 1 = 1";
  std::vector<store::Value> params;
  auto add = [&](const char* clause, store::Value v) {
    sql += clause;
    params.push_back(std::move(v));
  };
  if (f.actor) add(" AND actor = ?", *f.actor);
  if (f.action) add(" AND action = ?", *f.action);
  if (f.target_type) add(" AND target_type = ?", *f.target_type);
  if (f.target_id) add(" AND target_id = ?", *f.target_id);
  if (f.since) add(" AND occurred_at >= ?", to_unix(*f.since));
  if (f.until) add(" AND occurred_at < ?", to_unix(*f.until));
  if (f.after_seq) add(f.newest_first ? " AND seq < ?" : " AND seq > ?", *f.after_seq);
  sql += f.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq ASC";
  sql += " LIMIT " + std::to_string(f.limit);
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  CW_ASSIGN_OR_RETURN(auto rows, tx->query(sql, params));
  std::vector<RecordedEvent> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(to_recorded(r));
  return out;
}

Result<Checkpoint> parse_checkpoint(std::string_view text) {
  const auto colon = text.find(':');
  const std::string_view seq_text = text.substr(0, colon);
  std::int64_t seq = 0;
  const auto [end, ec] = std::from_chars(seq_text.data(), seq_text.data() + seq_text.size(), seq);
  const bool seq_ok = colon != std::string_view::npos && !seq_text.empty() && ec == std::errc() &&
                      end == seq_text.data() + seq_text.size() && seq >= 1;
  const std::string_view hash = colon == std::string_view::npos ? "" : text.substr(colon + 1);
  const bool hash_ok = hash.size() == 64 && std::all_of(hash.begin(), hash.end(), [](char c) {
                         return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                       });
  if (!seq_ok || !hash_ok) {
    return fail(ErrorCode::kMalformed,
                "a checkpoint is SEQ:HASH (event number, 64 lower-case hex digits)");
  }
  return Checkpoint{seq, std::string(hash)};
}

Result<VerifyReport> AuditLog::verify(const std::optional<Checkpoint>& checkpoint) const {
  VerifyReport report;
  report.head = Checkpoint{0, std::string(kGenesisHash)};
  auto bad = [&](std::int64_t seq, std::string problem) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  CW_ASSIGN_OR_RETURN(auto tx, db_.begin(store::TxMode::kRead));
  std::int64_t expected_seq = 1;
  std::string prev(kGenesisHash);
  for (;;) {
    const store::Value params[] = {expected_seq - 1};
    CW_ASSIGN_OR_RETURN(auto rows,
                        tx->query("SELECT " + std::string(kColumns) +
                                      " FROM audit_events WHERE seq > ? ORDER BY seq LIMIT " +
                                      std::to_string(kVerifyPage),
                                  params));
    for (const auto& row : rows) {
      const std::int64_t seq = row.int64(0);
      if (seq != expected_seq) {
        return bad(expected_seq, "event " + std::to_string(expected_seq) + " is missing");
      }
      const std::string stored_prev = row.text(7);
      if (stored_prev != prev) {
        return bad(seq, "event " + std::to_string(seq) + " does not link to its predecessor");
      }
      Event e{row.text(2), row.text(3), row.text(4), row.text(5), {}};
      const std::string recomputed =
          event_hash(seq, from_unix(row.int64(1)), e, row.text(6), stored_prev);
      if (recomputed != row.text(8)) {
        return bad(seq, "event " + std::to_string(seq) + " was altered (hash mismatch)");
      }
      prev = row.text(8);
      if (checkpoint && seq == checkpoint->seq) {
        if (prev != checkpoint->hash) {
          return bad(seq, "event " + std::to_string(seq) +
                              " does not match the checkpoint: the chain was rewritten");
        }
        report.checkpoint_matched = true;
      }
      ++expected_seq;
      ++report.events_checked;
    }
    if (rows.size() < static_cast<std::size_t>(kVerifyPage)) break;
  }
  CW_ASSIGN_OR_RETURN(auto head, tx->query_one("SELECT seq, hash FROM audit_head WHERE id = 1"));
  if (!head) return bad(0, "audit head row is missing");
  if (head->int64(0) != expected_seq - 1 || head->text(1) != prev) {
    return bad(expected_seq, "the newest events were deleted or the head was altered (head says " +
                                 std::to_string(head->int64(0)) + ", chain ends at " +
                                 std::to_string(expected_seq - 1) + ")");
  }
  if (checkpoint && !report.checkpoint_matched) {
    return bad(expected_seq, "the chain ends at event " + std::to_string(expected_seq - 1) +
                                 ", before the checkpoint's event " +
                                 std::to_string(checkpoint->seq) + ": events were deleted");
  }
  report.head = Checkpoint{expected_seq - 1, prev};
  return report;
}

}  // namespace certward::audit
