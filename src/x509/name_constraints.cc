// Name constraints as relying parties apply them. The matching is OpenSSL's own
// (NAME_CONSTRAINTS_check, and NAME_CONSTRAINTS_check_CN for a certificate without a DNS name,
// exactly as X509_verify_cert applies them to a leaf), so certward cannot disagree with the
// verifier curl, Python and most servers use; tests/integration/name_constraints_test.sh
// compares the two on a table of cases. One rule is added on top, for a hole the verifier
// leaves: it matches a wildcard as text, so "*.corp.test" passes an excluded
// "secret.corp.test" and then matches that very host.

#include <openssl/x509v3.h>

#include <algorithm>

#include "x509/builder.h"
#include "x509/internal.h"

namespace certward::x509 {
namespace {

using NameConstraintsPtr = crypto::Handle<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>;
using GeneralNamesPtr = crypto::Handle<GENERAL_NAMES, GENERAL_NAMES_free>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

std::string ia5_text(const ASN1_IA5STRING* s) {
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// A copy holding only what NAME_CONSTRAINTS_check reads (subject and SANs), with OpenSSL's
// extension cache filled in. The certificate being built is not touched: filling its cache
// would also freeze a digest of it that signing then makes stale.
Result<crypto::X509Ptr> probe_of(const X509* cert) {
  crypto::X509Ptr probe(X509_new());
  if (!probe || !X509_set_version(probe.get(), X509_VERSION_3) ||
      !X509_set_subject_name(probe.get(), X509_get_subject_name(cert))) {
    return fail(ErrorCode::kInternal, "out of memory");
  }
  const int idx = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1);
  if (idx >= 0 && !X509_add_ext(probe.get(), X509_get_ext(cert, idx), -1)) {
    return fail(ErrorCode::kInternal, "out of memory");
  }
  X509_check_purpose(probe.get(), -1, 0);
  ERR_clear_error();
  return probe;
}

bool has_dns_san(const GENERAL_NAMES* sans) {
  for (int i = 0; i < internal::stack_size(sans); ++i) {
    if (internal::stack_at<GENERAL_NAME>(sans, i)->type == GEN_DNS) return true;
  }
  return false;
}

// True if a wildcard "*.<base>" matches a host inside the excluded DNS subtree `excluded`:
// without a leading '.', "secret.<base>" excludes that host, which the wildcard's one label
// covers. (A subtree at or above <base> already catches the wildcard's own text, and a
// subtree two labels down, or with a leading '.', holds nothing a one-label wildcard matches.)
bool wildcard_reaches(std::string_view base, std::string_view excluded) {
  if (excluded.empty() || excluded.front() == '.') return false;
  if (excluded.size() <= base.size() + 1 || !excluded.ends_with(base)) return false;
  const std::string_view label = excluded.substr(0, excluded.size() - base.size());
  return label.back() == '.' && label.find('.') == label.size() - 1;
}

std::optional<std::string> wildcard_violation(const GENERAL_NAMES* sans,
                                              const NAME_CONSTRAINTS* nc) {
  for (int i = 0; i < internal::stack_size(sans); ++i) {
    const GENERAL_NAME* san = internal::stack_at<GENERAL_NAME>(sans, i);
    if (san->type != GEN_DNS) continue;
    const std::string name = lower(ia5_text(san->d.dNSName));
    if (!name.starts_with("*.")) continue;
    const std::string_view base = std::string_view(name).substr(2);
    for (int j = 0; j < internal::stack_size(nc->excludedSubtrees); ++j) {
      const GENERAL_NAME* e = internal::stack_at<GENERAL_SUBTREE>(nc->excludedSubtrees, j)->base;
      if (e->type != GEN_DNS) continue;
      const std::string excluded = lower(ia5_text(e->d.dNSName));
      if (wildcard_reaches(base, excluded)) {
        return "dns:" + name + " matches " + excluded + ", which is excluded";
      }
    }
  }
  return std::nullopt;
}

}  // namespace

Result<std::optional<std::string>> name_constraint_violation(const X509* cert,
                                                             std::span<const Certificate> issuers) {
  std::optional<crypto::X509Ptr> probe;
  for (const Certificate& issuer : issuers) {
    int critical = -1;
    NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
        X509_get_ext_d2i(issuer.get(), NID_name_constraints, &critical, nullptr)));
    if (!nc) {
      if (critical == -1) continue;  // absent
      ERR_clear_error();
      return std::optional<std::string>("the name constraints of " + issuer.info().subject +
                                        " cannot be decoded");
    }
    if (!probe) {
      CW_ASSIGN_OR_RETURN(probe, probe_of(cert));
    }
    GeneralNamesPtr sans(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(probe->get(), NID_subject_alt_name, nullptr, nullptr)));
    int rv = NAME_CONSTRAINTS_check(probe->get(), nc.get());
    if (rv == X509_V_OK && !has_dns_san(sans.get())) {
      rv = NAME_CONSTRAINTS_check_CN(probe->get(), nc.get());
    }
    if (rv != X509_V_OK) {
      return std::optional<std::string>(std::string(X509_verify_cert_error_string(rv)) +
                                        " (name constraints of " + issuer.info().subject + ")");
    }
    if (auto why = wildcard_violation(sans.get(), nc.get())) {
      return std::optional<std::string>(*why + " by the name constraints of " +
                                        issuer.info().subject);
    }
  }
  return std::optional<std::string>();
}

}  // namespace certward::x509
