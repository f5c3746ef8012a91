#include "cli/token_key_flags.h"

#include <filesystem>

namespace certward::cli {

void add_token_key_flags(CLI::App* cmd, TokenKeyFlags& f) {
  cmd->add_option("--key-store", f.key_store,
                  "software (sealed under the master key) or pkcs11 (in a token, docs/hsm.md)")
      ->capture_default_str();
  cmd->add_option("--token", f.token, "pkcs11: the token's label");
  cmd->add_option("--key-label", f.key_label,
                  "pkcs11: the key's label (default certward-<name>; with --existing-key, the "
                  "key to use)");
  cmd->add_option("--key-id", f.key_id, "pkcs11: with --existing-key, the key's CKA_ID (hex)");
  cmd->add_flag("--existing-key", f.existing_key,
                "pkcs11: use a key already in the token instead of generating one");
  cmd->add_option("--pin-env", f.pin_env,
                  "pkcs11: environment variable holding the token's user PIN (default: "
                  "[ca.pkcs11.tokens])");
  cmd->add_option("--pin-file", f.pin_file, "pkcs11: file holding the token's user PIN");
  cmd->add_option("--module", f.module,
                  "pkcs11: the PKCS#11 library (default: [ca.pkcs11] module)");
}

Result<std::optional<ca::TokenKeyRequest>> token_key_request(const TokenKeyFlags& f) {
  if (f.key_store == "software") {
    if (f.token || f.key_label || f.key_id || f.existing_key || f.pin_env || f.pin_file ||
        f.module) {
      return fail(ErrorCode::kInvalidArgument,
                  "--token, --key-label, --key-id, --existing-key, --pin-env, --pin-file and "
                  "--module go with --key-store pkcs11");
    }
    return std::optional<ca::TokenKeyRequest>();
  }
  if (f.key_store != "pkcs11") {
    return fail(ErrorCode::kInvalidArgument, "--key-store is software or pkcs11");
  }
  if (!f.token) return fail(ErrorCode::kInvalidArgument, "--key-store pkcs11 needs --token");
  if (f.pin_env && f.pin_file) {
    return fail(ErrorCode::kInvalidArgument, "give --pin-env or --pin-file, not both");
  }
  ca::TokenKeyRequest t;
  t.token = *f.token;
  t.label = f.key_label.value_or("");
  t.id_hex = f.key_id.value_or("");
  t.existing = f.existing_key;
  t.module = f.module;
  if (f.pin_env) t.pin_source = "env:" + *f.pin_env;
  // Never relative to where the CLI ran.
  if (f.pin_file) t.pin_source = "file:" + std::filesystem::absolute(*f.pin_file).string();
  return std::optional<ca::TokenKeyRequest>(std::move(t));
}

Status add_token_key_body(nlohmann::json& body, const TokenKeyFlags& f) {
  CW_ASSIGN_OR_RETURN(auto token_key, token_key_request(f));
  if (!token_key) return ok();
  if (token_key->module || token_key->pin_source) {
    return fail(ErrorCode::kInvalidArgument,
                "--pin-env, --pin-file and --module are for local use: a server logs in to its "
                "tokens as its [ca.pkcs11] configuration says");
  }
  body["key_store"] = "pkcs11";
  body["token"] = token_key->token;
  if (!token_key->label.empty()) body["key_label"] = token_key->label;
  if (!token_key->id_hex.empty()) body["key_id"] = token_key->id_hex;
  if (token_key->existing) body["existing_key"] = true;
  return ok();
}

}  // namespace certward::cli
