#pragma once
// Private to the PKCS#11 signer (pkcs11.cc): a loaded module and a token's pool of logged-in
// sessions, with the reconnection rules described in pkcs11.h.

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/error.h"
#include "common/mutex.h"
#include "crypto/secret_bytes.h"

namespace certward::crypto::pkcs11 {

// "CKR_TOKEN_NOT_PRESENT (0xe0)" for the return values a token gives when it fails.
std::string rv_text(CK_RV rv);
// The return values that mean the token, its session or its login went away (as opposed to a
// bad request): the caller reconnects and the operation is kUnavailable.
bool token_lost(CK_RV rv);

// One PKCS#11 library, loaded once per process and never unloaded (modules keep threads and
// handlers that do not survive dlclose). Calls into it hold `calls` shared; reinitialising it
// holds it exclusively, so no call runs while the module is finalised.
class Module {
 public:
  // Errors: kUnavailable (cannot load, no C_GetFunctionList, C_Initialize fails).
  static Result<std::shared_ptr<Module>> get(const std::string& path);

  CK_FUNCTION_LIST* fn() const { return fn_; }
  // Bumped each time the module is initialised again: sessions and object handles of an
  // older generation are gone.
  std::uint64_t generation() const;
  // Finalises and initialises the module again if it is still at `seen` and it was not done
  // in the last second (a token that stays away is then not hammered by every request).
  Status reinitialize(std::uint64_t seen);
  common::SharedMutex& calls() const { return calls_; }

 private:
  explicit Module(std::string path) : path_(std::move(path)) {}
  Status initialize_locked() CW_REQUIRES(mu_);

  std::string path_;
  CK_FUNCTION_LIST* fn_ = nullptr;
  mutable common::SharedMutex calls_;
  mutable common::Mutex mu_;
  std::uint64_t generation_ CW_GUARDED_BY(mu_) = 0;
  bool initialized_ CW_GUARDED_BY(mu_) = false;
  std::int64_t last_init_ms_ CW_GUARDED_BY(mu_) = 0;
};

class Token;

// A logged-in session lent by a Token; given back when it goes out of scope, unless the
// operation found the token gone (lost()), in which case it is dropped and the token reconnects.
class Session {
 public:
  Session(std::shared_ptr<Token> token, CK_SESSION_HANDLE handle, std::uint64_t generation)
      : token_(std::move(token)), handle_(handle), generation_(generation) {}
  Session(Session&& o) noexcept
      : token_(std::move(o.token_)), handle_(o.handle_), generation_(o.generation_) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  Session& operator=(Session&&) = delete;
  ~Session();

  CK_SESSION_HANDLE handle() const { return handle_; }
  std::uint64_t generation() const { return generation_; }
  CK_FUNCTION_LIST* fn() const;
  // Call into the module (holding its calls lock shared).
  template <typename F>
  CK_RV call(F&& f) const;
  // Marks the token gone after `rv`; returns the kUnavailable error to give the caller.
  Error lost(CK_RV rv, std::string_view what);

 private:
  std::shared_ptr<Token> token_;
  CK_SESSION_HANDLE handle_;
  std::uint64_t generation_;
  bool lost_ = false;
};

// A token found by label in a module, with its pool of sessions. One per (module, label) per
// process, shared by every key on the token.
class Token : public std::enable_shared_from_this<Token> {
 public:
  // Errors: as Module::get.
  static Result<std::shared_ptr<Token>> get(const std::string& module, const std::string& label,
                                            const std::string& pin_source);

  // A read-write session, logged in as the user. Errors: kUnavailable (the module cannot be
  // initialised, the token is not present, the PIN is missing or refused).
  Result<Session> session();
  const std::string& label() const { return label_; }
  Module& module() const { return *module_; }

 private:
  friend class Session;
  Token(std::shared_ptr<Module> module, std::string label, std::string pin_source)
      : module_(std::move(module)), label_(std::move(label)), pin_source_(std::move(pin_source)) {}
  void give_back(CK_SESSION_HANDLE h, std::uint64_t generation, bool lost);
  Result<CK_SLOT_ID> find_slot();

  std::shared_ptr<Module> module_;
  const std::string label_;
  common::Mutex mu_;
  std::string pin_source_ CW_GUARDED_BY(mu_);
  std::vector<CK_SESSION_HANDLE> idle_ CW_GUARDED_BY(mu_);
  // The SHA-256 of a PIN the token refused. It is not offered again: tokens lock their user
  // PIN after a few wrong ones, and requests (even anonymous OCSP queries) would otherwise
  // retry it for as long as they come. A changed PIN (another value at its source) is tried.
  Bytes refused_pin_ CW_GUARDED_BY(mu_);
  std::uint64_t idle_generation_ CW_GUARDED_BY(mu_) = 0;
};

template <typename F>
CK_RV Session::call(F&& f) const {
  common::ReaderLock lock(token_->module().calls());
  return f(token_->module().fn(), handle_);
}

}  // namespace certward::crypto::pkcs11
