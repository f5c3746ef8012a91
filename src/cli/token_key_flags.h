#pragma once
// The flags of a command that makes a CA key (`ca create`, `ssh ca create`): where the key is
// (--key-store software|pkcs11) and, for a token, which one and how to log in. One reading for
// both, checked before anything is made, so a typo never silently makes a software key.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ca/authority.h"
#include "common/error.h"

namespace certward::cli {

struct TokenKeyFlags {
  std::string key_store = "software";
  std::optional<std::string> token, key_label, key_id, pin_env, pin_file, module;
  bool existing_key = false;
};

// Adds --key-store, --token, --key-label, --key-id, --existing-key, --pin-env, --pin-file and
// --module to `cmd`; `flags` outlives it.
void add_token_key_flags(CLI::App* cmd, TokenKeyFlags& flags);

// The request the flags make: nullopt for a software key. Errors: kInvalidArgument (a token
// flag without --key-store pkcs11, an unknown store, no --token, two PIN sources).
Result<std::optional<ca::TokenKeyRequest>> token_key_request(const TokenKeyFlags& flags);

// Adds the flags to a REST body. Errors: those of token_key_request, and kInvalidArgument for
// --pin-env, --pin-file and --module, which a server takes from its own [ca.pkcs11] only.
Status add_token_key_body(nlohmann::json& body, const TokenKeyFlags& flags);

}  // namespace certward::cli
