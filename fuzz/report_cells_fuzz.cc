// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry point: the reports' writers (reports/render.h) and classification (reports/classify.h)
// over the texts a certificate's maker chooses (subject, issuer, team, an SSH key's type). The
// bytes are split at NUL into cells. Every format must take any text: the HTML page must hold
// no markup of the input (every cell escaped), the JSON must parse, and a CSV field must
// neither start a formula nor leave its quotes unbalanced.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string_view>
#include <vector>

#include "reports/classify.h"
#include "reports/render.h"

namespace reports = certward::reports;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<reports::Cell> cells;
  for (std::size_t start = 0; cells.size() < 8;) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    cells.emplace_back(std::string(text.substr(start, end - start)));
    if (end >= text.size()) break;
    start = end + 1;
  }
  std::vector<reports::Column> columns;
  for (std::size_t i = 0; i < cells.size(); ++i) columns.push_back({"c" + std::to_string(i), "C"});

  for (auto format : {reports::Format::kTable, reports::Format::kCsv, reports::Format::kJson,
                      reports::Format::kHtml}) {
    std::ostringstream out;
    auto w = reports::make_writer(format, out);
    w->begin({.kind = "fuzz",
              .title = std::string(text.substr(0, 64)),
              .generated_at = "now",
              .parameters = {{"team", std::string(text.substr(0, 32))}}});
    w->begin_section("s", "S", columns);
    w->row(cells);
    w->end_section();
    w->end();
    const std::string doc = out.str();
    if (format == reports::Format::kJson && !nlohmann::json::accept(doc)) std::abort();
    if (format == reports::Format::kHtml) {
      // A cell is written escaped: its markup never reaches the page as markup.
      for (const auto& c : cells) {
        const auto& s = std::get<std::string>(c);
        if (reports::html_escape(s).find_first_of("<>\"'") != std::string::npos) std::abort();
        if (s.find_first_of("<>\"'&") != std::string::npos &&
            doc.find("<td>" + s + "</td>") != std::string::npos) {
          std::abort();
        }
      }
    }
  }
  for (const auto& c : cells) {
    const std::string field = reports::csv_field(std::get<std::string>(c));
    if (!field.empty() &&
        (field[0] == '=' || field[0] == '+' || field[0] == '-' || field[0] == '@'))
      std::abort();
    std::size_t quotes = 0;
    for (char ch : field) quotes += ch == '"';
    if (quotes % 2 != 0) std::abort();
  }
  (void)reports::classify_ssh_key(text, static_cast<int>(size));
  (void)reports::classify_signature(text);
  return 0;
}
