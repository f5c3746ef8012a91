#include "crypto/pkcs11_token.h"

#include <dlfcn.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <utility>

#include "common/log.h"
#include "crypto/pkcs11.h"

namespace certward::crypto::pkcs11 {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A module that fails is tried again at most this often.
constexpr std::int64_t kReinitializeEveryMs = 1000;

// Token labels are 32 bytes padded with blanks.
std::string token_label(const CK_TOKEN_INFO& info) {
  std::string label(reinterpret_cast<const char*>(info.label), sizeof(info.label));
  while (!label.empty() && (label.back() == ' ' || label.back() == '\0')) label.pop_back();
  return label;
}

}  // namespace

std::string rv_text(CK_RV rv) {
  static const std::map<CK_RV, const char*> kNames = {
      {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
      {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
      {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE"},
      {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
      {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
      {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
      {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
      {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
      {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
      {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
      {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
      {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
      {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
      {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
      {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
      {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
      {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
      {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
      {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
      {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
      {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
      {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
      {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
      {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
      {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
      {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
  };
  char hex[24];
  std::snprintf(hex, sizeof(hex), "0x%lx", static_cast<unsigned long>(rv));
  auto it = kNames.find(rv);
  return it == kNames.end() ? std::string(hex) : std::string(it->second) + " (" + hex + ")";
}

bool token_lost(CK_RV rv) {
  switch (rv) {
    case CKR_GENERAL_ERROR:
    case CKR_DEVICE_ERROR:
    case CKR_DEVICE_MEMORY:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SESSION_CLOSED:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_COUNT:
    case CKR_SLOT_ID_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
      return true;
    default:
      return false;
  }
}

Result<std::shared_ptr<Module>> Module::get(const std::string& path) {
  static common::Mutex registry_mu;
  static std::map<std::string, std::shared_ptr<Module>> registry;
  common::MutexLock lock(registry_mu);
  if (auto it = registry.find(path); it != registry.end()) return it->second;
  if (path.empty() || path.front() != '/') {
    return fail(ErrorCode::kInvalidArgument,
                "PKCS#11 module '" + path + "' must be an absolute path");
  }
  // RTLD_LOCAL: a module's symbols must not satisfy another library's, nor ours its.
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    return fail(ErrorCode::kUnavailable,
                "cannot load PKCS#11 module " + path + ": " + (why ? why : "unknown error"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(lib, "C_GetFunctionList"));
  CK_FUNCTION_LIST* fn = nullptr;
  if (!get_list) {
    return fail(ErrorCode::kUnavailable, path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  if (const CK_RV rv = get_list(&fn); rv != CKR_OK || !fn) {
    return fail(ErrorCode::kUnavailable,
                "PKCS#11 module " + path + ": C_GetFunctionList failed: " + rv_text(rv));
  }
  std::shared_ptr<Module> m(new Module(path));
  m->fn_ = fn;
  {
    common::MutexLock ml(m->mu_);
    CW_RETURN_IF_ERROR(m->initialize_locked());
  }
  registry.emplace(path, m);
  return m;
}

Status Module::initialize_locked() {
  CK_C_INITIALIZE_ARGS args{};
  // Threads: the module uses the operating system's locks, and may create its own threads.
  args.flags = CKF_OS_LOCKING_OK;
  last_init_ms_ = now_ms();
  const CK_RV rv = fn_->C_Initialize(&args);
  if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    initialized_ = false;
    // The library's path is for the operator's log, not for whoever sent the request.
    log::warn("pkcs11_initialize_failed", {{"module", path_}, {"error", rv_text(rv)}});
    return fail(ErrorCode::kUnavailable,
                "the PKCS#11 library failed to initialise: " + rv_text(rv));
  }
  initialized_ = true;
  ++generation_;
  return ok();
}

std::uint64_t Module::generation() const {
  common::MutexLock lock(mu_);
  return initialized_ ? generation_ : 0;
}

Status Module::reinitialize(std::uint64_t seen) {
  common::WriterLock calls(calls_);
  common::MutexLock lock(mu_);
  if (initialized_ && generation_ != seen) return ok();  // someone else already did
  if (now_ms() - last_init_ms_ < kReinitializeEveryMs) {
    if (initialized_) return ok();
    return fail(ErrorCode::kUnavailable, "the PKCS#11 library is not initialised");
  }
  if (initialized_) fn_->C_Finalize(nullptr);
  initialized_ = false;
  return initialize_locked();
}

Session::~Session() {
  if (token_) token_->give_back(handle_, generation_, lost_);
}

CK_FUNCTION_LIST* Session::fn() const { return token_->module().fn(); }

Error Session::lost(CK_RV rv, std::string_view what) {
  lost_ = true;
  return Error{ErrorCode::kUnavailable, "PKCS#11 token '" + token_->label() + "' is unavailable (" +
                                            std::string(what) + ": " + rv_text(rv) + ")"};
}

Result<std::shared_ptr<Token>> Token::get(const std::string& module, const std::string& label,
                                          const std::string& pin_source) {
  static common::Mutex registry_mu;
  static std::map<std::pair<std::string, std::string>, std::shared_ptr<Token>> registry;
  CW_ASSIGN_OR_RETURN(auto m, Module::get(module));
  common::MutexLock lock(registry_mu);
  auto& slot = registry[{module, label}];
  if (!slot) {
    slot.reset(new Token(std::move(m), label, pin_source));
  } else {
    // The latest configuration names where the PIN is (an operator may have moved it).
    common::MutexLock tl(slot->mu_);
    slot->pin_source_ = pin_source;
  }
  return slot;
}

Result<CK_SLOT_ID> Token::find_slot() {
  CK_FUNCTION_LIST* fn = module_->fn();
  CK_ULONG n = 0;
  CK_RV rv = fn->C_GetSlotList(CK_TRUE, nullptr, &n);
  std::vector<CK_SLOT_ID> slots(n);
  if (rv == CKR_OK && n > 0) rv = fn->C_GetSlotList(CK_TRUE, slots.data(), &n);
  if (rv != CKR_OK) {
    return fail(
        ErrorCode::kUnavailable,
        "PKCS#11 token '" + label_ + "' is unavailable (C_GetSlotList: " + rv_text(rv) + ")");
  }
  slots.resize(n);
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info{};
    if (fn->C_GetTokenInfo(s, &info) == CKR_OK && token_label(info) == label_) return s;
  }
  return fail(ErrorCode::kUnavailable, "PKCS#11 token '" + label_ + "' is not present");
}

Result<Session> Token::session() {
  std::uint64_t generation = module_->generation();
  if (generation == 0) {
    if (Status s = module_->reinitialize(0); !s) {
      return fail(ErrorCode::kUnavailable,
                  "PKCS#11 token '" + label_ + "' is unavailable: " + s.error().message);
    }
    generation = module_->generation();
    if (generation == 0) {
      return fail(ErrorCode::kUnavailable, "PKCS#11 token '" + label_ + "' is unavailable");
    }
  }
  std::string pin_source;
  {
    common::MutexLock lock(mu_);
    if (idle_generation_ == generation && !idle_.empty()) {
      CK_SESSION_HANDLE h = idle_.back();
      idle_.pop_back();
      return Session(shared_from_this(), h, generation);
    }
    if (idle_generation_ != generation) idle_.clear();  // the module was initialised again
    pin_source = pin_source_;
  }
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  {
    common::ReaderLock calls(module_->calls());
    if (module_->generation() != generation) {
      return fail(ErrorCode::kUnavailable,
                  "PKCS#11 token '" + label_ + "' is being reconnected; try again");
    }
    auto slot = find_slot();
    if (!slot) {
      calls.unlock();
      (void)module_->reinitialize(generation);  // perhaps it is back after a rescan
      return std::unexpected(slot.error());
    }
    CK_RV rv = module_->fn()->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr,
                                            nullptr, &h);
    if (rv != CKR_OK) {
      return fail(
          ErrorCode::kUnavailable,
          "PKCS#11 token '" + label_ + "' is unavailable (C_OpenSession: " + rv_text(rv) + ")");
    }
    // Logging in is per application and token: once for the first session, a no-op after.
    CK_SESSION_INFO info{};
    rv = module_->fn()->C_GetSessionInfo(h, &info);
    if (rv == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS) {
      auto pin = read_pin(pin_source);
      if (!pin) {
        module_->fn()->C_CloseSession(h);
        return fail(ErrorCode::kUnavailable,
                    "PKCS#11 token '" + label_ + "': no PIN: " + pin.error().message);
      }
      const Bytes pin_hash = sha256(pin->span());
      {
        common::MutexLock lock(mu_);
        if (refused_pin_ == pin_hash) {
          module_->fn()->C_CloseSession(h);
          return fail(ErrorCode::kUnavailable,
                      "PKCS#11 token '" + label_ +
                          "' refused its PIN, which is not tried again until it changes");
        }
      }
      rv = module_->fn()->C_Login(h, CKU_USER, const_cast<CK_UTF8CHAR*>(pin->data()),
                                  static_cast<CK_ULONG>(pin->size()));
      if (rv == CKR_USER_ALREADY_LOGGED_IN) rv = CKR_OK;
      if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
          rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        common::MutexLock lock(mu_);
        refused_pin_ = pin_hash;
      }
    }
    if (rv != CKR_OK) {
      module_->fn()->C_CloseSession(h);
      return fail(ErrorCode::kUnavailable,
                  "PKCS#11 token '" + label_ + "': login failed: " + rv_text(rv));
    }
  }
  {
    common::MutexLock lock(mu_);
    idle_generation_ = generation;
  }
  return Session(shared_from_this(), h, generation);
}

void Token::give_back(CK_SESSION_HANDLE h, std::uint64_t generation, bool lost) {
  if (lost) {
    {
      common::MutexLock lock(mu_);
      idle_.clear();
    }
    (void)module_->reinitialize(generation);
    return;
  }
  common::MutexLock lock(mu_);
  if (generation == idle_generation_) idle_.push_back(h);
}

}  // namespace certward::crypto::pkcs11
