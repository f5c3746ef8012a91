// Device enrollment credentials (`certward enroll credentials create|batch|list|show|revoke`),
// locally or through --server: what devices present when they enroll over EST, SCEP or CMP.

#include <fstream>

#include "api/enrollment.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cli/remote.h"
#include "common/file.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

void print_credentials(const json& doc) {
  Table t({"ID", "KIND", "TEAM", "PROFILE", "LABEL", "SUBJECT", "USES", "STATE", "EXPIRES"});
  const json items = doc.contains("items") ? doc["items"] : json::array({doc});
  for (const auto& c : items) {
    t.add({text(c, "id"), text(c, "kind"), text(c, "team"), text(c, "profile"), text(c, "label"),
           text(c, "expected_subject"),
           std::to_string(c.value("uses", 0)) + "/" +
               (c.value("max_uses", 0) == 0 ? std::string("any")
                                            : std::to_string(c.value("max_uses", 0))),
           text(c, "state"), text(c, "expires_at")});
  }
  t.print();
  if (doc.contains("certificates")) {
    for (const auto& u : doc["certificates"])
      std::cout << "enrolled " << text(u, "certificate") << " over " << text(u, "channel") << " at "
                << text(u, "used_at") << "\n";
  }
}

// The secret is printed once, here; nothing stores it in the clear.
void print_created(const json& doc) {
  const std::string kind = text(doc, "kind");
  std::cout << "id:      " << text(doc, "id") << "\n"
            << "secret:  " << text(doc, "secret") << "\n"
            << "team:    " << text(doc, "team") << "\n"
            << "profile: " << text(doc, "profile") << "\n";
  if (kind == "est")
    std::cout << "The device enrolls over EST with username = id and password = secret";
  else if (kind == "scep")
    std::cout << "The device puts the secret in its request as the SCEP challenge password";
  else
    std::cout << "The device protects its CMP request with reference = id and secret = secret";
  std::cout << "; the secret is not shown again.\n";
}

struct Request {
  std::string kind = "est", team, profile, lifetime = "30d", description;
  std::optional<std::string> authority, label, expected_subject;
  int max_uses = 1;
};

Result<auth::CredentialRequest> to_request(const Request& o) {
  auth::CredentialRequest r;
  auto kind = auth::parse_credential_kind(o.kind);
  if (!kind) return fail(ErrorCode::kInvalidArgument, "--kind must be est, scep or cmp");
  r.kind = *kind;
  r.team = o.team;
  r.profile = o.profile;
  r.authority = o.authority;
  r.label = o.label;
  r.max_uses = o.max_uses;
  auto lifetime = parse_duration(o.lifetime);
  if (!lifetime)
    return fail(ErrorCode::kInvalidArgument, "--lifetime: " + lifetime.error().message);
  r.lifetime = *lifetime;
  r.description = o.description;
  return r;
}

json to_body(const Request& o) {
  json b = {{"kind", o.kind},         {"team", o.team},         {"profile", o.profile},
            {"max_uses", o.max_uses}, {"lifetime", o.lifetime}, {"description", o.description}};
  if (o.authority) b["authority"] = *o.authority;
  if (o.label) b["label"] = *o.label;
  return b;
}

void add_request_options(CLI::App& cmd, Request& o) {
  cmd.add_option("--kind", o.kind, "est (Basic username/password), scep (challenge) or cmp")
      ->check(CLI::IsMember({"est", "scep", "cmp"}));
  cmd.add_option("--team", o.team, "the team the device enrolls for")->required();
  cmd.add_option("--profile", o.profile, "the profile it enrolls under")->required();
  cmd.add_option("--authority", o.authority, "the authority (default: the default one)");
  cmd.add_option("--label", o.label, "the EST label it may be used at (default: any)");
  cmd.add_option("--max-uses", o.max_uses, "enrollments it allows; 0: any number")
      ->check(CLI::Range(0, 1'000'000));
  cmd.add_option("--lifetime", o.lifetime, "how long it stays usable (1m to 5y)");
  cmd.add_option("--description", o.description, "who or what it is for");
}

// Writes the CSV a factory line loads, 0600: it holds every secret of the batch.
Status write_csv(const std::string& path, const json& doc) {
  return write_file_atomic(path, api::credentials_csv(doc.value("items", json::array())), 0600);
}

}  // namespace

void add_enroll_commands(CLI::App& app, Globals& g) {
  auto* enroll = app.add_subcommand("enroll", "device enrollment over EST, SCEP and CMP");
  enroll->require_subcommand(1);
  auto* creds = enroll->add_subcommand("credentials", "what devices enroll with");
  creds->require_subcommand(1);
  {
    auto o = std::make_shared<Request>();
    auto* create = creds->add_subcommand("create", "create one enrollment credential");
    add_request_options(*create, *o);
    create->add_option("--expected-subject", o->expected_subject,
                       "the only name the device's request may carry");
    create->callback([&g, o] {
      run_either(
          g,
          [o](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto r, to_request(*o));
            r.expected_subject = o->expected_subject;
            std::vector<std::string> subjects;
            if (r.expected_subject) subjects.push_back(*r.expected_subject);
            CW_RETURN_IF_ERROR(
                api::check_credential(c.auth(), c.authorities(), c.config(), r, subjects));
            CW_ASSIGN_OR_RETURN(auto made, c.credentials().create(r, c.actor()));
            json j = api::credential_json(made.info, c.clock().now());
            j["secret"] = made.secret;
            return j;
          },
          [o](const Remote& r) {
            json body = to_body(*o);
            if (o->expected_subject) body["expected_subject"] = *o->expected_subject;
            return r.post("/api/v1/enrollment/credentials", body);
          },
          print_created);
    });
  }
  {
    auto o = std::make_shared<Request>();
    auto count = std::make_shared<int>(0);
    auto subjects_file = std::make_shared<std::string>();
    auto csv = std::make_shared<std::string>();
    auto* batch = creds->add_subcommand(
        "batch", "create one-time credentials for a factory line or an MDM, written as CSV");
    add_request_options(*batch, *o);
    auto* n = batch->add_option("--count", *count, "how many")->check(CLI::Range(1, 10'000));
    batch
        ->add_option("--subjects", *subjects_file,
                     "a file with one expected subject per line: one credential each")
        ->excludes(n);
    batch->add_option("--csv", *csv, "write id,kind,secret,... here (0600)")->required();
    batch->callback([&g, o, count, subjects_file, csv] {
      auto subjects = std::make_shared<std::vector<std::string>>();
      auto read = [&]() -> Status {
        if (subjects_file->empty()) {
          if (*count == 0) return fail(ErrorCode::kInvalidArgument, "give --count or --subjects");
          return ok();
        }
        CW_ASSIGN_OR_RETURN(auto textual, read_file(*subjects_file));
        std::size_t at = 0;
        while (at < textual.size()) {
          std::size_t end = textual.find('\n', at);
          if (end == std::string::npos) end = textual.size();
          std::string line = textual.substr(at, end - at);
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (!line.empty()) subjects->push_back(line);
          at = end + 1;
        }
        return ok();
      };
      if (auto s = read(); !s) {
        g.exit_code = report_error(s.error());
        return;
      }
      run_either(
          g,
          [o, count, subjects, csv](Context& c) -> Result<json> {
            auth::BatchRequest b;
            CW_ASSIGN_OR_RETURN(b.each, to_request(*o));
            b.count = *count;
            b.expected_subjects = *subjects;
            CW_RETURN_IF_ERROR(api::check_credential(c.auth(), c.authorities(), c.config(), b.each,
                                                     b.expected_subjects));
            CW_ASSIGN_OR_RETURN(auto made, c.credentials().create_batch(b, c.actor()));
            json items = json::array();
            for (const auto& m : made.credentials) {
              json j = api::credential_json(m.info, c.clock().now());
              j["secret"] = m.secret;
              items.push_back(std::move(j));
            }
            json doc = {{"batch", made.batch}, {"items", std::move(items)}};
            CW_RETURN_IF_ERROR(write_csv(*csv, doc));
            return doc;
          },
          [o, count, subjects, csv](const Remote& r) -> Result<json> {
            json body = to_body(*o);
            if (subjects->empty()) {
              body["count"] = *count;
            } else {
              body["expected_subjects"] = *subjects;
            }
            CW_ASSIGN_OR_RETURN(auto doc, r.post("/api/v1/enrollment/credentials/batch", body));
            CW_RETURN_IF_ERROR(write_csv(*csv, doc));
            return doc;
          },
          [csv](const json& doc) {
            std::cout << "batch " << text(doc, "batch") << ": "
                      << doc.value("items", json::array()).size() << " credentials written to "
                      << *csv << "\n";
          });
    });
  }
  {
    struct Filter {
      std::optional<std::string> team, batch, kind;
    };
    auto f = std::make_shared<Filter>();
    auto* list = creds->add_subcommand("list", "list credentials (never their secrets)");
    list->add_option("--team", f->team, "only this team's");
    list->add_option("--batch", f->batch, "only this batch's: which were used");
    list->add_option("--kind", f->kind, "est, scep or cmp");
    list->callback([&g, f] {
      run_either(
          g,
          [f](Context& c) -> Result<json> {
            auth::CredentialFilter filter;
            filter.team = f->team;
            filter.batch = f->batch;
            if (f->kind) {
              filter.kind = auth::parse_credential_kind(*f->kind);
              if (!filter.kind)
                return fail(ErrorCode::kInvalidArgument, "--kind must be est, scep or cmp");
            }
            filter.limit = 1000;
            CW_ASSIGN_OR_RETURN(auto found, c.credentials().list(filter));
            json items = json::array();
            for (const auto& i : found) items.push_back(api::credential_json(i, c.clock().now()));
            return json{{"items", items}};
          },
          [f](const Remote& r) {
            std::string q = "?limit=1000";
            if (f->team) q += "&team=" + url_encode(*f->team);
            if (f->batch) q += "&batch=" + url_encode(*f->batch);
            if (f->kind) q += "&kind=" + url_encode(*f->kind);
            return r.get("/api/v1/enrollment/credentials" + q);
          },
          print_credentials);
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* show = creds->add_subcommand("show", "one credential and what it enrolled");
    show->add_option("id", *id, "the credential id")->required();
    show->callback([&g, id] {
      run_either(
          g,
          [id](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto info, c.credentials().get(*id));
            CW_ASSIGN_OR_RETURN(auto uses, c.credentials().uses(*id));
            return api::credential_json(info, uses, c.clock().now());
          },
          [id](const Remote& r) {
            return r.get("/api/v1/enrollment/credentials/" + url_encode(*id));
          },
          print_credentials);
    });
  }
  {
    auto id = std::make_shared<std::string>();
    auto* revoke = creds->add_subcommand("revoke", "revoke a credential: refused from now on");
    revoke->add_option("id", *id, "the credential id")->required();
    revoke->callback([&g, id] {
      run_either(
          g,
          [id](Context& c) -> Result<json> {
            CW_ASSIGN_OR_RETURN(auto info, c.credentials().revoke(*id, c.actor()));
            return api::credential_json(info, c.clock().now());
          },
          [id](const Remote& r) -> Result<json> {
            CW_RETURN_IF_ERROR(r.del("/api/v1/enrollment/credentials/" + url_encode(*id)));
            return r.get("/api/v1/enrollment/credentials/" + url_encode(*id));
          },
          print_credentials);
    });
  }
}

}  // namespace certward::cli
