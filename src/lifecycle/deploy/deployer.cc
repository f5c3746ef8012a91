// Deployer: checks the spec again (as parsed and as the current policy allows), then hands it
// to the files or the SSH target.

#include "lifecycle/deploy/internal.h"

namespace certward::lifecycle::deploy {

namespace detail {

Step StepTimer::finish(std::string name, bool ok, std::string detail) const {
  Step s;
  s.name = std::move(name);
  s.ok = ok;
  s.detail = std::move(detail);
  s.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 start_);
  return s;
}

}  // namespace detail

nlohmann::json outcome_json(const Outcome& o) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : o.steps) {
    steps.push_back(
        {{"name", s.name}, {"ok", s.ok}, {"detail", s.detail}, {"took_ms", s.took.count()}});
  }
  nlohmann::json j = {{"deployed", o.deployed},
                      {"rolled_back", o.rolled_back},
                      {"started", format_time(o.started)},
                      {"steps", std::move(steps)}};
  if (o.error) {
    j["error"] = {{"code", std::string(error_code_name(o.error->code))},
                  {"message", o.error->message}};
  }
  return j;
}

Deployer::Deployer(const Clock& clock, Policy policy) : clock_(clock), policy_(std::move(policy)) {}

Outcome Deployer::deploy(const TargetSpec& spec, const Material& material) const {
  Outcome out;
  out.started = clock_.now();
  // A spec built in code, or stored by an older version, is held to what the parser accepts.
  if (auto reparsed = parse_target_spec(target_spec_json(spec)); !reparsed) {
    out.error = reparsed.error();
    return out;
  }
  if (spec.kind == TargetKind::kAgent) {
    out.error = Error{ErrorCode::kInvalidArgument,
                      "target " + spec.name + " is deployed by its agent, not here"};
    return out;
  }
  if (Status allowed = check_target(spec, policy_); !allowed) {
    out.error = allowed.error();
    return out;
  }
  switch (spec.kind) {
    case TargetKind::kFiles:
      detail::deploy_files(spec, material, policy_, out);
      break;
    case TargetKind::kSsh:
      detail::deploy_ssh(spec, material, policy_, out);
      break;
    case TargetKind::kAgent:
      break;
  }
  return out;
}

}  // namespace certward::lifecycle::deploy
