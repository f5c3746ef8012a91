#pragma once
// How a report is written: a report is a header and sections, each a table whose rows arrive
// one at a time, and a Writer puts them into one format as they come: an aligned text table
// (the CLI's), CSV (RFC 4180), JSON, or one self-contained HTML page. Only the table writer
// holds rows back, a block at a time, to align its columns; the others hold none.
//
// Every cell is outside input (a subject, an issuer, a team name chosen by whoever made the
// certificate): each writer escapes it for its format: control characters for a terminal,
// spreadsheet formulas in CSV, markup in HTML.
//
// Not thread-safe: one writer per report.

#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"

namespace certward::reports {

enum class Format : std::uint8_t { kTable, kCsv, kJson, kHtml, kCbom };
std::string_view format_name(Format f);  // "table", "csv", "json", "html", "cbom"
// Errors: kInvalidArgument naming the formats there are.
Result<Format> parse_format(std::string_view s);
// The HTTP Content-Type and the file extension of a format's document.
std::string_view content_type(Format f);
std::string_view file_extension(Format f);

using Cell = std::variant<std::string, std::int64_t, double>;

struct Column {
  std::string key;    // JSON member and CSV header: "not_after"
  std::string title;  // table and HTML header: "Expires"
};

struct ReportHeader {
  std::string kind;          // "expiring"
  std::string title;         // "Certificates expiring within 30 days"
  std::string generated_at;  // RFC 3339
  std::vector<std::pair<std::string, std::string>> parameters;  // what narrowed it
};

class Writer {
 public:
  virtual ~Writer() = default;
  virtual void begin(const ReportHeader& header) = 0;
  // `name` is the section's key in JSON ("certificates"); `title` its heading.
  virtual void begin_section(std::string_view name, std::string_view title,
                             std::span<const Column> columns) = 0;
  // As many cells as the section has columns.
  virtual void row(std::span<const Cell> cells) = 0;
  virtual void end_section() = 0;
  virtual void end() = 0;
};

// A writer of `format` (not kCbom, which is a document of its own: cbom.h) onto `out`, which
// outlives it.
std::unique_ptr<Writer> make_writer(Format format, std::ostream& out);

// One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or LF, quotes doubled. A
// field a spreadsheet would take for a formula (starting with = + - @, also after leading
// blanks, or with a tab or CR) gets a leading apostrophe first (OWASP's CSV injection advice).
std::string csv_field(std::string_view text);
// Text for HTML content or a quoted attribute: & < > " ' as character references.
std::string html_escape(std::string_view text);
using certward::terminal_text;  // common/encoding.h: text safe on a terminal
// A cell as text: integers as they are, fractions with two decimals.
std::string cell_text(const Cell& cell);

}  // namespace certward::reports
