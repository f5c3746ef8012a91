#pragma once
// Dialect translation of SQL text (private to src/store). Every function understands just
// enough lexical structure to leave quoted text alone: '...' string literals (with ''),
// "..." identifiers, -- line comments and /* */ block comments.

#include <string>
#include <string_view>

namespace certward::store::internal {

// Rewrites each '?' placeholder to $1, $2, ... in order; sets *count to how many there were.
std::string number_placeholders(std::string_view sql, int* count);

// Counts '?' placeholders the way number_placeholders() does.
int count_placeholders(std::string_view sql);

// Translates portable migration text for PostgreSQL: the type name BLOB (a whole word, any
// case) becomes BYTEA, and a blob literal X'00ff' becomes '\x00ff'::bytea.
std::string postgres_ddl(std::string_view sql);

// Drops a trailing "FOR UPDATE", "FOR UPDATE SKIP LOCKED" or "FOR UPDATE NOWAIT" (any case,
// trailing whitespace and ';' ignored); returns the text unchanged otherwise.
std::string_view strip_for_update(std::string_view sql);

// True if `sql` has nothing but whitespace, ';' and comments.
bool is_blank(std::string_view sql);

}  // namespace certward::store::internal
