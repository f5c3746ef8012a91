// libFuzzer target: feeds outside bytes to the same public functions the product calls.
// Built only with -DCERTWARD_BUILD_FUZZ=ON (cmake --preset fuzz); see docs/fuzzing.md.
// Entry points: what a SCEP PKIOperation carries (src/protocols/scep/): the pkiMessage
// (x509::scep::parse_pki_message, and reply_to for one whose signature fails), its envelope
// opened with a fixed RA key (the throwaway key of tests/data/scep, which the seed requests
// are encrypted to), and what the envelope holds: a CSR, an IssuerAndSerialNumber or an
// IssuerAndSubject.

#include <cstddef>
#include <cstdint>
#include <span>

#include "x509/bundle.h"
#include "x509/csr.h"
#include "x509/scep.h"

namespace {

constexpr char kRaCertificate[] = R"(
-----BEGIN CERTIFICATE-----
MIIDPDCCAiSgAwIBAgIBATANBgkqhkiG9w0BAQsFADAvMQswCQYDVQQGEwJVUzEO
MAwGA1UECgwFc3Bpa2UxEDAOBgNVBAsMB1NDRVAgQ0EwHhcNMjYxMjAzMDM1NDIw
WhcNMzYxMTMwMDM1NDIwWjAvMQswCQYDVQQGEwJVUzEOMAwGA1UECgwFc3Bpa2Ux
EDAOBgNVBAsMB1NDRVAgQ0EwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB
AQDWgl1F3nFUUxrImPvdFFSn24EyvWbbWoPCkcxBL6L/WR0ILnCa1DJ8vahQ+6xe
rCsl0/TzA4spwXjOI3eM8NTiX5aiucX3K+wNKzpuJqZ8aRe4tQjct161djVTzXM6
6HxjjxZN3B5CH8cb2NoLr8Af4ICkoFFkoqdFl6EflUw6Ifp7GUu2l2O1LFf00pKr
iTBL0m2Emlb0y1OIhz0O6bA6amfTkZtvTmjz6vmKzNr3VPINnin7eDUZpP5dqVGc
d17onNrG0CTEUiDfyR1zH8UVDyreT4SzhGyRoANXmR/d6b27lDNbG2Qf+0XajzET
8gmkhf00BQezccjE4dMQx1DjAgMBAAGjYzBhMB8GA1UdIwQYMBaAFL/C68Vmlz4D
NziOukVF6swqZFeTMA4GA1UdDwEB/wQEAwIBpjAPBgNVHRMBAf8EBTADAQH/MB0G
A1UdDgQWBBS/wuvFZpc+Azc4jrpFRerMKmRXkzANBgkqhkiG9w0BAQsFAAOCAQEA
GCBBapDRFXoBz+x4o/2ioT+HT9u/bmTc4QluC5YUcPvyMJ96CN6BgPt4OapdKxVW
34VNGdYm9TlWUHq4/bCrAjAGXQDStRwG1SMWQuwcWxvcU87DbY3xfPl2gLspZev6
gS/XjgVIZCdgxywPBV2eaCU09L4yFklsDqFNl8afuXXh5zvA8hsviJQXbij4muG3
mP1UGmyXF0loDxMETkWsdF4Bo+fes6XdZwNA5YpEKH+ygygYOzy8FXP5YgfFZZK3
4XqZ1o8FJOoPVke3XA/MGP5CRJoTLmBlzhnwUU5YYn1wqbBZNgG5xkRkJLQyLV9H
ESTtBfNcd3Fe1cEaZCvJEg==
-----END CERTIFICATE-----
)";
constexpr char kRaKey[] = R"(
-----BEGIN PRIVATE KEY-----
MIIEwAIBADANBgkqhkiG9w0BAQEFAASCBKowggSmAgEAAoIBAQDWgl1F3nFUUxrI
mPvdFFSn24EyvWbbWoPCkcxBL6L/WR0ILnCa1DJ8vahQ+6xerCsl0/TzA4spwXjO
I3eM8NTiX5aiucX3K+wNKzpuJqZ8aRe4tQjct161djVTzXM66HxjjxZN3B5CH8cb
2NoLr8Af4ICkoFFkoqdFl6EflUw6Ifp7GUu2l2O1LFf00pKriTBL0m2Emlb0y1OI
hz0O6bA6amfTkZtvTmjz6vmKzNr3VPINnin7eDUZpP5dqVGcd17onNrG0CTEUiDf
yR1zH8UVDyreT4SzhGyRoANXmR/d6b27lDNbG2Qf+0XajzET8gmkhf00BQezccjE
4dMQx1DjAgMBAAECggEBALhiNGSTURznllUpUw10pVPn1UVVEq2oPyunAUhi9xvA
cLkQmhAsJ/2bVKvPuRljqm8IozukJyHMQNgIGoIWnRa8jZHwV58frPag2sfGB0NX
XmGRkz2NjSYzpqETL2JKZml5m/VvKL8z64UfQEXdWyrLYiif+XakbV3feUrZnT01
VcC7lmV/KavddXny4ByAgDg41p9s5H7pKobK42T5A1AEDgnQrUJtKH6y6vlI/ewa
WyvVf3af+FciQUt6NLUw3RY02mqb4ppm8v29pzc1hVyzvhk8x9njnD7MtBjjQMw2
Piyv6p0BBghDjP4tNr7d5+ZT30DJceL71Kv/lcpjF4ECgYEA/M45SckN9gskxjp/
KH5ZMEm69VPFWQ9R3EPAnwnII9GLV+F4swtDLfqtVekZnl4fwNJ+kbq9rD27Ajm2
ixzBwkR1sTelnxmzzXkHRvIUEIGLdcnYb8MoQbcSNmmcXQ0kVZEUfJV3qiXOCObF
KHaUFWdK380L/MHfyx2ulFKGzKMCgYEA2ThCbf99Pnq/vSOBJ2diiiVOVt/gKGIH
cdxqjkwKRCT2beuILDOy1mXADleq2fGLk17+cSN6mFBoOgAFxSk3uweDG0GCirD4
EkuMAUykDdF48UscuG4QtiNNDWKCRJoD8NI23HkIGBOzMmkXzpUQ4vSr4tzde39d
uP883wBzbsECgYEA6Y+NlgHOiDabbxi0SjERLW+w7t7KQRHKS3m9CDH9WjpKRpLk
9GW/V0d1xR1qscm8BGV00iZ4/hy6HcA8SiHzUQv2wBftSCRy3a6nboBQ0T8eHWCy
Oe9PzgbZKLRB5iYyH2u+RavBtszeoZKzLEMBZRTdNA84t/hWTk3J8Pad24kCgYEA
p/hfNhwYx1W4KxPnbYb+pgDPIVKhTdjwFNXy9/JJBgTnIny9oiCgLDYmW3DjRwEH
g4AzlV1wEZQr5J3b2GhVFiVq9oqj3YeXbN5Kdz7CpYTT1xLUNLG37oBBtxXz0gSf
A3wqvDZDUgr5yQOHS1Ht6vJ0cEuGYVdOLB4C/halLIECgYEAtr5Gw7s1yI3k+87b
ONBqLRsZ1PO0FBdc1eIu8lR+yaIZnt9eW7yDHBeRtyRnDQ3yskTye4OJoF3sB5nh
LlO63r1gJbqUf0OvJXPmTwI2Oo2KGKTZELRwEypRjFxLt7JANbH6hxckXue7BwxV
b0gY0DkMZ8qGAdM0ogHvGBIM1f0=
-----END PRIVATE KEY-----
)";

struct Ra {
  certward::x509::Certificate certificate;
  certward::crypto::PrivateKey key;
};

const Ra& ra() {
  static const Ra r = [] {
    auto certs = certward::x509::parse_certificates(certward::as_bytes(kRaCertificate));
    auto key = certward::crypto::parse_private_key(certward::as_bytes(kRaKey));
    if (!certs || certs->empty() || !key) __builtin_trap();
    return Ra{certs->front(), std::move(*key)};
  }();
  return r;
}

void read_content(std::span<const std::uint8_t> content) {
  if (auto csr = certward::x509::parse_csr(content)) {
    (void)csr->info().challenge_password;
    (void)certward::x509::scep::spki_sha256_hex(*csr);
  }
  if (auto ias = certward::x509::scep::parse_issuer_and_serial(content))
    (void)certward::x509::scep::same_name(ias->issuer, ias->issuer);
  (void)certward::x509::scep::parse_issuer_and_subject(content);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const certward::x509::scep::Decryptor d{&ra().certificate, &ra().key};
  if (auto m = certward::x509::scep::parse_pki_message(in)) {
    if (auto opened = certward::x509::scep::open_envelope(m->envelope, std::span(&d, 1)))
      read_content(opened->content);
  } else {
    (void)certward::x509::scep::reply_to(in);
  }
  // The input as an envelope and as its content, so that mutations reach those decoders too.
  if (auto opened = certward::x509::scep::open_envelope(in, std::span(&d, 1)))
    read_content(opened->content);
  read_content(in);
  return 0;
}
