#include "cli/http.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <memory>
#include <ostream>

namespace dcos::cli {

namespace {

std::string caCert;

// One client context for the process: verifying the server's chain (to
// the CA given, else the system's) and its name (the URL's host).
Poco::Net::Context::Ptr tlsContext() {
  static Poco::Net::Context::Ptr context = [] {
    Poco::Net::initializeSSL();
    Poco::Net::Context::Ptr c = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", caCert,
                                                       Poco::Net::Context::VERIFY_STRICT, 9, caCert.empty());
    return c;
  }();
  return context;
}

}  // namespace

void setCaCert(const std::string &path) { caCert = path; }

Result<HttpAnswer> httpRequest(const std::string &method, const std::string &base, const std::string &path,
                               const std::string &body, std::chrono::milliseconds timeout) {
  const std::string what = method + " " + base + path;
  try {
    Poco::URI uri(base);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") return makeError(base + ": expected an http:// or https:// URL");
    std::unique_ptr<Poco::Net::HTTPClientSession> owned;
    if (uri.getScheme() == "https") {
      owned = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), tlsContext());
    } else {
      owned = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    }
    Poco::Net::HTTPClientSession &session = *owned;
    Poco::Timespan span(static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000);
    session.setTimeout(span, span, span);
    std::string prefix = uri.getPath();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    Poco::Net::HTTPRequest request(method, prefix + path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Accept", "application/json");
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(request) << body;
    } else {
      session.sendRequest(request);
    }
    Poco::Net::HTTPResponse response;
    HttpAnswer answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = static_cast<int>(response.getStatus());
    return answer;
  } catch (const Poco::Net::SSLException &e) {
    // A certificate that could not be verified: say against what.
    std::string hint;
    if (e.displayText().find("verif") != std::string::npos || e.displayText().find("ertificate") != std::string::npos) {
      hint = caCert.empty() ? " (verified against the system's CAs: give the cluster's with --ca-cert FILE or DCOS_CA_CERT; "
                              "a cluster without an operator's certificate serves its own at http://<master>/ca/dcos-ca.crt)"
                            : " (verified against " + caCert + ", for the URL's host)";
    }
    return makeError(what + ": " + e.displayText() + hint);
  } catch (const Poco::Exception &e) {
    return makeError(what + ": " + e.displayText());
  } catch (const std::exception &e) {
    return makeError(what + ": " + e.what());
  }
}

Result<HttpAnswer> httpGet(const std::string &base, const std::string &path, std::chrono::milliseconds timeout) {
  return httpRequest("GET", base, path, "", timeout);
}

}  // namespace dcos::cli
