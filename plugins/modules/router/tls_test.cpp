#include "plugins/modules/router/tls.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <catch2/catch.hpp>

using namespace dcos::router;

namespace {

X509 *readCert(const std::string &pem) {
  BIO *bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509 *x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return x;
}

// What a TLS client does: the chain to the CA as its only trust anchor,
// for a server purpose, and the name it dialled (an IP address or a host).
bool clientAccepts(const std::string &caPem, const std::string &certPem, const std::string &dialled) {
  X509 *ca = readCert(caPem), *cert = readCert(certPem);
  X509_STORE *store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (tls::altName(dialled).rfind("IP:", 0) == 0) {
    X509_VERIFY_PARAM_set1_ip_asc(param, dialled.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, dialled.c_str(), 0);
  }
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(cert);
  X509_free(ca);
  return ok;
}

}  // namespace

TEST_CASE("tls: a master's certificate from the cluster CA is accepted for its address and names only") {
  auto ca = tls::makeCa("test cluster CA");
  REQUIRE(ca);
  auto cert = tls::issue(*ca, {"172.31.254.11", "master-1", "master.mesos", "leader.mesos"});
  REQUIRE(cert);
  CHECK(clientAccepts(ca->cert, cert->cert, "172.31.254.11"));
  CHECK(clientAccepts(ca->cert, cert->cert, "master-1"));
  CHECK(clientAccepts(ca->cert, cert->cert, "leader.mesos"));
  CHECK_FALSE(clientAccepts(ca->cert, cert->cert, "172.31.254.12"));
  CHECK_FALSE(clientAccepts(ca->cert, cert->cert, "evil.example"));
  // The CA itself is no server certificate, and another CA's client does not trust it.
  auto other = tls::makeCa("another CA");
  REQUIRE(other);
  CHECK_FALSE(clientAccepts(other->cert, cert->cert, "172.31.254.11"));
}

TEST_CASE("tls: issuedBy tells the CA that signed a certificate") {
  auto ca = tls::makeCa("a");
  auto other = tls::makeCa("b");
  REQUIRE(ca);
  REQUIRE(other);
  auto cert = tls::issue(*ca, {"10.0.0.1"});
  REQUIRE(cert);
  CHECK(tls::issuedBy(cert->cert, ca->cert));
  CHECK(tls::issuedBy(cert->cert + cert->key, ca->cert));  // a combined PEM, as HAProxy is given
  CHECK_FALSE(tls::issuedBy(cert->cert, other->cert));
  // Valid 2 years: not for 3 more.
  CHECK_FALSE(tls::issuedBy(cert->cert, ca->cert, 3 * 365));
  CHECK_FALSE(tls::issuedBy("not a certificate", ca->cert));
}

TEST_CASE("tls: altNames lists IP and DNS names in order, IPv6 canonical") {
  auto ca = tls::makeCa("a");
  REQUIRE(ca);
  auto cert = tls::issue(*ca, {"10.0.0.1", "fd00:0:0::a", "master.mesos"});
  REQUIRE(cert);
  CHECK(tls::altNames(cert->cert) == std::vector<std::string>{"IP:10.0.0.1", "IP:fd00::a", "DNS:master.mesos"});
  CHECK(tls::altName("fd00:0:0::a") == "IP:fd00::a");
  CHECK(tls::altName("master.mesos") == "DNS:master.mesos");
  CHECK(tls::altNames("junk").empty());
}

TEST_CASE("tls: names that would be read as more than one are refused") {
  auto ca = tls::makeCa("a");
  REQUIRE(ca);
  CHECK_FALSE(tls::issue(*ca, {"a,DNS:evil.example"}));
  CHECK_FALSE(tls::issue(*ca, {"DNS:x"}));
  CHECK_FALSE(tls::issue(*ca, {}));
}

TEST_CASE("tls: checkPair says which part of an operator's pair is wrong") {
  auto ca = tls::makeCa("a");
  auto other = tls::makeCa("b");
  REQUIRE(ca);
  REQUIRE(other);
  CHECK(tls::checkPair(ca->cert, ca->key));
  auto mismatch = tls::checkPair(ca->cert, other->key);
  REQUIRE_FALSE(mismatch);
  CHECK(mismatch.error().message == "the key is not the certificate's");
  auto notCert = tls::checkPair("hello", ca->key);
  REQUIRE_FALSE(notCert);
  CHECK_THAT(notCert.error().message, Catch::StartsWith("the certificate is not a PEM certificate"));
  auto notKey = tls::checkPair(ca->cert, ca->cert);
  REQUIRE_FALSE(notKey);
  CHECK_THAT(notKey.error().message, Catch::StartsWith("the key is not a PEM private key"));
}
