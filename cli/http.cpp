#include "cli/http.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace dcos::cli {

Result<HttpAnswer> httpGet(const std::string &base, const std::string &path, std::chrono::milliseconds timeout) {
  try {
    Poco::URI uri(base);
    if (uri.getScheme() != "http") return makeError(base + ": only http:// URLs are supported");
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    Poco::Timespan span(static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000);
    session.setTimeout(span, span, span);
    std::string prefix = uri.getPath();
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, prefix + path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Accept", "application/json");
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    HttpAnswer answer;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), answer.body);
    answer.status = static_cast<int>(response.getStatus());
    return answer;
  } catch (const Poco::Exception &e) {
    return makeError("GET " + base + path + ": " + e.displayText());
  } catch (const std::exception &e) {
    return makeError("GET " + base + path + ": " + e.what());
  }
}

}  // namespace dcos::cli
