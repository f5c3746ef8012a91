// manual and completion: certward's man pages and its bash completion, generated from the
// command tree itself, so that they list exactly the commands and options the parser accepts
// and say what --help says. The package build runs both (cmake/Packaging.cmake); neither is
// listed in --help.
//
//   certward manual --man-dir DIR    DIR/certward.1, and DIR/certward-<command>.1 for each
//                                    top-level command with everything below it
//   certward completion bash         a bash completion script, on stdout
//
// Commands and options without a group are hidden (CLI11's convention, as in --help) and left
// out of both.

#include <fmt/format.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "cli/commands.h"

namespace certward::cli {
namespace {

bool visible(const CLI::App* a) { return !a->get_name().empty() && !a->get_group().empty(); }

std::vector<const CLI::App*> commands_of(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* a) { return visible(a); });
}

std::vector<const CLI::Option*> options_of(const CLI::App& app) {
  return app.get_options([](const CLI::Option* o) { return !o->get_group().empty(); });
}

bool takes_value(const CLI::Option& o) { return o.get_items_expected_max() > 0; }

std::string join(const std::vector<std::string>& words, std::string_view separator) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : std::string(separator)) + w;
  return out;
}

// "certward ca create": the names from the root down to `app`.
std::string path_of(const CLI::App& app) {
  const CLI::App* parent = app.get_parent();
  return parent ? path_of(*parent) + " " + app.get_name() : app.get_name();
}

// ---------------------------------------------------------------------------------------------
// Man pages

// `text` as roff prints it literally: a backslash becomes \e, a hyphen \- (a minus, so that an
// option copied from the page works), and a line that would start with a control character
// ('.' or '\'') begins with the zero-width \& instead. Line breaks are kept.
std::string roff(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  bool line_start = true;
  for (const char c : text) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\')
      out += "\\e";
    else if (c == '-')
      out += "\\-";
    else
      out += c;
  }
  return out;
}

// `text` as one double-quoted argument of a request (.TH, .SS).
std::string roff_argument(std::string_view text) {
  std::string out = "\"";
  for (const char c : roff(text)) out += c == '"' ? std::string("\\(dq") : std::string(1, c);
  return out + "\"";
}

std::string bold(std::string_view s) { return "\\fB" + roff(s) + "\\fR"; }
std::string italic(std::string_view s) { return "\\fI" + roff(s) + "\\fR"; }

// "-c, --config TEXT" (bold names, italic value); a positional is its name in italics.
std::string option_term(const CLI::Option& o) {
  if (!o.nonpositional()) return italic(o.get_name(true));
  std::string term;
  for (const auto& s : o.get_snames()) term += (term.empty() ? "" : ", ") + bold("-" + s);
  for (const auto& l : o.get_lnames()) term += (term.empty() ? "" : ", ") + bold("--" + l);
  if (takes_value(o)) term += " " + italic(o.get_type_name());
  return term;
}

std::string option_text(const CLI::Option& o) {
  std::string text = o.get_description();
  std::vector<std::string> notes;
  if (o.get_required()) notes.emplace_back("required");
  if (!o.get_default_str().empty()) notes.push_back("default: " + o.get_default_str());
  if (!o.get_envname().empty()) notes.push_back("environment: " + o.get_envname());
  if (!notes.empty()) text += (text.empty() ? "(" : " (") + join(notes, "; ") + ")";
  return roff(text);
}

void options_section(std::string& page, const std::vector<const CLI::Option*>& options) {
  for (const CLI::Option* o : options) {
    const std::string text = option_text(*o);
    page += ".TP\n" + option_term(*o) + "\n" + (text.empty() ? "" : text + "\n");
  }
}

// " [options] name command": what follows the command's name when it is called.
std::string arguments(const CLI::App& app) {
  bool any_option = false;
  std::string positionals;
  for (const CLI::Option* o : options_of(app)) {
    if (o->nonpositional()) {
      any_option = true;
      continue;
    }
    const std::string name =
        italic(o->get_name(true)) + (o->get_items_expected_max() > 1 ? "..." : "");
    positionals += o->get_required() ? " " + name : " [" + name + "]";
  }
  std::string args = any_option ? " [" + italic("options") + "]" : "";
  args += positionals;
  if (!commands_of(app).empty()) args += " " + italic("command");
  return args;
}

// One command and, below it, every command under it: a subsection each.
void command_sections(std::string& page, const CLI::App& app) {
  page += ".SS " + roff_argument(path_of(app)) + "\n" + bold(path_of(app)) + arguments(app) +
          "\n.PP\n" + roff(app.get_description()) + "\n";
  // Subcommands inherit their parent's footer (the exit codes): only a footer of their own.
  const CLI::App* parent = app.get_parent();
  if (!app.get_footer().empty() && (!parent || app.get_footer() != parent->get_footer())) {
    page += ".PP\n" + roff(app.get_footer()) + "\n";
  }
  // --help is on every command; the page says so once.
  std::vector<const CLI::Option*> options = options_of(app);
  std::erase(options, app.get_help_ptr());
  options_section(page, options);
  for (const CLI::App* sub : commands_of(app)) command_sections(page, *sub);
}

std::string page_header(std::string_view name, std::string_view source, std::string_view summary) {
  std::string upper(name);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // No date: the pages of one version are the same whenever they are built.
  return fmt::format(".TH {} 1 \"\" {} \"certward manual\"\n.SH NAME\n{} \\- {}\n",
                     roff_argument(upper), roff_argument(source), roff(name), roff(summary));
}

std::string exit_status(const CLI::App& root) {
  return ".SH EXIT STATUS\n" + roff(root.get_footer()) + "\n";
}

// The root's description without its "certward: " prefix.
std::string summary_of(const CLI::App& root) {
  std::string d = root.get_description();
  const std::string prefix = root.get_name() + ": ";
  return d.starts_with(prefix) ? d.substr(prefix.size()) : d;
}

std::string root_page(const CLI::App& root, std::string_view source) {
  const std::string name = root.get_name();
  std::string page = page_header(name, source, summary_of(root));
  page += ".SH SYNOPSIS\n" + bold(name) + " [" + italic("global options") + "] " +
          italic("command") + " [" + italic("options") + "]\n";
  page += ".SH DESCRIPTION\n" + roff(summary_of(root)) +
          ".\n.PP\nEach command is described in its own page, listed below. Global options may "
          "also follow the command. Every command takes " +
          bold("--help") + ", and " + bold("--json") +
          " for output (and errors) as JSON.\n.SH GLOBAL OPTIONS\n";
  options_section(page, options_of(root));
  page += ".SH COMMANDS\n";
  for (const CLI::App* cmd : commands_of(root)) {
    page += ".TP\n" + bold(cmd->get_name()) + "\n" + roff(cmd->get_description()) + " (" +
            bold(name + "-" + cmd->get_name()) + "(1))\n";
  }
  page += exit_status(root) + ".SH SEE ALSO\n";
  std::string see_also;
  for (const CLI::App* cmd : commands_of(root)) {
    see_also += (see_also.empty() ? "" : ",\n") + bold(name + "-" + cmd->get_name()) + "(1)";
  }
  return page + see_also + "\n";
}

std::string command_page(const CLI::App& root, const CLI::App& cmd, std::string_view source) {
  const std::string name = root.get_name() + "-" + cmd.get_name();
  std::string page = page_header(name, source, cmd.get_description());
  page += ".SH SYNOPSIS\n" + bold(root.get_name()) + " [" + italic("global options") + "] " +
          bold(cmd.get_name()) + arguments(cmd) + "\n";
  page += ".SH DESCRIPTION\n" + roff(cmd.get_description()) + "\n.PP\nEvery command takes " +
          bold("--help") + ". The global options (" + bold(root.get_name()) +
          "(1)) may come before or after the command.\n";
  page += commands_of(cmd).empty() ? ".SH OPTIONS\n" : ".SH COMMANDS\n";
  command_sections(page, cmd);
  return page + exit_status(root) + ".SH SEE ALSO\n" + bold(root.get_name()) + "(1)\n";
}

Status write_manual(const CLI::App& root, const std::string& dir, std::string_view source) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kUnavailable, dir + ": " + ec.message());
  const std::string stem = dir + "/" + root.get_name();
  CW_RETURN_IF_ERROR(write_file_atomic(stem + ".1", root_page(root, source), 0644));
  for (const CLI::App* cmd : commands_of(root)) {
    CW_RETURN_IF_ERROR(write_file_atomic(stem + "-" + cmd->get_name() + ".1",
                                         command_page(root, *cmd, source), 0644));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Bash completion

// A word list as one double-quoted bash word. Command and option names are letters, digits
// and hyphens; anything else is escaped all the same.
std::string bash_word(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\' || c == '$' || c == '`') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::vector<std::string> option_names(const CLI::Option& o) {
  std::vector<std::string> names;
  for (const auto& s : o.get_snames()) names.push_back("-" + s);
  for (const auto& l : o.get_lnames()) names.push_back("--" + l);
  return names;
}

// The path of a command as the script spells it: the names below the root, space-separated
// ("" for the root itself).
std::string script_path(const CLI::App& app) {
  const std::string full = path_of(app);
  const auto space = full.find(' ');
  return space == std::string::npos ? "" : full.substr(space + 1);
}

// Case arms "path|option") return 0 for the options of `app` that take a value, 1 for flags.
std::string value_arms(const CLI::App& app) {
  std::string arms;
  for (const CLI::Option* o : options_of(app)) {
    for (const std::string& n : option_names(*o)) {
      arms += fmt::format("    {}) return {} ;;\n", bash_word(script_path(app) + "|" + n),
                          takes_value(*o) ? 0 : 1);
    }
  }
  return arms;
}

struct CompletionTables {
  std::string commands;  // case arms: path) its subcommands
  std::string options;   // case arms: path) its options
  std::string values;    // value_arms of every command
};

void completion_tables(const CLI::App& app, CompletionTables& t) {
  const std::string path = bash_word(script_path(app));
  std::vector<std::string> subs;
  for (const CLI::App* sub : commands_of(app)) subs.push_back(sub->get_name());
  std::vector<std::string> opts;
  for (const CLI::Option* o : options_of(app)) {
    for (std::string& n : option_names(*o)) opts.push_back(std::move(n));
  }
  if (!subs.empty())
    t.commands += fmt::format("    {}) words={} ;;\n", path, bash_word(join(subs, " ")));
  t.options += fmt::format("    {}) words={} ;;\n", path, bash_word(join(opts, " ")));
  t.values += value_arms(app);
  for (const CLI::App* sub : commands_of(app)) completion_tables(*sub, t);
}

// Global options are accepted after any command (they fall through), so a word is looked up
// in its command's options first, then in the root's.
std::string bash_completion(const CLI::App& root) {
  CompletionTables t;
  completion_tables(root, t);
  const std::string fn = "_" + root.get_name();
  return fmt::format(R"sh(# bash completion for {root}; generated by `{root} completion bash`.

# The subcommands of a command path ("" is {root} itself).
{fn}_commands() {{
  local words=""
  case "$1" in
{commands}  esac
  printf '%s' "$words"
}}

# The options of a command path.
{fn}_options() {{
  local words=""
  case "$1" in
{options}  esac
  printf '%s' "$words"
}}

# Succeeds when option $2 of command path $1 takes a value; global options apply anywhere.
{fn}_takes_value() {{
  case "$1|$2" in
{values}  esac
  case "|$2" in
{global_values}  esac
  return 1
}}

{fn}() {{
  local cur=${{COMP_WORDS[COMP_CWORD]}} path="" word words i value_next=0
  COMPREPLY=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${{COMP_WORDS[i]}}
    if ((value_next)); then
      value_next=0
      continue
    fi
    if [[ $word == -* ]]; then
      [[ $word != *=* ]] && {fn}_takes_value "$path" "$word" && value_next=1
      continue
    fi
    if [[ " $({fn}_commands "$path") " == *" $word "* ]]; then
      path=${{path:+$path }}$word
    fi
  done
  if ((value_next)); then
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  elif [[ $cur == -* ]]; then
    words=$({fn}_options "$path")
    [[ -n $path ]] && words+=" $({fn}_options "")"
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
  elif [[ -n $({fn}_commands "$path") ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$({fn}_commands "$path")" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}}
complete -o filenames -F {fn} {root}
)sh",
                     fmt::arg("root", root.get_name()), fmt::arg("fn", fn),
                     fmt::arg("commands", t.commands), fmt::arg("options", t.options),
                     fmt::arg("values", t.values), fmt::arg("global_values", value_arms(root)));
}

}  // namespace

void add_docs_commands(CLI::App& app, Globals& g) {
  {
    auto dir = std::make_shared<std::string>();
    auto source = std::make_shared<std::string>("certward");
    auto* cmd =
        app.add_subcommand("manual", "write the man pages (certward.1, certward-<command>.1)");
    cmd->group("");
    cmd->add_option("--man-dir", *dir, "directory to write the pages to")->required();
    cmd->add_option("--source", *source, "the pages' source line, e.g. \"certward 0.1.0\"")
        ->capture_default_str();
    cmd->callback([&g, &app, dir, source] {
      const Status s = write_manual(app, *dir, *source);
      if (!s) g.exit_code = report_error(s.error());
    });
  }
  {
    auto* cmd = app.add_subcommand("completion", "print a shell completion script");
    cmd->group("");
    cmd->require_subcommand(1);
    cmd->add_subcommand("bash",
                        "bash: source it, or install it as "
                        "/usr/share/bash-completion/completions/certward")
        ->callback([&app] { std::fputs(bash_completion(app).c_str(), stdout); });
  }
}

}  // namespace certward::cli
