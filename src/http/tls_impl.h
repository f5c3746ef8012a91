#pragma once
// Private: the server-side TLS context of one listener.

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "common/error.h"
#include "http/http.h"

namespace certward::http {

// TLS 1.2 minimum (1.3 allowed), ECDHE + AEAD ciphers only, the chain and key from PEM.
// With a client CA: peers are asked for a certificate (verify_peer) but one is not required.
// Errors: kInvalidArgument (unparsable chain, key or CA, or a key that does not match).
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_tls_context(
    const TlsSettings& settings);

}  // namespace certward::http
