#include "x509/builder.h"

#include <arpa/inet.h>

#include "x509/internal.h"
#include "x509/names.h"

namespace certward::x509 {
namespace {

using crypto::openssl_error_string;

Status add_ext(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  crypto::X509ExtPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value.c_str()));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) {
    return fail(ErrorCode::kInvalidArgument, std::string("cannot encode extension ") +
                                                 OBJ_nid2sn(nid) + " = '" + value +
                                                 "': " + openssl_error_string());
  }
  return ok();
}

std::string join(const std::vector<std::string>& parts, const char* prefix = "") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += ',';
    out += prefix;
    out += p;
  }
  return out;
}

// Name constraints are kept as "IP:10.0.0.0/8"; OpenSSL's config syntax wants a netmask.
std::string openssl_constraint(const std::string& c) {
  if (!c.starts_with("IP:")) return c;
  const auto slash = c.find('/');
  if (slash == std::string::npos) return c;
  const std::string addr = c.substr(3, slash - 3);
  const std::string prefix = c.substr(slash + 1);
  if (prefix.empty() || prefix.find_first_not_of("0123456789") != std::string::npos) return c;
  int bits = std::stoi(prefix);
  const bool v6 = addr.find(':') != std::string::npos;
  const int len = v6 ? 16 : 4;
  if (bits > len * 8) return c;
  unsigned char mask[16] = {};
  for (int i = 0; i < len; ++i, bits -= 8) {
    mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<unsigned char>(0xff << (8 - bits));
  }
  char text[64];
  if (!inet_ntop(v6 ? AF_INET6 : AF_INET, mask, text, sizeof text)) return c;
  return "IP:" + addr + "/" + text;
}

// keyUsage names as OpenSSL's config syntax spells them.
std::string openssl_key_usage_name(const std::string& ku) {
  if (ku == "contentCommitment") return "nonRepudiation";
  return ku;
}

Status add_general_names(X509* cert, int nid, const std::vector<SubjectAltName>& sans,
                         bool critical) {
  crypto::GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const auto& san : sans) {
    crypto::GeneralNamePtr gn;
    switch (san.type) {
      case SanType::kDns:
      case SanType::kEmail:
      case SanType::kUri: {
        const int type = san.type == SanType::kDns     ? GEN_DNS
                         : san.type == SanType::kEmail ? GEN_EMAIL
                                                       : GEN_URI;
        crypto::Handle<ASN1_IA5STRING, ASN1_IA5STRING_free> ia5(ASN1_IA5STRING_new());
        ASN1_STRING_set(ia5.get(), san.value.data(), static_cast<int>(san.value.size()));
        gn.reset(GENERAL_NAME_new());
        if (!gn) return fail(ErrorCode::kInternal, "out of memory");
        GENERAL_NAME_set0_value(gn.get(), type, ia5.release());
        break;
      }
      case SanType::kIp: {
        crypto::Asn1OctetStringPtr ip(a2i_IPADDRESS(san.value.c_str()));
        if (!ip) return fail(ErrorCode::kInvalidArgument, "bad IP address SAN: " + san.value);
        gn.reset(GENERAL_NAME_new());
        if (!gn) return fail(ErrorCode::kInternal, "out of memory");
        GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, ip.release());
        break;
      }
      case SanType::kOther:
        return fail(ErrorCode::kInvalidArgument, "cannot issue an 'other' SAN: " + san.value);
    }
    if (!sk_GENERAL_NAME_push(names.get(), gn.get())) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    (void)gn.release();  // the stack owns it now
  }
  if (!X509_add1_ext_i2d(cert, nid, names.get(), critical ? 1 : 0, X509V3_ADD_DEFAULT)) {
    return fail(ErrorCode::kInternal, "cannot add SAN extension: " + openssl_error_string());
  }
  return ok();
}

// CDP and AIA are built from structures, not OpenSSL's extension config syntax: a URL is
// data, and one holding ",URI:..." must not become a second distribution point.
Status add_crl_distribution_points(X509* cert, const std::vector<std::string>& urls) {
  crypto::Handle<CRL_DIST_POINTS, CRL_DIST_POINTS_free> points(CRL_DIST_POINTS_new());
  if (!points) return fail(ErrorCode::kInternal, "out of memory");
  for (const auto& url : urls) {
    CW_ASSIGN_OR_RETURN(auto uri, internal::encode_general_name({SanType::kUri, url}));
    crypto::Handle<DIST_POINT, DIST_POINT_free> point(DIST_POINT_new());
    if (!point || !(point->distpoint = DIST_POINT_NAME_new()) ||
        !(point->distpoint->name.fullname = GENERAL_NAMES_new()) ||
        !internal::stack_push(point->distpoint->name.fullname, uri.get())) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    point->distpoint->type = 0;  // fullName
    (void)uri.release();
    if (!internal::stack_push(points.get(), point.get())) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    (void)point.release();
  }
  if (!X509_add1_ext_i2d(cert, NID_crl_distribution_points, points.get(), 0, X509V3_ADD_DEFAULT)) {
    return fail(ErrorCode::kInternal,
                "cannot add CRL distribution points: " + openssl_error_string());
  }
  return ok();
}

Status add_authority_info_access(X509* cert, const std::vector<std::string>& ocsp,
                                 const std::vector<std::string>& ca_issuers) {
  crypto::Handle<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> aia(
      AUTHORITY_INFO_ACCESS_new());
  if (!aia) return fail(ErrorCode::kInternal, "out of memory");
  auto add = [&](int method, const std::string& url) -> Status {
    CW_ASSIGN_OR_RETURN(auto uri, internal::encode_general_name({SanType::kUri, url}));
    crypto::Handle<ACCESS_DESCRIPTION, ACCESS_DESCRIPTION_free> ad(ACCESS_DESCRIPTION_new());
    if (!ad) return fail(ErrorCode::kInternal, "out of memory");
    ASN1_OBJECT_free(ad->method);
    ad->method = OBJ_nid2obj(method);
    GENERAL_NAME_free(ad->location);
    ad->location = uri.release();
    if (!internal::stack_push(aia.get(), ad.get())) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    (void)ad.release();
    return ok();
  };
  for (const auto& url : ocsp) CW_RETURN_IF_ERROR(add(NID_ad_OCSP, url));
  for (const auto& url : ca_issuers) CW_RETURN_IF_ERROR(add(NID_ad_ca_issuers, url));
  if (!X509_add1_ext_i2d(cert, NID_info_access, aia.get(), 0, X509V3_ADD_DEFAULT)) {
    return fail(ErrorCode::kInternal,
                "cannot add authority information access: " + openssl_error_string());
  }
  return ok();
}

// Built directly: OpenSSL's config syntax for certificatePolicies needs a config database
// even for a plain OID list.
Status add_policies(X509* cert, const std::vector<std::string>& oids) {
  crypto::Handle<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free> policies(CERTIFICATEPOLICIES_new());
  for (const auto& oid : oids) {
    crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
    if (!obj) return fail(ErrorCode::kInvalidArgument, "bad policy OID '" + oid + "'");
    crypto::PolicyInfoPtr info(POLICYINFO_new());
    if (!info) return fail(ErrorCode::kInternal, "out of memory");
    info->policyid = obj.release();
    if (!sk_POLICYINFO_push(policies.get(), info.get())) {
      return fail(ErrorCode::kInternal, "out of memory");
    }
    (void)info.release();  // the stack owns it now
  }
  if (!X509_add1_ext_i2d(cert, NID_certificate_policies, policies.get(), 0, X509V3_ADD_DEFAULT)) {
    return fail(ErrorCode::kInternal, "cannot add certificatePolicies: " + openssl_error_string());
  }
  return ok();
}

// The authorityKeyIdentifier's keyIdentifier (RFC 5280 4.2.1.1): the issuer's own
// subjectKeyIdentifier when it has one, so that chain builders match the two; otherwise the
// SHA-1 of the issuer's subjectPublicKey BIT STRING (4.2.1.2, method 1). OpenSSL's
// "keyid:always" fails outright for an issuer without one, and CAs older than the extension
// (imported ones) often lack it. A self-signed certificate (issuer null) names its own key.
Status add_authority_key_id(X509* cert, const X509* issuer) {
  // A self-signed certificate's own SKI is the hash of its key; asking
  // X509_get0_subject_key_id for it would cache the extensions of a certificate not signed yet.
  const Bytes key_id = issuer ? internal::issuer_key_id(issuer) : internal::public_key_sha1(cert);
  if (key_id.empty()) return fail(ErrorCode::kInvalidArgument, "the issuer has no public key");
  crypto::Handle<AUTHORITY_KEYID, AUTHORITY_KEYID_free> akid(AUTHORITY_KEYID_new());
  akid->keyid = ASN1_OCTET_STRING_new();
  if (!akid->keyid ||
      !ASN1_OCTET_STRING_set(akid->keyid, key_id.data(), static_cast<int>(key_id.size())) ||
      !X509_add1_ext_i2d(cert, NID_authority_key_identifier, akid.get(), 0, X509V3_ADD_DEFAULT)) {
    return fail(ErrorCode::kInternal,
                "cannot add authorityKeyIdentifier: " + openssl_error_string());
  }
  return ok();
}

Status set_validity(X509* cert, SysTime nb, SysTime na) {
  if (na <= nb) return fail(ErrorCode::kInvalidArgument, "notAfter must be after notBefore");
  // X509_time_adj handles the UTCTime/GeneralizedTime switch at 2050 (RFC 5280 4.1.2.5).
  if (!ASN1_TIME_set(X509_getm_notBefore(cert), static_cast<time_t>(to_unix(nb))) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert), static_cast<time_t>(to_unix(na)))) {
    return fail(ErrorCode::kInvalidArgument, "validity out of range");
  }
  return ok();
}

Status add_extensions(X509* cert, const X509* issuer_cert, const CertificateTemplate& t) {
  X509V3_CTX ctx;
  // X509V3_set_ctx wants non-const pointers but only reads the issuer.
  X509V3_set_ctx(&ctx, issuer_cert ? const_cast<X509*>(issuer_cert) : cert, cert, nullptr, nullptr,
                 0);
  std::string bc = t.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE";
  if (t.is_ca && t.path_length) bc += ",pathlen:" + std::to_string(*t.path_length);
  CW_RETURN_IF_ERROR(add_ext(cert, &ctx, NID_basic_constraints, bc));

  if (!t.key_usage.empty()) {
    std::vector<std::string> names;
    for (const auto& k : t.key_usage) names.push_back(openssl_key_usage_name(k));
    CW_RETURN_IF_ERROR(add_ext(cert, &ctx, NID_key_usage, "critical," + join(names)));
  }
  if (!t.extended_key_usage.empty()) {
    CW_RETURN_IF_ERROR(add_ext(cert, &ctx, NID_ext_key_usage, join(t.extended_key_usage)));
  }
  if (!t.sans.empty()) {
    // RFC 5280 4.2.1.6: with an empty subject the SAN extension must be critical.
    const bool critical = X509_NAME_entry_count(X509_get_subject_name(cert)) == 0;
    CW_RETURN_IF_ERROR(add_general_names(cert, NID_subject_alt_name, t.sans, critical));
  }
  CW_RETURN_IF_ERROR(add_ext(cert, &ctx, NID_subject_key_identifier, "hash"));
  CW_RETURN_IF_ERROR(add_authority_key_id(cert, issuer_cert));
  if (!t.crl_urls.empty()) CW_RETURN_IF_ERROR(add_crl_distribution_points(cert, t.crl_urls));
  if (!t.ocsp_urls.empty() || !t.ca_issuers_urls.empty()) {
    CW_RETURN_IF_ERROR(add_authority_info_access(cert, t.ocsp_urls, t.ca_issuers_urls));
  }
  if (!t.policy_oids.empty()) CW_RETURN_IF_ERROR(add_policies(cert, t.policy_oids));
  if (t.is_ca && t.name_constraints &&
      (!t.name_constraints->permitted.empty() || !t.name_constraints->excluded.empty())) {
    std::vector<std::string> parts;
    for (const auto& p : t.name_constraints->permitted) {
      parts.push_back("permitted;" + openssl_constraint(p));
    }
    for (const auto& e : t.name_constraints->excluded) {
      parts.push_back("excluded;" + openssl_constraint(e));
    }
    CW_RETURN_IF_ERROR(add_ext(cert, &ctx, NID_name_constraints, "critical," + join(parts)));
  }
  if (t.ocsp_nocheck) {
    crypto::Handle<ASN1_NULL, ASN1_NULL_free> null(ASN1_NULL_new());
    if (!null ||
        !X509_add1_ext_i2d(cert, NID_id_pkix_OCSP_noCheck, null.get(), 0, X509V3_ADD_DEFAULT)) {
      return fail(ErrorCode::kInternal, "cannot add OCSP no-check: " + openssl_error_string());
    }
  }
  return ok();
}

bool is_weak_signature(int sig_nid) {
  int digest_nid = NID_undef;
  if (!OBJ_find_sigid_algs(sig_nid, &digest_nid, nullptr)) return true;  // unknown: refuse
  return digest_nid == NID_sha1 || digest_nid == NID_md5 || digest_nid == NID_md4 ||
         digest_nid == NID_md2;
}

}  // namespace

Result<TbsCertificate> build_tbs(const CertificateTemplate& t, const Certificate* issuer,
                                 const EVP_PKEY* issuer_key) {
  if (!t.public_key) return fail(ErrorCode::kInvalidArgument, "template has no public key");
  if (t.serial.empty()) return fail(ErrorCode::kInvalidArgument, "template has no serial");
  if (!issuer && !issuer_key) {
    return fail(ErrorCode::kInvalidArgument, "self-signed template needs the issuer key");
  }
  crypto::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);

  crypto::BignumPtr bn(BN_bin2bn(t.serial.data(), static_cast<int>(t.serial.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return fail(ErrorCode::kInvalidArgument, "bad serial");
  }
  if (t.subject) {
    X509_set_subject_name(cert.get(), t.subject.get());
  }
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer->get())
                                          : X509_get_subject_name(cert.get()));
  CW_RETURN_IF_ERROR(set_validity(cert.get(), t.not_before, t.not_after));
  // The subject's SubjectPublicKeyInfo, when the caller has it decoded already, is copied
  // (x509/public_key.cc): X509_set_pubkey on an OpenSSL 3.0 provider key runs an encoder and
  // a decoder, about half of an issuance's CPU. The copy is checked to be byte-identical.
  const bool own_public_key =
      t.public_key_info && internal::set_public_key_from_spki(cert.get(), t.public_key_info);
  // X509_set_pubkey takes its own reference and does not modify the key.
  if (!own_public_key && !X509_set_pubkey(cert.get(), const_cast<EVP_PKEY*>(t.public_key))) {
    return fail(ErrorCode::kInvalidArgument, "cannot set public key: " + openssl_error_string());
  }
  CW_RETURN_IF_ERROR(add_extensions(cert.get(), issuer ? issuer->get() : nullptr, t));
  return TbsCertificate(std::move(cert), own_public_key);
}

Result<Certificate> sign(LintedTbs tbs, const crypto::Signer& signer) {
  const bool own_public_key = tbs.own_public_key_;
  crypto::X509Ptr cert = std::move(tbs).release();
  CW_RETURN_IF_ERROR(signer.sign_certificate(cert.get()));
  // The signature algorithm is the signer's choice, so it is linted here, after signing;
  // a refused certificate is destroyed and never leaves this function.
  if (is_weak_signature(X509_get_signature_nid(cert.get()))) {
    return fail(ErrorCode::kPolicyRejected,
                "certificate refused by the linter: " +
                    std::string(lint_finding_name(LintFinding::kWeakSignatureAlgorithm)));
  }
  // Re-parsing (from_x509) costs a d2i_X509, which on OpenSSL 3.0 decodes the public key again
  // through a fresh decoder context. When the public key object is our own public-only copy,
  // the signed object itself is described and kept (Certificate::from_signed says when that
  // is sound); otherwise it may hold the caller's key object (possibly a private key), so it
  // is re-parsed as before.
  if (own_public_key) return Certificate::from_signed(std::move(cert));
  return Certificate::from_x509(std::move(cert));
}

namespace internal {

Bytes public_key_sha1(const X509* cert) {
  const ASN1_BIT_STRING* bits = X509_get0_pubkey_bitstr(cert);
  if (!bits) return {};
  return crypto::sha1(std::span<const std::uint8_t>(
      ASN1_STRING_get0_data(bits), static_cast<std::size_t>(ASN1_STRING_length(bits))));
}

Bytes issuer_key_id(const X509* issuer) {
  if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(const_cast<X509*>(issuer))) {
    return Bytes(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski));
  }
  return public_key_sha1(issuer);
}

}  // namespace internal

Bytes random_serial() {
  Bytes serial = crypto::random_bytes(16);
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x01);
  return serial;
}

}  // namespace certward::x509
