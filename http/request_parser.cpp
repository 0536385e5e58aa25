#include "http/request_parser.h"

#include "base/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace dcos::http {

namespace {

// RFC 9110 tchar: the characters of a token (methods, header names).
bool isTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool isToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), isTokenChar); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool listHas(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (text::iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

const std::string *Request::header(std::string_view name) const {
  for (const auto &[n, v] : headers) {
    if (text::iequals(n, name)) return &v;
  }
  return nullptr;
}

bool Request::keepAlive() const {
  const std::string *c = header("Connection");
  if (minorVersion == 0) return c != nullptr && listHas(*c, "keep-alive");
  return c == nullptr || !listHas(*c, "close");
}

bool Request::expectsContinue() const {
  const std::string *e = header("Expect");
  return minorVersion >= 1 && e != nullptr && text::iequals(trim(*e), "100-continue");
}

bool RequestParser::fail(int status, std::string message) {
  state_ = State::Failed;
  errorStatus_ = status;
  errorMessage_ = std::move(message);
  return false;
}

Request RequestParser::take() {
  Request r = std::move(request_);
  request_ = Request{};
  head_.clear();
  line_.clear();
  chunked_ = false;
  remaining_ = 0;
  chunk_ = Chunk::Size;
  trailers_ = 0;
  started_ = false;
  state_ = State::Head;
  return r;
}

size_t RequestParser::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && (state_ == State::Head || state_ == State::Body)) {
    used += state_ == State::Head ? feedHead(data.substr(used)) : feedBody(data.substr(used));
  }
  // A request without a body is complete with its head, even at the end of
  // the data; so is one whose body ended exactly there.
  if (state_ == State::Body && !chunked_ && remaining_ == 0) state_ = State::Complete;
  return used;
}

size_t RequestParser::feedHead(std::string_view data) {
  // Empty lines before a request line are ignored (RFC 9112 2.2), also
  // between pipelined requests.
  size_t used = 0;
  if (head_.empty()) {
    while (used < data.size() && (data[used] == '\r' || data[used] == '\n')) ++used;
    data.remove_prefix(used);
    if (data.empty()) return used;
  }
  started_ = true;
  // The head ends at the first empty line: "\n\n" or "\n\r\n". Search from a
  // few bytes back, as the end may straddle two reads.
  size_t from = head_.size() >= 3 ? head_.size() - 3 : 0;
  head_.append(data);
  size_t end = std::string::npos;
  size_t endLen = 0;
  for (size_t i = from; i < head_.size(); ++i) {
    if (head_[i] != '\n') continue;
    if (i + 1 < head_.size() && head_[i + 1] == '\n') {
      end = i + 1;
      endLen = 1;
      break;
    }
    if (i + 2 < head_.size() && head_[i + 1] == '\r' && head_[i + 2] == '\n') {
      end = i + 1;
      endLen = 2;
      break;
    }
  }
  if (end == std::string::npos) {
    if (head_.size() > limits_.maxHeadBytes) {
      fail(431, "request head over " + std::to_string(limits_.maxHeadBytes) + " bytes");
    }
    return used + data.size();
  }
  if (end > limits_.maxHeadBytes) {
    fail(431, "request head over " + std::to_string(limits_.maxHeadBytes) + " bytes");
    return used + data.size();
  }
  // What of this read belongs to the head; the rest is the body's.
  size_t headTotal = end + endLen;
  size_t fromThisRead = headTotal - (head_.size() - data.size());
  head_.resize(headTotal);
  if (!parseHead(std::string_view(head_).substr(0, end))) return used + fromThisRead;
  state_ = State::Body;
  if (!chunked_ && remaining_ == 0) state_ = State::Complete;
  return used + fromThisRead;
}

bool RequestParser::parseHead(std::string_view head) {
  std::vector<std::string_view> lines;
  while (!head.empty()) {
    size_t nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    head.remove_prefix(nl + 1);
  }
  if (lines.empty()) return fail(400, "empty request");
  // Request line: method SP target SP version, single spaces.
  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "malformed request line");
  }
  std::string_view method = rl.substr(0, sp1);
  std::string_view target = rl.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = rl.substr(sp2 + 1);
  if (!isToken(method)) return fail(400, "malformed method");
  if (target.empty() || std::any_of(target.begin(), target.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) == 0x7f;
      })) {
    return fail(400, "malformed request target");
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[5])) || !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return fail(400, "malformed HTTP version");
  }
  if (version[5] != '1') return fail(505, "HTTP version not supported: " + std::string(version));
  request_.method = method;
  request_.target = target;
  request_.minorVersion = version[7] - '0';
  size_t q = target.find('?');
  request_.path = target.substr(0, q);
  request_.query = q == std::string_view::npos ? "" : target.substr(q + 1);

  if (lines.size() - 1 > limits_.maxHeaders) return fail(431, "over " + std::to_string(limits_.maxHeaders) + " header fields");
  bool haveLength = false;
  size_t length = 0;
  bool haveTransfer = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') return fail(400, "obsolete line folding in header fields");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "header field without a colon");
    std::string_view name = line.substr(0, colon);
    if (!isToken(name)) return fail(400, "malformed header field name");
    std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](char c) { return c == '\0' || c == '\r' || c == '\n'; })) {
      return fail(400, "control character in header field " + std::string(name));
    }
    if (text::iequals(name, "Content-Length")) {
      size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || p != value.data() + value.size()) {
        return fail(400, "malformed Content-Length");
      }
      if (haveLength && n != length) return fail(400, "conflicting Content-Length fields");
      haveLength = true;
      length = n;
    } else if (text::iequals(name, "Transfer-Encoding")) {
      if (request_.minorVersion == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
      if (haveTransfer || !text::iequals(value, "chunked")) {
        return fail(501, "transfer coding not supported: " + std::string(value));
      }
      haveTransfer = true;
    }
    request_.headers.emplace_back(std::string(name), std::string(value));
  }
  if (haveLength && haveTransfer) return fail(400, "both Content-Length and Transfer-Encoding");
  // RFC 9112 3.2: an HTTP/1.1 request has exactly one Host.
  size_t hosts = 0;
  for (const auto &[n, v] : request_.headers) hosts += text::iequals(n, "Host") ? 1 : 0;
  if (request_.minorVersion >= 1 && hosts != 1) {
    return fail(400, hosts == 0 ? "no Host header field" : "more than one Host header field");
  }
  if (haveLength && length > limits_.maxBodyBytes) {
    return fail(413, "request body over " + std::to_string(limits_.maxBodyBytes) + " bytes");
  }
  chunked_ = haveTransfer;
  remaining_ = haveLength ? length : 0;
  return true;
}

size_t RequestParser::feedBody(std::string_view data) {
  if (!chunked_) {
    size_t n = std::min(remaining_, data.size());
    request_.body.append(data.substr(0, n));
    remaining_ -= n;
    if (remaining_ == 0) state_ = State::Complete;
    return n;
  }
  size_t used = 0;
  while (used < data.size() && state_ == State::Body) {
    char c = data[used];
    switch (chunk_) {
      case Chunk::Size:
      case Chunk::Trailer: {
        ++used;
        if (c != '\n') {
          if (line_.size() >= 4096) return (void)fail(400, "chunk line too long"), used;
          line_ += c;
          break;
        }
        // Chunk lines end in CRLF, with no CR or LF inside them: a parser in
        // front of us that reads them otherwise would split the body
        // elsewhere.
        std::string_view line = line_;
        if (line.empty() || line.back() != '\r') return (void)fail(400, "chunk line not ended by CRLF"), used;
        line.remove_suffix(1);
        if (line.find('\r') != std::string_view::npos) return (void)fail(400, "CR inside a chunk line"), used;
        if (chunk_ == Chunk::Trailer) {
          if (line.empty()) {
            state_ = State::Complete;
          } else if (++trailers_ > limits_.maxHeaders || line.find(':') == std::string_view::npos) {
            return (void)fail(trailers_ > limits_.maxHeaders ? 431 : 400,
                              trailers_ > limits_.maxHeaders ? "too many trailer fields" : "malformed trailer field"),
                   used;
          }
          line_.clear();
          break;
        }
        std::string_view digits = line.substr(0, line.find(';'));
        size_t n = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n, 16);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size()) {
          return (void)fail(400, "malformed chunk size"), used;
        }
        if (n > limits_.maxBodyBytes - request_.body.size()) {
          return (void)fail(413, "request body over " + std::to_string(limits_.maxBodyBytes) + " bytes"), used;
        }
        line_.clear();
        remaining_ = n;
        chunk_ = n == 0 ? Chunk::Trailer : Chunk::Data;
        break;
      }
      case Chunk::Data: {
        size_t n = std::min(remaining_, data.size() - used);
        request_.body.append(data.substr(used, n));
        remaining_ -= n;
        used += n;
        if (remaining_ == 0) chunk_ = Chunk::DataEnd;
        break;
      }
      case Chunk::DataEnd:
        // CRLF (or LF) after a chunk's data.
        ++used;
        if (c == '\r' && line_.empty()) {
          line_ = "\r";
        } else if (c == '\n' && line_ == "\r") {
          line_.clear();
          chunk_ = Chunk::Size;
        } else {
          return (void)fail(400, "chunk data longer than its size"), used;
        }
        break;
    }
  }
  return used;
}

}  // namespace dcos::http
