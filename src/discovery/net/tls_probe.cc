// One TLS endpoint: connect, the STARTTLS dialogue if any, a full handshake that records what
// the server serves, then (optionally) short handshakes capped at TLS 1.1 to learn whether the
// legacy versions are still offered, and the revocation check. The server's chain is never
// verified during the handshake — a scanner must see what is served, however broken — but
// afterwards, against the scan's trust store (chain_checks.h).

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include <boost/asio/ssl.hpp>

#include "crypto/handles.h"
#include "discovery/net/chain_checks.h"
#include "discovery/net/probe.h"
#include "discovery/net/revocation.h"

namespace certward::discovery::net::detail {
namespace {

// OpenSSL reasons that mean the peer answered with something that is not a TLS record.
bool not_tls(const error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_RECORD:
      return true;
    default:
      return false;
  }
}

std::string handshake_error(const error_code& ec) {
  if (not_tls(ec)) return "not TLS";
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "handshake failed: connection closed by the server";
  }
  return "handshake failed: " + ec.message();
}

class TlsProbe final : public Probe {
 public:
  using Probe::Probe;

 private:
  // Which handshake is running: the full one, or a legacy probe capped at `max_version`.
  struct Attempt {
    bool legacy = false;
    int max_version = 0;
  };

  void run() override {
    obs_.endpoint = endpoint_;
    handshake({}, [this](std::optional<std::string> error) {
      if (error) return finish_with_error(std::move(*error));
      record(tls().native_handle());
      close();
      after_main();
    });
  }

  void finish_with_error(std::string message) override {
    obs_.error = Error{ErrorCode::kUnavailable, std::move(message)};
    report(std::move(obs_));
  }

  // Connects, runs the STARTTLS dialogue and the handshake. done(nullopt) with tls() up.
  void handshake(Attempt attempt, std::function<void(std::optional<std::string>)> done) {
    connect(guarded([this, attempt, done = std::move(done)](std::optional<std::string> error) {
      if (error) return done(std::move(error));
      arm(shared_.options.handshake_timeout);
      if (endpoint_.starttls.empty()) return start_handshake(attempt, std::move(done));
      run_starttls(endpoint_.starttls, socket(), shared_from_this(),
                   guarded([this, attempt, done](std::optional<std::string> refused) {
                     if (timed_out()) return done("handshake timed out");
                     if (refused) return done("STARTTLS failed: " + *refused);
                     start_handshake(attempt, done);
                   }));
    }));
  }

  void start_handshake(Attempt attempt, std::function<void(std::optional<std::string>)> done) {
    auto& stream = start_tls(attempt.legacy ? shared_.legacy : shared_.tls);
    SSL* ssl = stream.native_handle();
    if (!endpoint_.sni.empty()) {
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(endpoint_.sni.c_str()));
    }
    if (attempt.legacy) {
      SSL_set_max_proto_version(ssl, attempt.max_version);
    } else {
      const auto& alpn = shared_.alpn_wire;
      if (!alpn.empty()) {
        SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
      }
      SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp);
    }
    stream.async_handshake(ssl::stream_base::client,
                           guarded([this, done = std::move(done)](error_code ec) {
                             disarm();
                             ERR_clear_error();
                             if (timed_out()) return done("handshake timed out");
                             if (ec) return done(handshake_error(ec));
                             done(std::nullopt);
                           }));
  }

  void record(SSL* ssl) {
    if (STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl)) {
      for (int i = 0; i < sk_X509_num(chain); ++i) {
        X509* cert = sk_X509_value(chain, i);
        int len = i2d_X509(cert, nullptr);
        if (len <= 0) continue;
        Bytes der(static_cast<std::size_t>(len));
        unsigned char* p = der.data();
        i2d_X509(cert, &p);
        obs_.chain.push_back(std::move(der));
        X509_up_ref(cert);
        served_.emplace_back(cert);
      }
    }
    obs_.tls_version = SSL_get_version(ssl);
    version_ = SSL_version(ssl);
    if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
      const char* name = SSL_CIPHER_standard_name(cipher);
      obs_.cipher = name != nullptr ? name : SSL_CIPHER_get_name(cipher);
    }
    obs_.group = group_name(SSL_get_negotiated_group(ssl));
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    obs_.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    const unsigned char* staple = nullptr;
    long staple_len = SSL_get_tlsext_status_ocsp_resp(ssl, &staple);
    if (staple != nullptr && staple_len > 0) {
      obs_.ocsp_stapled = true;
      staple_.assign(staple, staple + staple_len);
    }
    ERR_clear_error();
  }

  // The full handshake already tells whether the best version offered is a legacy one; the
  // probes ask only what it cannot: TLS 1.1 below a modern maximum, then TLS 1.0 below 1.1.
  void after_main() {
    if (version_ == TLS1_VERSION || version_ == TLS1_1_VERSION) {
      add_legacy(version_);
    }
    if (!shared_.options.probe_legacy || version_ == TLS1_VERSION) return after_legacy();
    int cap = version_ == TLS1_1_VERSION ? TLS1_VERSION : TLS1_1_VERSION;
    probe_legacy(cap);
  }

  void probe_legacy(int cap) {
    handshake({true, cap}, [this, cap](std::optional<std::string> error) {
      int got = error ? 0 : SSL_version(tls().native_handle());
      close();
      if (got == TLS1_VERSION || got == TLS1_1_VERSION) add_legacy(got);
      if (got == TLS1_1_VERSION && cap == TLS1_1_VERSION) return probe_legacy(TLS1_VERSION);
      after_legacy();
    });
  }

  void add_legacy(int version) {
    std::string name = version == TLS1_VERSION ? "TLSv1" : "TLSv1.1";
    if (std::find(obs_.legacy_protocols.begin(), obs_.legacy_protocols.end(), name) ==
        obs_.legacy_protocols.end()) {
      obs_.legacy_protocols.push_back(std::move(name));
    }
  }

  void after_legacy() {
    std::sort(obs_.legacy_protocols.begin(), obs_.legacy_protocols.end());
    obs_.findings = chain_findings(endpoint_, obs_.chain, shared_.certificates, served_);
    served_.clear();
    if (!obs_.legacy_protocols.empty()) {
      std::string list;
      for (const auto& v : obs_.legacy_protocols) list += (list.empty() ? "" : ", ") + v;
      obs_.findings.push_back(
          {"legacy_protocol", Severity::kMedium, "the server accepts " + list, ""});
    }
    if (auto revoked = stapled_revocation(staple_, obs_.chain)) {
      obs_.findings.push_back(std::move(*revoked));
      return report(std::move(obs_));
    }
    if (!shared_.options.check_revocation || obs_.chain.empty()) return report(std::move(obs_));
    check_revocation(strand_, shared_, obs_.chain, guarded([this](std::optional<Finding> revoked) {
                       if (revoked) obs_.findings.push_back(std::move(*revoked));
                       report(std::move(obs_));
                     }));
  }

  TlsObservation obs_;
  std::vector<crypto::X509Ptr> served_;  // the handshake's objects for obs_.chain
  int version_ = 0;
  Bytes staple_;
};

}  // namespace

std::shared_ptr<Probe> make_tls_probe(ScanShared& shared, asio::io_context& io, Endpoint endpoint,
                                      Report report) {
  return std::make_shared<TlsProbe>(shared, io, std::move(endpoint), std::move(report));
}

}  // namespace certward::discovery::net::detail
