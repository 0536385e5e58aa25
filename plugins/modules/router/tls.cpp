#include "plugins/modules/router/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "base/text.h"

namespace dcos::router::tls {

namespace {

template <typename T, void (*F)(T *)>
struct Free {
  void operator()(T *p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Bn = std::unique_ptr<BIGNUM, Free<BIGNUM, BN_free>>;

// OpenSSL's last error, for a message.
std::string sslError(const std::string &what) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return what;
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return what + ": " + buf;
}

bool isIp(const std::string &s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

Cert readCert(const std::string &pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  return Cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PKey readKey(const std::string &pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return nullptr;
  // No passphrase is asked for (OpenSSL would prompt on a terminal).
  auto none = [](char *, int, int, void *) { return 0; };
  return PKey(PEM_read_bio_PrivateKey(bio.get(), nullptr, none, nullptr));
}

std::string drain(BIO *bio) {
  char *data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<Pem> toPem(X509 *cert, EVP_PKEY *key) {
  Bio c(BIO_new(BIO_s_mem())), k(BIO_new(BIO_s_mem()));
  if (!c || !k || PEM_write_bio_X509(c.get(), cert) != 1 ||
      PEM_write_bio_PrivateKey(k.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return makeError(sslError("writing PEM"));
  }
  return Pem{drain(c.get()), drain(k.get())};
}

bool addExt(X509 *cert, X509 *issuer, int nid, const std::string &value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `key`, its subject `commonName`, valid for `days`,
// with a random serial; its issuer and extensions are the caller's.
Cert skeleton(EVP_PKEY *key, const std::string &commonName, long days) {
  Cert x(X509_new());
  if (!x || X509_set_version(x.get(), 2) != 1) return nullptr;
  Bn serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x.get())) == nullptr) {
    return nullptr;
  }
  // An hour back: a node whose clock is a little behind accepts it at once.
  if (X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), days * 86400L) == nullptr || X509_set_pubkey(x.get(), key) != 1) {
    return nullptr;
  }
  X509_NAME *name = X509_get_subject_name(x.get());
  std::string cn = commonName.substr(0, 64);  // the attribute's upper bound
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char *>(cn.c_str()), -1, -1,
                                 0) != 1) {
    return nullptr;
  }
  return x;
}

}  // namespace

Result<Pem> makeCa(const std::string &commonName) {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return makeError(sslError("making the CA's key"));
  Cert x = skeleton(key.get(), commonName, 3650);
  if (!x) return makeError(sslError("making the CA's certificate"));
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(x.get())) != 1 ||
      !addExt(x.get(), x.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
      !addExt(x.get(), x.get(), NID_key_usage, "critical,keyCertSign,cRLSign") ||
      !addExt(x.get(), x.get(), NID_subject_key_identifier, "hash") ||
      !addExt(x.get(), x.get(), NID_authority_key_identifier, "keyid:always") ||
      X509_sign(x.get(), key.get(), EVP_sha256()) == 0) {
    return makeError(sslError("signing the CA's certificate"));
  }
  return toPem(x.get(), key.get());
}

Result<Pem> issue(const Pem &ca, const std::vector<std::string> &names) {
  if (names.empty()) return makeError("a certificate needs at least one name");
  Cert caCert = readCert(ca.cert);
  PKey caKey = readKey(ca.key);
  if (!caCert || !caKey) return makeError(sslError("reading the CA"));
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return makeError(sslError("making a key"));
  Cert x = skeleton(key.get(), names.front(), 730);
  if (!x) return makeError(sslError("making a certificate"));
  std::vector<std::string> alt;
  for (const auto &n : names) {
    // A name with a comma or a colon would be read as more than one.
    if (n.empty() || n.find_first_of(",") != std::string::npos || (!isIp(n) && n.find(':') != std::string::npos)) {
      return makeError("\"" + n + "\" is not a host name or an IP address");
    }
    alt.push_back((isIp(n) ? "IP:" : "DNS:") + n);
  }
  if (X509_set_issuer_name(x.get(), X509_get_subject_name(caCert.get())) != 1 ||
      !addExt(x.get(), caCert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExt(x.get(), caCert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment") ||
      !addExt(x.get(), caCert.get(), NID_ext_key_usage, "serverAuth") ||
      !addExt(x.get(), caCert.get(), NID_subject_key_identifier, "hash") ||
      !addExt(x.get(), caCert.get(), NID_authority_key_identifier, "keyid:always") ||
      !addExt(x.get(), caCert.get(), NID_subject_alt_name, text::join(alt, ",")) ||
      X509_sign(x.get(), caKey.get(), EVP_sha256()) == 0) {
    return makeError(sslError("signing a certificate"));
  }
  return toPem(x.get(), key.get());
}

bool issuedBy(const std::string &certPem, const std::string &caCertPem, int days) {
  Cert cert = readCert(certPem), ca = readCert(caCertPem);
  ERR_clear_error();
  if (!cert || !ca) return false;
  if (X509_verify(cert.get(), X509_get0_pubkey(ca.get())) != 1) {
    ERR_clear_error();
    return false;
  }
  time_t soon = ::time(nullptr) + static_cast<time_t>(days) * 86400;
  return X509_cmp_time(X509_get0_notAfter(cert.get()), &soon) > 0;
}

std::vector<std::string> altNames(const std::string &certPem) {
  std::vector<std::string> out;
  Cert cert = readCert(certPem);
  ERR_clear_error();
  if (!cert) return out;
  auto *names = static_cast<GENERAL_NAMES *>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING *s = g->d.dNSName;
      out.push_back("DNS:" + std::string(reinterpret_cast<const char *>(ASN1_STRING_get0_data(s)),
                                         static_cast<size_t>(ASN1_STRING_length(s))));
    } else if (g->type == GEN_IPADD) {
      const ASN1_OCTET_STRING *s = g->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {};
      int len = ASN1_STRING_length(s);
      if (len == 4 || len == 16) {
        ::inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf);
        out.push_back(std::string("IP:") + buf);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

bool isCertificate(const std::string &pem) {
  if (pem.find("PRIVATE KEY") != std::string::npos) return false;
  Cert cert = readCert(pem);
  ERR_clear_error();
  return static_cast<bool>(cert);
}

std::string altName(const std::string &name) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_pton(AF_INET, name.c_str(), buf) == 1 && ::inet_ntop(AF_INET, buf, text, sizeof text)) return std::string("IP:") + text;
  if (::inet_pton(AF_INET6, name.c_str(), buf) == 1 && ::inet_ntop(AF_INET6, buf, text, sizeof text)) return std::string("IP:") + text;
  return "DNS:" + name;
}

Status checkPair(const std::string &certPem, const std::string &keyPem) {
  Cert cert = readCert(certPem);
  if (!cert) return makeError(sslError("the certificate is not a PEM certificate"));
  PKey key = readKey(keyPem);
  if (!key) {
    ERR_clear_error();
    return makeError(keyPem.find("ENCRYPTED") != std::string::npos
                         ? "the key is encrypted (give it without a passphrase)"
                         : "the key is not a PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return makeError("the key is not the certificate's");
  }
  return Status::Ok();
}

}  // namespace dcos::router::tls
