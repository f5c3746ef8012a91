// NamePattern: DNS name patterns compiled once, matched without allocating.

#include <algorithm>

#include "policy/rule.h"

namespace certward::policy {
namespace {

char lower_char(char ch) { return static_cast<char>(std::tolower(static_cast<unsigned char>(ch))); }

bool equal_fold(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower_char(x) == y; });
}

// One pattern label against one name label: "*" any label, "pre*post" a label that starts and
// ends so (the '*' standing for zero or more characters), anything else exactly.
bool label_matches(std::string_view pattern, std::string_view label) {
  if (label.empty()) return false;
  const auto star = pattern.find('*');
  if (star == std::string_view::npos) return equal_fold(label, pattern);
  const std::string_view pre = pattern.substr(0, star);
  const std::string_view post = pattern.substr(star + 1);
  return label.size() >= pre.size() + post.size() && equal_fold(label.substr(0, pre.size()), pre) &&
         equal_fold(label.substr(label.size() - post.size()), post);
}

}  // namespace

Result<NamePattern> NamePattern::compile(std::string_view text) {
  auto refuse = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidArgument,
                "bad name pattern '" + std::string(text.substr(0, 64)) + "': " + std::string(why));
  };
  if (text.empty() || text.size() > 253) return refuse("1 to 253 characters");
  NamePattern p;
  p.text_.reserve(text.size());
  for (char ch : text) p.text_.push_back(lower_char(ch));
  std::string_view rest = p.text_;
  bool first = true;
  std::vector<std::string> left_to_right;
  while (true) {
    const auto dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty()) return refuse("empty label");
    if (label.size() > 63) return refuse("a label is at most 63 characters");
    const bool valid = std::all_of(label.begin(), label.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
             ch == '*';
    });
    if (!valid) return refuse("only letters, digits, '-', '_', '*' and dots");
    if (label == "**") {
      if (!first) return refuse("'**' may only be the first label");
      p.any_prefix_ = true;
    } else {
      if (std::count(label.begin(), label.end(), '*') > 1) {
        return refuse("at most one '*' in a label");
      }
      left_to_right.emplace_back(label);
    }
    first = false;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (left_to_right.empty()) return refuse("'**' needs a suffix");
  p.labels_.assign(left_to_right.rbegin(), left_to_right.rend());
  return p;
}

bool NamePattern::matches(std::string_view name) const {
  if (name.ends_with('.')) name.remove_suffix(1);  // a fully qualified name
  std::size_t i = 0;
  while (true) {
    const auto dot = name.rfind('.');
    const std::string_view label = dot == std::string_view::npos ? name : name.substr(dot + 1);
    if (i == labels_.size()) return any_prefix_ && !label.empty();
    if (!label_matches(labels_[i], label)) return false;
    ++i;
    if (dot == std::string_view::npos) return i == labels_.size() && !any_prefix_;
    name = name.substr(0, dot);
  }
}

}  // namespace certward::policy
