#include "store/sql_text.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace certward::store::internal {
namespace {

// code[i] is true when sql[i] is SQL text proper, false inside a literal, quoted identifier
// or comment (delimiters included).
std::vector<bool> code_mask(std::string_view sql) {
  std::vector<bool> code(sql.size(), true);
  std::size_t i = 0;
  auto skip_until = [&](std::size_t from, std::string_view end) {
    std::size_t stop = sql.find(end, from);
    stop = stop == std::string_view::npos ? sql.size() : stop + end.size();
    std::fill(code.begin() + static_cast<std::ptrdiff_t>(i),
              code.begin() + static_cast<std::ptrdiff_t>(stop), false);
    i = stop;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      // A doubled quote inside is an escaped quote: it closes and reopens, same mask.
      skip_until(i + 1, std::string_view(&sql[i], 1));
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      skip_until(i + 2, "\n");
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      skip_until(i + 2, "*/");
    } else {
      ++i;
    }
  }
  return code;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

// Whether the word ending at `end` is a column's name rather than its type: in a column
// definition the name is followed by the type, another word, while the type is followed by a
// constraint keyword, a comma, a parenthesis or the end. "blob BLOB NOT NULL" keeps its name.
bool names_a_column(std::string_view sql, const std::vector<bool>& code, std::size_t end) {
  std::size_t k = end;
  while (k < sql.size() && code[k] && std::isspace(static_cast<unsigned char>(sql[k])) != 0) ++k;
  if (k >= sql.size() || !code[k] || !is_word_char(sql[k])) return false;
  std::size_t e = k;
  while (e < sql.size() && code[e] && is_word_char(sql[e])) ++e;
  const std::string_view next = sql.substr(k, e - k);
  static constexpr std::array<std::string_view, 10> kConstraints = {
      "NOT",   "NULL",       "PRIMARY",    "DEFAULT", "CHECK",
      "UNIQUE", "REFERENCES", "CONSTRAINT", "COLLATE", "GENERATED"};
  return std::ranges::none_of(kConstraints, [&](std::string_view w) { return iequals(next, w); });
}

}  // namespace

std::string number_placeholders(std::string_view sql, int* count) {
  std::vector<bool> code = code_mask(sql);
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (code[i] && sql[i] == '?') {
      out += '$';
      out += std::to_string(++n);
    } else {
      out += sql[i];
    }
  }
  if (count != nullptr) *count = n;
  return out;
}

int count_placeholders(std::string_view sql) {
  std::vector<bool> code = code_mask(sql);
  int n = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) n += (code[i] && sql[i] == '?') ? 1 : 0;
  return n;
}

std::string postgres_ddl(std::string_view sql) {
  std::vector<bool> code = code_mask(sql);
  std::string out;
  out.reserve(sql.size() + 16);
  std::size_t i = 0;
  while (i < sql.size()) {
    if (!code[i] || !is_word_char(sql[i])) {
      out += sql[i++];
      continue;
    }
    std::size_t j = i;
    while (j < sql.size() && code[j] && is_word_char(sql[j])) ++j;
    std::string_view word = sql.substr(i, j - i);
    if (iequals(word, "X") && j < sql.size() && sql[j] == '\'') {
      // X'00ff' is a blob in SQLite but a bit string in PostgreSQL.
      std::size_t close = sql.find('\'', j + 1);
      if (close == std::string_view::npos) close = sql.size() - 1;
      out += "'\\x";
      out += sql.substr(j + 1, close - j - 1);
      out += "'::bytea";
      i = close + 1;
      continue;
    }
    out += iequals(word, "BLOB") && !names_a_column(sql, code, j) ? std::string_view("BYTEA")
                                                                   : word;
    i = j;
  }
  return out;
}

std::string_view strip_for_update(std::string_view sql) {
  std::vector<bool> code = code_mask(sql);
  // Walks back over whole words separated by whitespace only; any other character ends it.
  std::size_t end = sql.size();
  while (end > 0 && code[end - 1] &&
         (std::isspace(static_cast<unsigned char>(sql[end - 1])) != 0 || sql[end - 1] == ';')) {
    --end;
  }
  std::array<std::string_view, 4> words;  // last word first
  std::array<std::size_t, 4> starts{};
  std::size_t n = 0;
  std::size_t pos = end;
  while (n < words.size() && pos > 0 && code[pos - 1] && is_word_char(sql[pos - 1])) {
    std::size_t stop = pos;
    while (pos > 0 && code[pos - 1] && is_word_char(sql[pos - 1])) --pos;
    words[n] = sql.substr(pos, stop - pos);
    starts[n++] = pos;
    while (pos > 0 && code[pos - 1] && std::isspace(static_cast<unsigned char>(sql[pos - 1])) != 0)
      --pos;
  }
  auto matches = [&](std::initializer_list<std::string_view> tail) {
    if (n < tail.size()) return false;
    std::size_t k = tail.size();
    for (std::string_view w : tail) {
      if (!iequals(words[--k], w)) return false;
    }
    return true;
  };
  std::size_t cut = std::string_view::npos;
  if (matches({"FOR", "UPDATE"})) {
    cut = starts[1];
  } else if (matches({"FOR", "UPDATE", "NOWAIT"})) {
    cut = starts[2];
  } else if (matches({"FOR", "UPDATE", "SKIP", "LOCKED"})) {
    cut = starts[3];
  }
  if (cut == std::string_view::npos) return sql;
  std::string_view kept = sql.substr(0, cut);
  while (!kept.empty() && std::isspace(static_cast<unsigned char>(kept.back())) != 0) {
    kept.remove_suffix(1);
  }
  return kept;
}

bool is_blank(std::string_view sql) {
  std::vector<bool> code = code_mask(sql);
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (code[i] && std::isspace(static_cast<unsigned char>(sql[i])) == 0 && sql[i] != ';') {
      return false;
    }
  }
  return true;
}

}  // namespace certward::store::internal
