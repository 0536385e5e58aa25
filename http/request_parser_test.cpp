#include "http/request_parser.h"

#include <catch2/catch.hpp>

using dcos::http::ParserLimits;
using dcos::http::Request;
using dcos::http::RequestParser;
using State = RequestParser::State;

namespace {

// Feeds `text` in pieces of `step` bytes; returns the parser and what it left.
struct Fed {
  RequestParser parser;
  std::string rest;
};
Fed feed(const std::string &text, size_t step = 0, ParserLimits limits = {}) {
  Fed f{RequestParser(limits), {}};
  if (step == 0) step = text.size();
  std::string pending;
  for (size_t at = 0; at < text.size(); at += step) {
    pending += text.substr(at, step);
    size_t used = f.parser.feed(pending);
    pending.erase(0, used);
    if (f.parser.state() == State::Complete || f.parser.state() == State::Failed) break;
  }
  f.rest = pending;
  return f;
}

}  // namespace

TEST_CASE("parser: a request in one piece or byte by byte comes out the same", "[http]") {
  const std::string text =
      "POST /v2/apps?force=true HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
      "{\"id\":\"/a\"}";
  for (size_t step : {size_t(0), size_t(1), size_t(7)}) {
    auto f = feed(text, step);
    REQUIRE(f.parser.state() == State::Complete);
    Request r = f.parser.take();
    CHECK(r.method == "POST");
    CHECK(r.target == "/v2/apps?force=true");
    CHECK(r.path == "/v2/apps");
    CHECK(r.query == "force=true");
    CHECK(r.body == "{\"id\":\"/a\"}");
    REQUIRE(r.header("content-type") != nullptr);
    CHECK(*r.header("CONTENT-TYPE") == "application/json");
    CHECK(r.keepAlive());
    CHECK(f.parser.state() == State::Head);
  }
}

TEST_CASE("parser: pipelined requests are taken one at a time", "[http]") {
  std::string two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
  RequestParser p;
  size_t used = p.feed(two);
  REQUIRE(p.state() == State::Complete);
  CHECK(p.take().path == "/a");
  two.erase(0, used);
  CHECK(p.feed(two) == two.size());
  REQUIRE(p.state() == State::Complete);
  CHECK(p.take().path == "/b");
}

TEST_CASE("parser: chunked bodies, with extensions and trailers", "[http]") {
  auto f = feed("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: y\r\n\r\n", 3);
  REQUIRE(f.parser.state() == State::Complete);
  CHECK(f.parser.take().body == "hello world");
}

TEST_CASE("parser: keep-alive by version and Connection, and Expect", "[http]") {
  auto close11 = feed("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK_FALSE(close11.parser.request().keepAlive());
  auto plain10 = feed("GET / HTTP/1.0\r\n\r\n");
  CHECK_FALSE(plain10.parser.request().keepAlive());
  auto keep10 = feed("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  CHECK(keep10.parser.request().keepAlive());
  auto expect = feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  CHECK(expect.parser.state() == State::Body);
  CHECK(expect.parser.request().expectsContinue());
}

TEST_CASE("parser: bare LF line ends and empty lines before a request are accepted", "[http]") {
  auto f = feed("\r\n\r\nGET /lf HTTP/1.1\nHost: x\n\n");
  REQUIRE(f.parser.state() == State::Complete);
  CHECK(f.parser.take().path == "/lf");
}

TEST_CASE("parser: what lets two parsers disagree on a request's end is refused", "[http]") {
  struct Case {
    const char *what;
    std::string text;
    int status;
  };
  const Case cases[] = {
      {"length and chunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"two lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"bad length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3x\r\n\r\n", 400},
      {"negative length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
      {"folding", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nHost : x\r\n\r\n", 400},
      {"gzip coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"HTTP/2", "GET / HTTP/2.0\r\n\r\n", 505},
      {"garbage version", "GET / HTTX/1.1\r\n\r\n", 400},
      {"two spaces", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"no target", "GET HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk longer than said", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 400},
      {"control character in method", "G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"chunk line ended by LF alone", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2;\nxx\r\n0\r\n\r\n", 400},
      {"space in a chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n 2\r\nxx\r\n0\r\n\r\n", 400},
      {"chunk data ended by LF alone", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxx\n0\r\n\r\n", 400},
  };
  for (const auto &c : cases) {
    INFO(c.what);
    auto f = feed(c.text);
    REQUIRE(f.parser.state() == State::Failed);
    CHECK(f.parser.errorStatus() == c.status);
    CHECK_FALSE(f.parser.errorMessage().empty());
  }
}

TEST_CASE("parser: heads and bodies over the limits", "[http]") {
  ParserLimits small{256, 4, 16};
  SECTION("a head that never ends") {
    auto f = feed("GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1000, 'a'), 10, small);
    REQUIRE(f.parser.state() == State::Failed);
    CHECK(f.parser.errorStatus() == 431);
  }
  SECTION("too many fields") {
    auto f = feed("GET / HTTP/1.1\r\nHost: x\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n", 0, small);
    CHECK(f.parser.errorStatus() == 431);
  }
  SECTION("a length over the limit is refused before the body comes") {
    auto f = feed("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n", 0, small);
    CHECK(f.parser.errorStatus() == 413);
  }
  SECTION("chunks adding up over the limit") {
    auto f = feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n9\r\n", 1, small);
    CHECK(f.parser.errorStatus() == 413);
  }
  SECTION("a chunk size that overflows") {
    auto f = feed("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n", 0, small);
    CHECK(f.parser.errorStatus() == 400);
  }
}

TEST_CASE("parser: an idle connection has not started a request", "[http]") {
  RequestParser p;
  CHECK_FALSE(p.started());
  CHECK(p.feed("\r\n") == 2);
  CHECK_FALSE(p.started());
  p.feed("GE");
  CHECK(p.started());
  CHECK(p.state() == State::Head);
}
