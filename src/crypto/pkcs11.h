#pragma once
// CA keys held in a PKCS#11 token (a network or USB HSM, a cloud HSM's PKCS#11 library,
// SoftHSM2): generated inside the token, never extractable, and used through the Signer
// interface, so that certificates, CRLs and OCSP responses are signed the same way whether
// the key is in memory or in hardware.
//
// The module (the vendor's .so) is loaded at run time with dlopen and initialised once per
// process. Each token keeps a pool of logged-in sessions shared by every key on it. When the
// token stops answering (removed, its daemon restarted, its configuration gone), signing
// fails with kUnavailable and nothing is signed; the next signature after at least a second
// finalises and initialises the module again, finds the token by its label and logs in, so
// the token is used again as soon as it is back, without a restart.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "crypto/crypto.h"

namespace certward::crypto {

// Where a token key is and how to log in to its token. None of it is secret: the PIN is
// read from pin_source each time the token is (re)connected, and never kept elsewhere.
struct Pkcs11KeyRef {
  std::string module;      // path of the PKCS#11 library
  std::string token;       // token label (CKA_LABEL of the token, trailing blanks ignored)
  std::string label;       // the key pair's CKA_LABEL
  std::string id_hex;      // the key pair's CKA_ID, lower-case hex
  std::string pin_source;  // "env:NAME" or "file:/path"
};

// The JSON kept in the authorities table, and back. Errors: kMalformed.
std::string pkcs11_key_ref_json(const Pkcs11KeyRef& ref);
Result<Pkcs11KeyRef> parse_pkcs11_key_ref(std::string_view json);

// Reads a PIN from "env:NAME" (the variable's value) or "file:/path" (the file's first line).
// Errors: kInvalidArgument (another form), kNotFound (unset or empty variable, unreadable or
// empty file).
Result<SecretBytes> read_pin(std::string_view source);

// Generates a key pair of `type` (RSA 2048 to 4096, P-256 or P-384) in the token: both halves
// token objects under ref.label and a fresh random CKA_ID (set in the result); the private
// half private, sensitive, never extractable and for signing only.
// Errors: kInvalidArgument (a type tokens do not hold for CAs: Ed25519, RSA-PSS), kConflict
// (an object with that label exists), kUnavailable (module, token or login), kInternal.
Result<Pkcs11KeyRef> pkcs11_generate_key(Pkcs11KeyRef ref, KeyType type);

// Finds a key pair already in the token by ref.id_hex, ref.label or both; exactly one private
// key must match, it must be a sensitive, non-extractable RSA or EC signing key, and its
// public key must be readable (a public key object with the same CKA_ID, or the private key's
// own public attributes). Fills in the label and id. Errors: kNotFound (none), kConflict
// (several), kPolicyRejected (extractable, not sensitive, not for signing, another key type),
// kUnavailable, kInternal.
Result<Pkcs11KeyRef> pkcs11_find_key(Pkcs11KeyRef ref);

// Removes a key pair (both halves) that pkcs11_generate_key made for something that was then
// not created. Errors: kUnavailable, kInternal.
Status pkcs11_destroy_key(const Pkcs11KeyRef& ref);

// A signer over the token key; its public key is read once, here.
// Errors: as pkcs11_find_key.
Result<std::shared_ptr<const Signer>> open_pkcs11_signer(const Pkcs11KeyRef& ref);

}  // namespace certward::crypto
