// Certificates for the routers' port 443: a master's own CA (made once, its
// key kept on that master) and the certificate it issues the master for its
// addresses and names; the edge's self-signed one. OpenSSL's libcrypto
// underneath; keys are EC P-256, signatures SHA-256.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::router::tls {

struct Pem {
  std::string cert, key;
};

// A self-signed CA certificate (CA:TRUE, 10 years) and its key.
Result<Pem> makeCa(const std::string &commonName);

// A server certificate (serverAuth, 2 years) for `names`, signed by `ca`:
// the IP addresses among them are IP subject alternative names, the rest
// DNS ones; the first is also the subject's common name.
Result<Pem> issue(const Pem &ca, const std::vector<std::string> &names);

// Whether `certPem` is signed by the key of `caCertPem` and valid for at
// least `days` more days.
bool issuedBy(const std::string &certPem, const std::string &caCertPem, int days = 30);

// The subject alternative names of a certificate, as "IP:<address>" and
// "DNS:<name>", in its order; empty when it has none or is not PEM.
std::vector<std::string> altNames(const std::string &certPem);

// Whether `pem` holds a certificate (and nothing else but more of them).
bool isCertificate(const std::string &pem);

// How `name` appears among a certificate's alternative names: "IP:<the
// address, canonical>" or "DNS:<name>".
std::string altName(const std::string &name);

// Whether the key is the certificate's: an operator's pair, checked before
// HAProxy is given it. The error says which part is wrong.
Status checkPair(const std::string &certPem, const std::string &keyPem);

}  // namespace dcos::router::tls
