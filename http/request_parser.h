// An incremental HTTP/1.x request parser: bytes in as they arrive, whole
// requests out. It holds no socket and does no I/O, so every rule it applies
// is tested on strings (request_parser_test.cpp) and fuzzed.
//
// What it accepts (RFC 9112): a request line `METHOD SP target SP HTTP/1.x`,
// header fields `name: value` (CRLF, or a bare LF), a body by Content-Length
// or by chunked transfer coding (extensions and trailers read and dropped).
// What it refuses, with the status a server should answer: a head over the
// limit (431), a body over the limit (413), a transfer coding other than
// chunked (501), an HTTP major other than 1 (505), and everything that lets
// two parsers disagree on where a request ends (400): Content-Length with
// Transfer-Encoding, two different Content-Lengths, obsolete line folding,
// whitespace before a header's colon, bad chunk sizes, chunk lines not ended
// by CRLF; and an HTTP/1.1 request without exactly one Host (400).
//
// Not thread safe; one parser per connection.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dcos::http {

struct Request {
  std::string method;  // as sent, e.g. "GET"
  std::string target;  // as sent, e.g. "/v2/apps?embed=apps.tasks"
  std::string path;    // target up to '?'
  std::string query;   // after '?', "" when none
  int minorVersion = 1;  // HTTP/1.x
  std::vector<std::pair<std::string, std::string>> headers;  // in order, names as sent
  std::string body;
  std::string peer;  // the client's address, "ip" (set by the server)

  // The first header of that name (case-insensitive), or nullptr.
  const std::string *header(std::string_view name) const;
  // Whether the client wants the connection kept after the response.
  bool keepAlive() const;
  // Whether the client waits for "100 Continue" before it sends the body.
  bool expectsContinue() const;
};

struct ParserLimits {
  size_t maxHeadBytes = 32 * 1024;  // request line and header fields
  size_t maxHeaders = 100;
  size_t maxBodyBytes = 1024 * 1024;
};

class RequestParser {
 public:
  enum class State {
    Head,      // waiting for the request line and headers
    Body,      // the head is in; the body is still coming
    Complete,  // a whole request; take() it
    Failed,    // bad input; errorStatus() and errorMessage() say why
  };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from `data` and returns how many it used: it stops at the
  // end of a request, so what follows (a pipelined request) stays with the
  // caller. Nothing is consumed in the Complete or Failed state.
  size_t feed(std::string_view data);

  State state() const { return state_; }
  // Whether any byte of the current request arrived yet (an idle keep-alive
  // connection has none).
  bool started() const { return started_; }
  // The head, once state() is Body or Complete.
  const Request &request() const { return request_; }
  // The request, once Complete; the parser is then ready for the next one.
  Request take();

  int errorStatus() const { return errorStatus_; }
  const std::string &errorMessage() const { return errorMessage_; }

 private:
  enum class Chunk { Size, Data, DataEnd, Trailer };

  size_t feedHead(std::string_view data);
  size_t feedBody(std::string_view data);
  bool parseHead(std::string_view head);
  bool fail(int status, std::string message);

  ParserLimits limits_;
  State state_ = State::Head;
  bool started_ = false;
  std::string head_;  // the head so far
  Request request_;
  bool chunked_ = false;
  size_t remaining_ = 0;  // of a Content-Length body, or of the current chunk
  Chunk chunk_ = Chunk::Size;
  std::string line_;  // a chunk-size or trailer line so far
  size_t trailers_ = 0;
  int errorStatus_ = 0;
  std::string errorMessage_;
};

}  // namespace dcos::http
