#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "common/file.h"
#include "common/log.h"
#include "crypto/crypto.h"
#include "server/serving_certificate_impl.h"
#include "x509/bundle.h"
#include "x509/names.h"

namespace certward::server {
namespace {

bool names_match(const x509::CertificateInfo& info, const std::vector<std::string>& hostnames) {
  for (const auto& h : hostnames) {
    const bool found = std::any_of(info.sans.begin(), info.sans.end(),
                                   [&](const auto& s) { return s.value == h; });
    if (!found) return false;
  }
  return true;
}

Result<ServingMaterial> describe_material(http::TlsSettings tls) {
  CW_ASSIGN_OR_RETURN(auto certs, x509::parse_certificates(as_bytes(tls.certificate_chain_pem)));
  ServingMaterial m;
  m.serial = certs.front().info().serial_hex;
  m.not_after = certs.front().info().not_after;
  m.tls = std::move(tls);
  return m;
}

}  // namespace

Result<ServingMaterial> serving_material(Domain& d, bool force) {
  const ServerSettings& s = d.config.server;
  http::TlsSettings tls;
  if (!s.tls_cert_file.empty()) {
    CW_ASSIGN_OR_RETURN(tls.certificate_chain_pem, read_file(s.tls_cert_file));
    CW_ASSIGN_OR_RETURN(tls.private_key_pem, read_file(s.tls_key_file));
    return describe_material(std::move(tls));
  }
  const std::string cert_path = d.config.data_dir + "/serving-cert.pem";
  const std::string key_path = d.config.data_dir + "/serving-key.pem";
  if (auto pem = read_file(cert_path); pem && !force) {
    auto certs = x509::parse_certificates(as_bytes(*pem));
    auto key = read_file(key_path);
    if (certs && key && certs->front().info().not_after > d.clock.now() + s.serving_renew_before &&
        names_match(certs->front().info(), s.hostnames)) {
      tls.certificate_chain_pem = *pem;
      tls.private_key_pem = std::move(*key);
      return describe_material(std::move(tls));
    }
  }
  ca::EnrollmentRequest r;
  r.server_key = crypto::KeyType::kEcP256;
  r.profile = "tls-server";
  for (const auto& h : s.hostnames) {
    CW_ASSIGN_OR_RETURN(auto san, x509::parse_san(h));
    r.sans.push_back(san);
  }
  r.requester.actor = "system:serve";
  r.channel = ca::Channel::kRenewal;
  r.tags = {"certward-serving"};
  CW_ASSIGN_OR_RETURN(auto issued, d.ra.enroll(std::move(r)));
  CW_ASSIGN_OR_RETURN(auto key_pem, issued.private_key->to_pkcs8_pem());
  std::vector<x509::Certificate> chain = {issued.certificate};
  chain.insert(chain.end(), issued.chain.begin(), issued.chain.end());
  tls.certificate_chain_pem = x509::to_pem(chain);
  tls.private_key_pem = std::string(as_chars(key_pem.span()));
  CW_RETURN_IF_ERROR(write_file_atomic(key_path, tls.private_key_pem, 0600));
  CW_RETURN_IF_ERROR(write_file_atomic(cert_path, tls.certificate_chain_pem, 0644));
  log::info("serving_certificate_issued",
            {{"serial", issued.certificate.info().serial_hex},
             {"not_after", format_time(issued.certificate.info().not_after)}});
  ServingMaterial m;
  m.serial = issued.certificate.info().serial_hex;
  m.not_after = issued.certificate.info().not_after;
  m.tls = std::move(tls);
  return m;
}

std::string serving_check_kind(const Config& config) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(config.data_dir, ec);
  if (auto canonical = std::filesystem::weakly_canonical(dir, ec); !ec) dir = canonical;
  const Bytes digest = crypto::sha256(as_bytes(dir.string()));
  return "serving-certificate:" + std::string(host) + ":" + to_hex(std::span(digest).first(8));
}

void ServingCertificateKeeper::check() {
  common::MutexLock lock(mu_);
  if (!closed_) check_locked();
}

void ServingCertificateKeeper::close() {
  common::MutexLock lock(mu_);
  closed_ = true;
}

void ServingCertificateKeeper::check_locked() {
  const ServerSettings& s = d_.config.server;
  const bool configured = !s.tls_cert_file.empty();
  const SysTime now = d_.clock.now();
  if (!configured && current_.not_after > now + s.serving_renew_before) return;
  auto next = serving_material(d_, /*force=*/!configured);
  if (!next) {
    log::error("serving_certificate_check_failed",
               {{"error", next.error().message}, {"serial", current_.serial}});
    return;
  }
  if (configured && next->tls.certificate_chain_pem == current_.tls.certificate_chain_pem &&
      next->tls.private_key_pem == current_.tls.private_key_pem) {
    if (current_.not_after <= now + s.serving_renew_before) {
      log::warn("serving_certificate_expiring", {{"serial", current_.serial},
                                                 {"not_after", format_time(current_.not_after)},
                                                 {"file", s.tls_cert_file}});
    }
    return;
  }
  http::TlsSettings tls = next->tls;
  tls.client_ca_pem = client_side_.client_ca_pem;
  tls.request_client_certificate = client_side_.request_client_certificate;
  tls.requested_client_ca_names_pem = client_side_.requested_client_ca_names_pem;
  if (auto st = server_.reload_tls(listener_, tls); !st) {
    log::error("serving_certificate_reload_failed",
               {{"error", st.error().message}, {"serial", next->serial}});
    return;
  }
  log::info("serving_certificate_reloaded", {{"previous_serial", current_.serial},
                                             {"serial", next->serial},
                                             {"not_after", format_time(next->not_after)}});
  current_ = std::move(*next);
}

}  // namespace certward::server
