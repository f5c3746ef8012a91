#include "ca/profile.h"

#include <arpa/inet.h>
#include <openssl/objects.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "x509/names.h"

namespace certward::ca {
namespace {

using crypto::KeyType;
using std::chrono::days;

const std::vector<KeyType> kTlsKeys = {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048,
                                       KeyType::kRsa3072, KeyType::kRsa4096};

const std::set<std::string> kKnownKeyUsage = {
    "digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment", "keyAgreement",
    "keyCertSign",      "cRLSign",           "encipherOnly",    "decipherOnly"};

const std::set<std::string> kKnownEku = {"serverAuth",      "clientAuth",   "codeSigning",
                                         "emailProtection", "timeStamping", "OCSPSigning"};

bool is_dotted_oid(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != s.npos) return false;
  int dots = 0;
  for (char c : s) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots >= 1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Status bad(const std::string& profile, const std::string& what) {
  return fail(ErrorCode::kMalformed, "profile '" + profile + "': " + what);
}

Status apply(Profile& p, const ProfileSettings& s) {
  if (s.description) p.description = *s.description;
  if (s.key_types) {
    if (s.key_types->empty()) return bad(p.name, "key_types must not be empty");
    p.key_types.clear();
    for (const auto& k : *s.key_types) {
      auto t = crypto::parse_key_type(k);
      if (!t) return bad(p.name, t.error().message);
      p.key_types.push_back(*t);
    }
  }
  if (s.default_validity) p.default_validity = *s.default_validity;
  if (s.max_validity) p.max_validity = *s.max_validity;
  if (s.key_usage) {
    for (const auto& ku : *s.key_usage)
      if (!kKnownKeyUsage.contains(ku)) return bad(p.name, "unknown key usage '" + ku + "'");
    p.key_usage = *s.key_usage;
  }
  if (s.extended_key_usage) {
    for (const auto& e : *s.extended_key_usage)
      if (!kKnownEku.contains(e) && !is_dotted_oid(e)) {
        return bad(p.name, "unknown extended key usage '" + e + "' (a name or a dotted OID)");
      }
    p.extended_key_usage = *s.extended_key_usage;
  }
  if (s.allowed_domains) {
    p.allowed_domains.clear();
    for (const auto& d : *s.allowed_domains) {
      std::string dom = lower(d);
      if (dom.starts_with(".")) dom.erase(0, 1);
      auto san = x509::parse_san("dns:" + dom);
      if (!san || dom.starts_with("*")) return bad(p.name, "bad allowed domain '" + d + "'");
      p.allowed_domains.push_back(dom);
    }
  }
  if (s.allowed_ip_ranges) {
    p.allowed_ip_ranges.clear();
    for (const auto& r : *s.allowed_ip_ranges) {
      auto range = parse_ip_range(r);
      if (!range) return bad(p.name, range.error().message);
      p.allowed_ip_ranges.push_back(*range);
    }
  }
  if (s.allow_wildcards) p.allow_wildcards = *s.allow_wildcards;
  if (s.allow_ip_sans) p.allow_ip_sans = *s.allow_ip_sans;
  if (s.allow_email_sans) p.allow_email_sans = *s.allow_email_sans;
  if (s.allow_uri_sans) p.allow_uri_sans = *s.allow_uri_sans;
  if (s.require_san) p.require_san = *s.require_san;
  if (s.subject_template) p.subject_template = *s.subject_template;
  if (s.requires_approval) p.requires_approval = *s.requires_approval;
  if (s.ca) p.ca = *s.ca;
  if (s.path_length) p.path_length = *s.path_length;
  if (s.policy_oids) {
    for (const auto& o : *s.policy_oids)
      if (!is_dotted_oid(o)) return bad(p.name, "policy '" + o + "' is not a dotted OID");
    p.policy_oids = *s.policy_oids;
  }
  if (s.issuers) {
    if (s.issuers->size() > 8) return bad(p.name, "issuers lists at most 8 issuers");
    for (const auto& i : *s.issuers) {
      if (i.empty() || std::count(s.issuers->begin(), s.issuers->end(), i) > 1)
        return bad(p.name, "issuers: an empty or repeated issuer name");
    }
    if (p.ca && !s.issuers->empty())
      return bad(p.name, "a CA profile's certificates come from certward's own authorities");
    p.issuers = *s.issuers;
  }
  return ok();
}

// id-kp-OCSPSigning, by name or by OID: a certificate carrying it that an authority issues
// may sign OCSP answers for every certificate of that authority (RFC 6960 4.2.2.2).
bool delegates_ocsp(std::string_view eku) {
  if (eku == "OCSPSigning") return true;
  if (!is_dotted_oid(eku)) return false;
  // Through OpenSSL, which reads "1.3.6.1.5.5.7.3.09" as the same OID the builder would write.
  const crypto::Asn1ObjectPtr oid(OBJ_txt2obj(std::string(eku).c_str(), 1));
  return oid && OBJ_obj2nid(oid.get()) == NID_OCSP_sign;
}

Status validate(const Profile& p) {
  if (p.name.empty()) return bad(p.name, "name must not be empty");
  // Whoever holds such a certificate could answer "good" for any revoked certificate of the
  // authority that issued it: only certward's own responder certificates carry it.
  if (!p.internal && std::any_of(p.extended_key_usage.begin(), p.extended_key_usage.end(),
                                 [](const std::string& e) { return delegates_ocsp(e); })) {
    return bad(p.name,
               "OCSPSigning would let its holders sign OCSP answers for the issuing authority; "
               "only certward's own responder certificates (profile ocsp-responder) carry it");
  }
  for (char c : p.name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
      return bad(p.name, "name may hold only letters, digits, '-' and '_'");
    }
  }
  if (p.default_validity.count() <= 0 || p.max_validity.count() <= 0) {
    return bad(p.name, "validity must be positive");
  }
  if (p.default_validity > p.max_validity) {
    return bad(p.name, "default_validity is longer than max_validity");
  }
  if (p.path_length && *p.path_length < 0) return bad(p.name, "path_length must be >= 0");
  if (p.path_length && !p.ca) return bad(p.name, "path_length is only for CA profiles");
  std::string probe = p.subject_template;
  if (auto pos = probe.find("{cn}"); pos != std::string::npos) probe.replace(pos, 4, "probe");
  if (!probe.empty() && !x509::parse_name(probe)) {
    return bad(p.name, "subject_template '" + p.subject_template + "' is not a valid name");
  }
  return ok();
}

}  // namespace

bool IpRange::contains(std::span<const std::uint8_t> addr) const {
  if (addr.size() != network.size()) return false;
  int bits = prefix;
  for (std::size_t i = 0; i < addr.size() && bits > 0; ++i, bits -= 8) {
    const int n = std::min(bits, 8);
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - n));
    if ((addr[i] & mask) != (network[i] & mask)) return false;
  }
  return true;
}

Result<IpRange> parse_ip_range(std::string_view cidr) {
  const auto slash = cidr.find('/');
  const std::string addr(cidr.substr(0, slash));
  IpRange r;
  r.text = std::string(cidr);
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) {
    r.network.assign(buf, buf + 4);
  } else if (inet_pton(AF_INET6, addr.c_str(), buf) == 1) {
    r.network.assign(buf, buf + 16);
  } else {
    return fail(ErrorCode::kMalformed, "bad IP range '" + std::string(cidr) + "'");
  }
  const int max_prefix = static_cast<int>(r.network.size() * 8);
  r.prefix = max_prefix;
  if (slash != std::string_view::npos) {
    const auto p = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), r.prefix);
    if (ec != std::errc() || end != p.data() + p.size() || r.prefix < 0 || r.prefix > max_prefix) {
      return fail(ErrorCode::kMalformed, "bad prefix length in '" + std::string(cidr) + "'");
    }
  }
  return r;
}

Result<std::string> parse_name_constraint(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon + 1 == text.size()) {
    return fail(ErrorCode::kInvalidArgument,
                "name constraint '" + std::string(text) +
                    "' must look like dns:NAME, ip:CIDR, email:DOMAIN or uri:HOST");
  }
  const std::string type = lower(text.substr(0, colon));
  const std::string value = lower(text.substr(colon + 1));
  // A subtree is a domain (RFC 5280 4.2.1.10): a leading '.' means "below it" to OpenSSL for
  // email and URI names. Values go through the name parser, so no text reaches the
  // extension's configuration string that the name syntax does not allow.
  auto domain = [&](std::string_view v) -> Result<std::string> {
    const std::string_view bare = v.starts_with(".") ? v.substr(1) : v;
    auto san = x509::parse_san("dns:" + std::string(bare));
    if (!san || san->value.starts_with("*")) {
      return fail(ErrorCode::kInvalidArgument,
                  "name constraint '" + std::string(text) + "' needs a domain like example.com");
    }
    return std::string(v.starts_with(".") ? "." : "") + san->value;
  };
  if (type == "dns") {
    CW_ASSIGN_OR_RETURN(auto d, domain(value));
    return "DNS:" + d;
  }
  if (type == "email") {
    if (value.find('@') != std::string::npos) {
      auto mailbox = x509::parse_san("email:" + std::string(text.substr(colon + 1)));
      if (!mailbox) {
        return fail(ErrorCode::kInvalidArgument,
                    "name constraint '" + std::string(text) + "' is not an email address");
      }
      return "email:" + mailbox->value;
    }
    CW_ASSIGN_OR_RETURN(auto d, domain(value));
    return "email:" + d;
  }
  if (type == "uri") {
    CW_ASSIGN_OR_RETURN(auto d, domain(value));
    return "URI:" + d;
  }
  if (type == "ip") {
    if (value.find('/') == std::string::npos || !parse_ip_range(value)) {
      return fail(ErrorCode::kInvalidArgument,
                  "name constraint '" + std::string(text) + "' needs an IP range like 10.0.0.0/8");
    }
    return "IP:" + value;
  }
  return fail(ErrorCode::kInvalidArgument, "unknown name constraint type '" + type + "'");
}

bool name_within(std::string_view name, std::string_view suffix) {
  std::string n = lower(name);
  if (n.starts_with("*.")) n.erase(0, 2);
  const std::string s = lower(suffix);
  return n == s || (n.size() > s.size() && n.ends_with(s) && n[n.size() - s.size() - 1] == '.');
}

bool Profile::allows_key(const crypto::KeyInfo& key) const {
  const auto t = key.key_type();
  return t && std::find(key_types.begin(), key_types.end(), *t) != key_types.end();
}

std::vector<std::string> Profile::key_usage_for(const crypto::KeyInfo& key) const {
  std::vector<std::string> ku;
  for (const auto& u : key_usage) {
    // Only plain RSA keys can encipher (RFC 5480 3, RFC 8410 5, RFC 4055 1.2): an EC key
    // agrees on keys instead, an Ed25519 or RSA-PSS key only signs.
    if (key.algorithm != crypto::KeyAlgorithm::kRsa &&
        (u == "keyEncipherment" || u == "dataEncipherment")) {
      if (key.algorithm == crypto::KeyAlgorithm::kEcdsa &&
          std::find(ku.begin(), ku.end(), "keyAgreement") == ku.end()) {
        ku.push_back("keyAgreement");
      }
      continue;
    }
    ku.push_back(u);
  }
  const bool tls_server = std::find(extended_key_usage.begin(), extended_key_usage.end(),
                                    "serverAuth") != extended_key_usage.end();
  if (tls_server && key.algorithm == crypto::KeyAlgorithm::kRsa &&
      std::find(ku.begin(), ku.end(), "keyEncipherment") == ku.end()) {
    ku.push_back("keyEncipherment");
  }
  return ku;
}

Status Profile::check_names(std::span<const x509::SubjectAltName> sans) const {
  if (require_san && sans.empty()) {
    return fail(ErrorCode::kPolicyRejected, "profile '" + name + "' requires at least one name");
  }
  auto refuse = [&](const x509::SubjectAltName& san, const std::string& why) {
    return fail(ErrorCode::kPolicyRejected,
                "profile '" + name + "' refuses " + x509::format_san(san) + ": " + why);
  };
  auto domain_allowed = [&](std::string_view dns) {
    if (allowed_domains.empty()) return true;
    return std::any_of(allowed_domains.begin(), allowed_domains.end(),
                       [&](const std::string& s) { return name_within(dns, s); });
  };
  for (const auto& san : sans) {
    switch (san.type) {
      case x509::SanType::kDns:
        if (san.value.starts_with("*") && !allow_wildcards) {
          return refuse(san, "wildcards are not allowed");
        }
        if (!domain_allowed(san.value)) return refuse(san, "outside the allowed domains");
        break;
      case x509::SanType::kIp: {
        if (!allow_ip_sans) return refuse(san, "IP address names are not allowed");
        unsigned char buf[16];
        Bytes addr;
        if (inet_pton(AF_INET, san.value.c_str(), buf) == 1)
          addr.assign(buf, buf + 4);
        else if (inet_pton(AF_INET6, san.value.c_str(), buf) == 1)
          addr.assign(buf, buf + 16);
        else
          return refuse(san, "not an IP address");
        if (!allowed_ip_ranges.empty() &&
            std::none_of(allowed_ip_ranges.begin(), allowed_ip_ranges.end(),
                         [&](const IpRange& r) { return r.contains(addr); })) {
          return refuse(san, "outside the allowed IP ranges");
        }
        break;
      }
      case x509::SanType::kEmail: {
        if (!allow_email_sans) return refuse(san, "email names are not allowed");
        const auto at = san.value.rfind('@');
        if (at == std::string::npos || !domain_allowed(san.value.substr(at + 1))) {
          return refuse(san, "outside the allowed domains");
        }
        break;
      }
      case x509::SanType::kUri: {
        if (!allow_uri_sans) return refuse(san, "URI names are not allowed");
        const std::string host = x509::uri_host(san.value);
        if (!allowed_domains.empty() && (host.empty() || !domain_allowed(host))) {
          return refuse(san, "URI host outside the allowed domains");
        }
        break;
      }
      case x509::SanType::kOther:
        return refuse(san, "unsupported name type");
    }
  }
  return ok();
}

std::vector<Profile> builtin_profiles() {
  std::vector<Profile> out;
  Profile tls;
  tls.name = "tls-server";
  tls.description = "TLS server certificate (web servers, APIs, load balancers)";
  tls.key_types = kTlsKeys;
  tls.default_validity = days(90);
  tls.max_validity = days(398);
  tls.key_usage = {"digitalSignature"};
  tls.extended_key_usage = {"serverAuth"};
  tls.allow_wildcards = true;
  tls.allow_ip_sans = true;
  tls.require_san = true;
  out.push_back(tls);

  Profile client = tls;
  client.name = "tls-client";
  client.description = "TLS client certificate (mTLS services, users)";
  client.extended_key_usage = {"clientAuth"};
  client.allow_wildcards = false;
  client.allow_email_sans = true;
  client.allow_uri_sans = true;
  client.require_san = false;
  out.push_back(client);

  Profile code;
  code.name = "code-signing";
  code.description = "Code signing certificate";
  code.key_types = {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa3072, KeyType::kRsa4096};
  code.default_validity = days(365);
  code.max_validity = days(1095);
  code.key_usage = {"digitalSignature"};
  code.extended_key_usage = {"codeSigning"};
  out.push_back(code);

  Profile smime;
  smime.name = "smime";
  smime.description = "S/MIME email signing and encryption";
  smime.key_types = kTlsKeys;
  smime.default_validity = days(365);
  smime.max_validity = days(825);
  smime.key_usage = {"digitalSignature", "keyEncipherment"};
  smime.extended_key_usage = {"emailProtection"};
  smime.allow_email_sans = true;
  smime.require_san = true;
  out.push_back(smime);

  Profile device;
  device.name = "device";
  device.description = "Device identity (IoT, workloads): client and server authentication";
  device.key_types = {KeyType::kEcP256, KeyType::kEcP384, KeyType::kEd25519, KeyType::kRsa2048,
                      KeyType::kRsa3072};
  device.default_validity = days(365);
  device.max_validity = days(1825);
  device.key_usage = {"digitalSignature"};
  device.extended_key_usage = {"clientAuth", "serverAuth"};
  device.allow_ip_sans = true;
  device.allow_uri_sans = true;
  out.push_back(device);

  Profile ica;
  ica.name = "intermediate-ca";
  ica.description = "Subordinate CA (intermediate or issuing)";
  ica.key_types = {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa3072, KeyType::kRsa4096};
  ica.default_validity = days(5 * 365);
  ica.max_validity = days(10 * 365);
  ica.key_usage = {"digitalSignature", "keyCertSign", "cRLSign"};
  ica.ca = true;
  ica.path_length = 0;
  out.push_back(ica);

  // The delegated OCSP responder (RFC 6960 4.2.2.2): a short-lived certificate that may sign
  // only OCSP responses, and carries ocsp-nocheck, since no one could ask about its own status.
  Profile ocsp;
  ocsp.name = "ocsp-responder";
  ocsp.description = "Delegated OCSP responder of an authority (certward's own)";
  ocsp.key_types = {KeyType::kEcP256};
  ocsp.default_validity = days(7);
  ocsp.max_validity = days(90);
  ocsp.key_usage = {"digitalSignature"};
  ocsp.extended_key_usage = {"OCSPSigning"};
  ocsp.subject_template = "CN=OCSP Responder";
  ocsp.internal = true;
  ocsp.ocsp_nocheck = true;
  out.push_back(ocsp);

  // The enrollment protocols' RA (ca/protocol_ra.h): RSA, since SCEP clients encrypt their
  // requests to it by RSA key transport; id-kp-cmcRA (RFC 6402), as CMP and CMC name an RA.
  Profile protocol_ra;
  protocol_ra.name = "protocol-ra";
  protocol_ra.description = "Registration authority of the enrollment protocols (certward's own)";
  protocol_ra.key_types = {KeyType::kRsa2048};
  protocol_ra.default_validity = days(365);
  protocol_ra.max_validity = days(730);
  protocol_ra.key_usage = {"digitalSignature", "keyEncipherment"};
  protocol_ra.extended_key_usage = {"1.3.6.1.5.5.7.3.28"};
  protocol_ra.subject_template = "CN=Enrollment RA";
  protocol_ra.internal = true;
  out.push_back(protocol_ra);
  return out;
}

Result<ProfileSet> ProfileSet::create(std::span<const ProfileSettings> settings) {
  ProfileSet set;
  set.profiles_ = builtin_profiles();
  for (const auto& s : settings) {
    auto it = std::find_if(set.profiles_.begin(), set.profiles_.end(),
                           [&](const Profile& p) { return p.name == s.name; });
    // The responder's profile is what the OCSP responder needs (a P-256 key, no approval, the
    // validity revocation.ocsp_responder_validity asks for): an override could only break it.
    if (it != set.profiles_.end() && it->internal) {
      return std::unexpected(bad(it->name, "certward's own profile cannot be configured").error());
    }
    if (it == set.profiles_.end()) {
      Profile p = set.profiles_.front();  // new profiles start from tls-server
      p.name = s.name;
      p.description = "custom profile";
      set.profiles_.push_back(std::move(p));
      it = std::prev(set.profiles_.end());
    }
    CW_RETURN_IF_ERROR(apply(*it, s));
    CW_RETURN_IF_ERROR(validate(*it));
  }
  return set;
}

Result<const Profile*> ProfileSet::find(std::string_view name) const {
  for (const auto& p : profiles_)
    if (p.name == name) return &p;
  return fail(ErrorCode::kNotFound, "unknown profile '" + std::string(name) + "'");
}

}  // namespace certward::ca
