// Replacement campaigns from the command line: `certward campaign plan|list|status|items|start|
// pause|cancel|finish`, against the data directory or a server (--server). The local commands
// call the same lifecycle::CampaignService a server does, as an unscoped local operator; the
// waves themselves run on the servers' schedulers.

#include "cli/commands.h"
#include "cli/output.h"
#include "lifecycle/campaign_service.h"

namespace certward::cli {
namespace {

using nlohmann::json;

std::string text(const json& j, const char* key) { return json_text(j, key, "-"); }

std::string count(const json& counts, const char* key) {
  return std::to_string(counts.value(key, std::int64_t{0}));
}

void print_items(const json& items) {
  Table t({"SEQ", "WAVE", "STATE", "SUBJECT", "MANAGED", "FINGERPRINT", "ERROR"});
  for (const auto& i : items) {
    const json& m = i.value("managed", json(nullptr));
    t.add({std::to_string(i.value("seq", 0)), std::to_string(i.value("wave", 0)), text(i, "state"),
           printable(text(i, "subject")), m.is_object() ? json_text(m, "name", "-") : "-",
           json_text(i, "fingerprint", "-").substr(0, 16), printable(json_text(i, "error", "-"))});
  }
  t.print();
}

void print_campaign(const json& c) {
  const json counts = c.value("counts", json::object());
  if (c.value("dry_run", false)) {
    std::cout << "plan (dry run, nothing stored)\n";
  } else {
    std::cout << "campaign " << text(c, "name") << " (" << text(c, "id") << ")\n"
              << "  state:     " << text(c, "state") << "  wave " << c.value("current_wave", 0) + 1
              << " of " << c.value("waves", 0) << "\n";
    if (!json_text(c, "last_error").empty()) {
      std::cout << "  note:      " << printable(json_text(c, "last_error")) << "\n";
    }
  }
  std::cout << "  selector:  " << c.value("selector", json::object()).dump() << "\n"
            << "  target:    " << c.value("target", json::object()).dump() << "\n"
            << "  items:     " << count(counts, "total") << " (" << count(counts, "managed")
            << " managed, " << count(counts, "not_managed") << " not managed)\n"
            << "  progress:  done " << count(counts, "done") << ", pending "
            << count(counts, "pending") << ", replacing " << count(counts, "replacing")
            << ", failed " << count(counts, "failed") << ", not managed "
            << count(counts, "not_managed") << "\n";
  if (counts.value("revoked", 0) > 0 || counts.value("revoke_failed", 0) > 0) {
    std::cout << "  revoked:   " << count(counts, "revoked") << " (failed "
              << count(counts, "revoke_failed") << ")\n";
  }
  if (c.contains("items")) print_items(c["items"]);
}

void print_list(const json& doc) {
  Table t({"NAME", "ID", "STATE", "WAVE", "TOTAL", "DONE", "FAILED", "NOT MANAGED", "CREATED"});
  for (const auto& c : doc["items"]) {
    const json counts = c.value("counts", json::object());
    t.add(
        {text(c, "name"), text(c, "id"), text(c, "state"),
         std::to_string(c.value("current_wave", 0) + 1) + "/" + std::to_string(c.value("waves", 0)),
         count(counts, "total"), count(counts, "done"), count(counts, "failed"),
         count(counts, "not_managed"), text(c, "created_at")});
  }
  t.print();
}

Result<json> with_counts(Context& c, const lifecycle::Campaign& campaign) {
  CW_ASSIGN_OR_RETURN(auto counts, c.campaigns().counts(campaign.id));
  return lifecycle::campaign_json(campaign, counts);
}

struct PlanOpts {
  std::string name, authority, issuer, key_algorithm, search, team, profile, tag, origin;
  std::string to_authority, to_profile, to_key_type, item_timeout;
  int key_bits = 0, wave_size = 0, max_failures = -1;
  bool dry_run = false;
};

json plan_body(const PlanOpts& o) {
  json sel = json::object();
  auto set = [](json& j, const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  set(sel, "authority", o.authority);
  set(sel, "issuer", o.issuer);
  set(sel, "key_algorithm", o.key_algorithm);
  if (o.key_bits > 0) sel["key_bits"] = o.key_bits;
  set(sel, "search", o.search);
  set(sel, "team", o.team);
  set(sel, "profile", o.profile);
  set(sel, "tag", o.tag);
  set(sel, "origin", o.origin);
  json target = json::object();
  set(target, "authority", o.to_authority);
  set(target, "profile", o.to_profile);
  set(target, "key_type", o.to_key_type);
  json j = {{"selector", sel}, {"target", target}};
  set(j, "name", o.name);
  set(j, "item_timeout", o.item_timeout);
  if (o.wave_size > 0) j["wave_size"] = o.wave_size;
  if (o.max_failures >= 0) j["max_failures"] = o.max_failures;
  return j;
}

void add_plan(CLI::App* group, Globals& g) {
  auto o = std::make_shared<PlanOpts>();
  auto* cmd = group->add_subcommand(
      "plan", "plan a replacement campaign (stored as planned; --dry-run only shows it)");
  cmd->add_option("--name", o->name, "its name (default campaign-<id>)");
  cmd->add_option("--authority", o->authority, "take certificates issued by this authority");
  cmd->add_option("--issuer", o->issuer, "take certificates whose issuer DN contains this");
  cmd->add_option("--key-algorithm", o->key_algorithm, "take keys of rsa, rsa-pss, ecdsa, ed25519");
  cmd->add_option("--key-bits", o->key_bits, "take keys of this size");
  cmd->add_option("--search", o->search, "take certificates whose subject or a SAN contains this");
  cmd->add_option("--team", o->team, "take this team's certificates");
  cmd->add_option("--profile", o->profile, "take certificates issued with this profile");
  cmd->add_option("--tag", o->tag, "take certificates with this tag");
  cmd->add_option("--origin", o->origin, "take issued, imported, discovered or upstream ones");
  cmd->add_option("--to-authority", o->to_authority, "move managed certificates to this authority");
  cmd->add_option("--to-profile", o->to_profile, "... and this profile");
  cmd->add_option("--to-key-type", o->to_key_type,
                  "... and this key type (ec-p256, rsa-3072, ...)");
  cmd->add_option("--wave-size", o->wave_size, "managed certificates per wave (default 25)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--max-failures", o->max_failures, "pause once more than this many failed")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--item-timeout", o->item_timeout,
                  "a certificate not replaced this long after its wave started failed (1h)");
  cmd->add_flag("--dry-run", o->dry_run, "show the plan; store nothing");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto request, lifecycle::parse_campaign_request(plan_body(*o)));
          if (o->dry_run) {
            CW_ASSIGN_OR_RETURN(auto plan,
                                c.campaigns().plan(std::move(request), c.requester()));
            return lifecycle::campaign_plan_json(plan, 1000);
          }
          CW_ASSIGN_OR_RETURN(auto campaign,
                              c.campaigns().create(std::move(request), c.requester()));
          return with_counts(c, campaign);
        },
        [o](const Remote& r) -> Result<json> {
          json body = plan_body(*o);
          if (o->dry_run) body["dry_run"] = true;
          return r.post("/api/v1/campaigns", body);
        },
        print_campaign);
  });
}

void add_list(CLI::App* group, Globals& g) {
  auto limit = std::make_shared<int>(50);
  auto* cmd = group->add_subcommand("list", "campaigns, newest first");
  cmd->add_option("--limit", *limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->callback([&g, limit] {
    run_either(
        g,
        [limit](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto list, c.campaigns().list(*limit, {}, c.requester()));
          json items = json::array();
          for (const auto& campaign : list) {
            CW_ASSIGN_OR_RETURN(auto j, with_counts(c, campaign));
            items.push_back(std::move(j));
          }
          return json{{"items", items}};
        },
        [limit](const Remote& r) {
          return r.get("/api/v1/campaigns?limit=" + std::to_string(*limit));
        },
        print_list);
  });
}

void add_status(CLI::App* group, Globals& g) {
  auto id = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand("status", "a campaign and its progress");
  cmd->add_option("id", *id, "its id")->required();
  cmd->callback([&g, id] {
    run_either(
        g,
        [id](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto campaign, c.campaigns().get(*id, c.requester()));
          return with_counts(c, campaign);
        },
        [id](const Remote& r) { return r.get("/api/v1/campaigns/" + url_encode(*id)); },
        print_campaign);
  });
}

void add_items(CLI::App* group, Globals& g) {
  struct Opts {
    std::string id, state;
    int limit = 100;
    std::int64_t cursor = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand("items", "a campaign's certificates and their state");
  cmd->add_option("id", o->id, "its id")->required();
  cmd->add_option("--state", o->state, "pending, replacing, done, failed, not_managed");
  cmd->add_option("--limit", o->limit, "at most this many")->check(CLI::Range(1, 1000));
  cmd->add_option("--cursor", o->cursor, "continue after a previous page");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          lifecycle::ItemFilter f;
          if (!o->state.empty()) {
            CW_ASSIGN_OR_RETURN(f.state, lifecycle::parse_item_state(o->state));
          }
          f.limit = o->limit;
          f.after_seq = o->cursor;
          CW_ASSIGN_OR_RETURN(auto items, c.campaigns().items(o->id, f, c.requester()));
          json out = json::array();
          for (const auto& i : items) out.push_back(lifecycle::campaign_item_json(i));
          const bool more = items.size() == static_cast<std::size_t>(f.limit);
          return json{
              {"items", out},
              {"next_cursor", more ? json(std::to_string(items.back().seq)) : json(nullptr)}};
        },
        [o](const Remote& r) {
          std::string q = "?limit=" + std::to_string(o->limit);
          if (!o->state.empty()) q += "&state=" + url_encode(o->state);
          if (o->cursor > 0) q += "&cursor=" + std::to_string(o->cursor);
          return r.get("/api/v1/campaigns/" + url_encode(o->id) + "/items" + q);
        },
        [](const json& doc) {
          print_items(doc["items"]);
          if (doc.contains("next_cursor") && doc["next_cursor"].is_string()) {
            std::cout << "(more: --cursor " << doc["next_cursor"].get<std::string>() << ")\n";
          }
        });
  });
}

// start, pause, cancel.
void add_change(CLI::App* group, Globals& g, const char* name, const char* help,
                Result<lifecycle::Campaign> (lifecycle::CampaignService::*method)(
                    const std::string&, const ca::Requester&) const) {
  auto id = std::make_shared<std::string>();
  auto* cmd = group->add_subcommand(name, help);
  cmd->add_option("id", *id, "its id")->required();
  const std::string verb = name;
  cmd->callback([&g, id, method, verb] {
    run_either(
        g,
        [id, method](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto campaign, (c.campaigns().*method)(*id, c.requester()));
          return with_counts(c, campaign);
        },
        [id, verb](const Remote& r) {
          return r.post("/api/v1/campaigns/" + url_encode(*id) + "/" + verb, json::object());
        },
        print_campaign);
  });
}

void add_finish(CLI::App* group, Globals& g) {
  struct Opts {
    std::string id, reason = "superseded";
    bool revoke = false, force = false;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group->add_subcommand(
      "finish", "close a completed or cancelled campaign, revoking the replaced certificates");
  cmd->add_option("id", o->id, "its id")->required();
  cmd->add_flag("--revoke", o->revoke, "revoke the old certificates of the replaced items");
  cmd->add_option("--reason", o->reason, "superseded (default), cACompromise, keyCompromise, ...");
  cmd->add_flag("--force", o->force,
                "also revoke those whose replacement failed (they stop working)");
  cmd->callback([&g, o] {
    run_either(
        g,
        [o](Context& c) -> Result<json> {
          CW_ASSIGN_OR_RETURN(auto reason, ca::parse_revocation_reason(o->reason));
          lifecycle::FinishOptions f{
              .revoke = o->revoke, .reason = static_cast<int>(reason), .force = o->force};
          CW_ASSIGN_OR_RETURN(auto campaign, c.campaigns().finish(o->id, f, c.requester()));
          return with_counts(c, campaign);
        },
        [o](const Remote& r) {
          return r.post("/api/v1/campaigns/" + url_encode(o->id) + "/finish",
                        {{"revoke", o->revoke}, {"reason", o->reason}, {"force", o->force}});
        },
        print_campaign);
  });
}

}  // namespace

void add_campaign_commands(CLI::App& app, Globals& g) {
  auto* campaign = app.add_subcommand(
      "campaign", "replacement campaigns: replace every certificate of a CA, key type or query");
  campaign->require_subcommand(1);
  add_plan(campaign, g);
  add_list(campaign, g);
  add_status(campaign, g);
  add_items(campaign, g);
  add_change(campaign, g, "start", "start (or resume) a planned or paused campaign",
             &lifecycle::CampaignService::start);
  add_change(campaign, g, "pause", "pause a running campaign", &lifecycle::CampaignService::pause);
  add_change(campaign, g, "cancel", "cancel a campaign: no further wave starts",
             &lifecycle::CampaignService::cancel);
  add_finish(campaign, g);
}

}  // namespace certward::cli
