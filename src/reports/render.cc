// The text formats of a report: table, CSV, JSON (the HTML page is in html.cc).

#include "reports/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace certward::reports {

std::unique_ptr<Writer> make_html_writer(std::ostream& out);  // html.cc

namespace {

constexpr std::string_view kFormats[] = {"table", "csv", "json", "html", "cbom"};

// JSON text of a string whatever bytes it holds: invalid UTF-8 (a certificate from the wild)
// becomes U+FFFD rather than an exception.
std::string json_string(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_cell(const Cell& c) {
  if (const auto* s = std::get_if<std::string>(&c)) return json_string(*s);
  if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
  const double d = std::get<double>(c);
  if (!std::isfinite(d)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", d);
  return buf;
}

// Aligned columns, as the CLI prints its tables. Rows are held a block at a time: the widths
// are those of the header and the first block, widened by later blocks as they need.
class TableWriter final : public Writer {
 public:
  explicit TableWriter(std::ostream& out) : out_(out) {}

  void begin(const ReportHeader& h) override {
    out_ << terminal_text(h.title) << " (generated " << h.generated_at << ")\n";
    for (const auto& [k, v] : h.parameters) out_ << "  " << k << ": " << terminal_text(v) << "\n";
  }
  void begin_section(std::string_view, std::string_view title,
                     std::span<const Column> columns) override {
    out_ << "\n" << terminal_text(title) << "\n";
    headers_.clear();
    width_.clear();
    for (const auto& c : columns) {
      std::string h = c.title;
      std::transform(h.begin(), h.end(), h.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
      width_.push_back(h.size());
      headers_.push_back(std::move(h));
    }
    header_done_ = false;
    rows_ = 0;
  }
  void row(std::span<const Cell> cells) override {
    auto& r = block_.emplace_back();
    for (const auto& c : cells) r.push_back(terminal_text(cell_text(c)));
    if (block_.size() >= kBlock) flush();
  }
  void end_section() override {
    flush();
    if (rows_ == 0) {
      if (!header_done_) line(headers_);
      out_ << "(none)\n";
    }
  }
  void end() override { out_.flush(); }

 private:
  static constexpr std::size_t kBlock = 1000;

  void flush() {
    for (const auto& r : block_)
      for (std::size_t i = 0; i < r.size() && i < width_.size(); ++i)
        width_[i] = std::max(width_[i], r[i].size());
    if (!header_done_ && !block_.empty()) {
      line(headers_);
      header_done_ = true;
    }
    for (const auto& r : block_) line(r);
    rows_ += block_.size();
    block_.clear();
  }
  void line(const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < width_.size(); ++i) {
      const std::string& c = i < cells.size() ? cells[i] : std::string();
      s += c;
      if (i + 1 < width_.size())
        s += std::string(width_[i] - std::min(width_[i], c.size()) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out_ << s << "\n";
  }

  std::ostream& out_;
  std::vector<std::string> headers_;
  std::vector<std::size_t> width_;
  std::vector<std::vector<std::string>> block_;
  bool header_done_ = false;
  std::size_t rows_ = 0;
};

// RFC 4180 with CRLF line ends. A report of several sections is several tables, one after
// another, each with its header row and a blank line before the next.
class CsvWriter final : public Writer {
 public:
  explicit CsvWriter(std::ostream& out) : out_(out) {}
  void begin(const ReportHeader&) override {}
  void begin_section(std::string_view, std::string_view, std::span<const Column> columns) override {
    if (sections_++ > 0) out_ << "\r\n";
    std::vector<Cell> header;
    for (const auto& c : columns) header.emplace_back(c.key);
    row(header);
  }
  void row(std::span<const Cell> cells) override {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) line += ',';
      line += std::holds_alternative<std::string>(cells[i])
                  ? csv_field(std::get<std::string>(cells[i]))
                  : cell_text(cells[i]);
    }
    out_ << line << "\r\n";
  }
  void end_section() override {}
  void end() override { out_.flush(); }

 private:
  std::ostream& out_;
  int sections_ = 0;
};

// {"report", "title", "generated_at", "parameters": {...}, "sections": {name: [row objects]}},
// written as the rows come.
class JsonWriter final : public Writer {
 public:
  explicit JsonWriter(std::ostream& out) : out_(out) {}
  void begin(const ReportHeader& h) override {
    out_ << "{\"report\":" << json_string(h.kind) << ",\"title\":" << json_string(h.title)
         << ",\"generated_at\":" << json_string(h.generated_at) << ",\"parameters\":{";
    bool first = true;
    for (const auto& [k, v] : h.parameters) {
      out_ << (first ? "" : ",") << json_string(k) << ":" << json_string(v);
      first = false;
    }
    out_ << "},\"sections\":{";
  }
  void begin_section(std::string_view name, std::string_view,
                     std::span<const Column> columns) override {
    out_ << (sections_++ > 0 ? "," : "") << json_string(name) << ":[";
    keys_.clear();
    for (const auto& c : columns) keys_.push_back(json_string(c.key));
    rows_ = 0;
  }
  void row(std::span<const Cell> cells) override {
    out_ << (rows_++ > 0 ? "," : "") << "{";
    for (std::size_t i = 0; i < cells.size() && i < keys_.size(); ++i) {
      out_ << (i > 0 ? "," : "") << keys_[i] << ":" << json_cell(cells[i]);
    }
    out_ << "}";
  }
  void end_section() override { out_ << "]"; }
  void end() override {
    out_ << "}}\n";
    out_.flush();
  }

 private:
  std::ostream& out_;
  std::vector<std::string> keys_;
  int sections_ = 0;
  std::size_t rows_ = 0;
};

}  // namespace

std::string_view format_name(Format f) { return kFormats[static_cast<std::size_t>(f)]; }

Result<Format> parse_format(std::string_view s) {
  for (std::size_t i = 0; i < std::size(kFormats); ++i) {
    if (kFormats[i] == s) return static_cast<Format>(i);
  }
  return fail(ErrorCode::kInvalidArgument, "unknown report format '" +
                                               terminal_text(s.substr(0, 64)) +
                                               "' (table, csv, json, html, cbom)");
}

std::string_view content_type(Format f) {
  switch (f) {
    case Format::kTable:
      return "text/plain; charset=utf-8";
    case Format::kCsv:
      return "text/csv; charset=utf-8; header=present";
    case Format::kJson:
      return "application/json";
    case Format::kHtml:
      return "text/html; charset=utf-8";
    case Format::kCbom:
      return "application/vnd.cyclonedx+json; version=1.6";
  }
  return "application/octet-stream";
}

std::string_view file_extension(Format f) {
  switch (f) {
    case Format::kTable:
      return "txt";
    case Format::kCsv:
      return "csv";
    case Format::kJson:
      return "json";
    case Format::kHtml:
      return "html";
    case Format::kCbom:
      return "cdx.json";
  }
  return "bin";
}

std::unique_ptr<Writer> make_writer(Format format, std::ostream& out) {
  switch (format) {
    case Format::kTable:
      return std::make_unique<TableWriter>(out);
    case Format::kCsv:
      return std::make_unique<CsvWriter>(out);
    case Format::kJson:
    case Format::kCbom:
      return std::make_unique<JsonWriter>(out);
    case Format::kHtml:
      return make_html_writer(out);
  }
  return std::make_unique<JsonWriter>(out);
}

std::string csv_field(std::string_view text) {
  std::string s;
  // Spreadsheets that trim a field's leading blanks on import see the formula behind them.
  const std::size_t start = text.find_first_not_of(" \t\r\n");
  const bool formula =
      start != std::string_view::npos &&
      (text[start] == '=' || text[start] == '+' || text[start] == '-' || text[start] == '@');
  if (formula || (!text.empty() && (text[0] == '\t' || text[0] == '\r'))) s += '\'';
  s += text;
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  quoted += '"';
  return quoted;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab and newline are not allowed in HTML text.
        if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
          out += "&#xFFFD;";
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string cell_text(const Cell& c) {
  if (const auto* s = std::get_if<std::string>(&c)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&c)) return std::to_string(*i);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", std::get<double>(c));
  return buf;
}

}  // namespace certward::reports
