#pragma once
// Outcome types shared by every module. Thread-compatible value types.
//
// Code branches (and tests assert) on ErrorCode only; Error::message is for humans and may
// change freely. Front-ends alone map codes to HTTP, ACME, EST or SCEP errors.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace certward {

enum class ErrorCode : std::uint16_t {  // stable; never renumber
  kMalformed = 1,                       // input could not be parsed
  kBadSignature = 2,      // a signature (CSR proof of possession, chain) does not verify
  kNotFound = 3,          // the named thing does not exist
  kConflict = 4,          // would violate uniqueness or a state precondition
  kPolicyRejected = 5,    // well-formed but refused by profile, lint or policy
  kUnauthorized = 6,      // caller lacks the credential or the right
  kUnavailable = 7,       // a dependency (database, HSM) is down; retrying may help
  kInternal = 8,          // a bug or an unexpected library failure
  kBadPassword = 9,       // decryption with the supplied password or key failed
  kInvalidArgument = 10,  // a parameter is out of its allowed range
};

std::string_view error_code_name(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

// Prefixes context to an error as it crosses a layer ("ca 'root': " + inner message).
inline std::unexpected<Error> fail_with_context(const Error& inner, std::string_view context) {
  return std::unexpected<Error>(Error{inner.code, std::string(context) + ": " + inner.message});
}

inline Status ok() { return {}; }

}  // namespace certward

// Broken invariants abort; they are bugs, never bad input.
#define CW_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) ::certward::detail::check_failed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace certward::detail {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}  // namespace certward::detail

// Propagates an error from an expression yielding Result<T>/Status; binds the value otherwise.
#define CW_CONCAT_INNER(a, b) a##b
#define CW_CONCAT(a, b) CW_CONCAT_INNER(a, b)
#define CW_TRY_IMPL(tmp, decl, expr)                        \
  auto tmp = (expr);                                        \
  if (!tmp) return std::unexpected(std::move(tmp).error()); \
  decl = std::move(*tmp)
// __COUNTER__ is expanded once, here, so an invocation spanning several lines stays consistent.
#define CW_TRY_NAMED(n, decl, expr) CW_TRY_IMPL(CW_CONCAT(cw_try_, n), decl, expr)
#define CW_ASSIGN_OR_RETURN(decl, expr) CW_TRY_NAMED(__COUNTER__, decl, expr)
#define CW_RETURN_IF_ERROR(expr)                                            \
  do {                                                                      \
    auto cw_status_ = (expr);                                               \
    if (!cw_status_) return std::unexpected(std::move(cw_status_).error()); \
  } while (0)
