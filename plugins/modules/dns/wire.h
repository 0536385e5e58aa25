// DNS messages on the wire (RFC 1035, 2782, 6891): a query parsed from an
// untrusted packet, and a response encoded with name compression within the
// size the client allows. No allocation-heavy tree: a query is one question,
// as every resolver in use sends.
//
// Thread safety: free functions on values; safe from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace dcos::dns {

namespace type {
constexpr uint16_t kA = 1, kNS = 2, kCNAME = 5, kSOA = 6, kPTR = 12, kTXT = 16, kAAAA = 28, kSRV = 33, kOPT = 41,
                   kAXFR = 252, kANY = 255;
}
constexpr uint16_t kClassIN = 1;

enum class Rcode : uint8_t { NoError = 0, FormErr = 1, ServFail = 2, NXDomain = 3, NotImp = 4, Refused = 5 };

// A name as asked: labels joined by '.', no trailing dot, the client's case
// kept; the root is "". Label bytes outside [!-~] other than '.' are kept
// as they came (a lookup simply finds nothing for them).
struct Question {
  std::string name;
  uint16_t type = 0;
  uint16_t klass = kClassIN;
};

struct Query {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool rd = false;  // recursion desired: copied into the answer
  bool cd = false;
  Question question;
  bool edns = false;        // the client sent an OPT record
  uint16_t udpSize = 512;   // the client's EDNS0 buffer size, at least 512; 512 without EDNS0
  uint8_t ednsVersion = 0;  // a version other than 0 is answered BADVERS by the server
  bool dnssecOk = false;
};

// What parseQuery made of a packet.
struct Parsed {
  enum class Status {
    Ok,       // `query` holds it
    FormErr,  // malformed: answer FORMERR with `query.id` (and the question when it parsed)
    NotImp,   // a well-formed message with an opcode other than QUERY: answer NOTIMP
    Drop,     // not worth an answer: shorter than a header, or a response (QR set)
  };
  Status status = Status::Drop;
  Query query;
  bool hasQuestion = false;  // for FormErr/NotImp: whether query.question is valid
};

// Parses a query. Never reads outside [data, data+size), never loops on
// compression pointers (a pointer must point backwards), rejects names over
// 255 bytes and labels over 63, more than one question, trailing garbage
// counts are checked against the packet. Answer/authority sections of a
// query are skipped; the additional section is scanned for one OPT record.
Parsed parseQuery(const uint8_t *data, size_t size);

struct Soa {
  std::string mname, rname;  // names without trailing dots
  uint32_t serial = 0, refresh = 0, retry = 0, expire = 0, minimum = 0;
};
struct Srv {
  uint16_t priority = 0, weight = 0, port = 0;
  std::string target;
};
using Ipv4 = std::array<uint8_t, 4>;
using Ipv6 = std::array<uint8_t, 16>;
// NS, CNAME and PTR hold a name (std::string); TXT holds its character-
// strings (std::vector<std::string>, each up to 255 bytes).
using RData = std::variant<Ipv4, Ipv6, std::string, Srv, Soa, std::vector<std::string>>;

struct Record {
  std::string name;  // no trailing dot; written as given (the question's case, where it answers the question)
  uint16_t type = 0;
  uint32_t ttl = 0;
  RData data;
};

struct Response {
  uint16_t id = 0;
  uint8_t opcode = 0;
  bool aa = false, rd = false, ra = false, cd = false;
  Rcode rcode = Rcode::NoError;
  uint16_t extendedRcode = 0;  // upper 8 bits go into OPT (BADVERS is 16)
  std::optional<Question> question;
  std::vector<Record> answer, authority, additional;
  bool edns = false;         // write an OPT record (only when the query had one)
  uint16_t ednsSize = 1232;  // the buffer size this server advertises in its OPT
};

// Encodes `r` with name compression (names compared case-insensitively for
// compression targets, written as given). When the message would exceed
// `limit` bytes (at least 512): the additional section is dropped first,
// record by record from the end (the OPT record is kept); if it still does
// not fit, the answer and authority sections are dropped, TC is set, and
// the header and question (and OPT) are sent. The result is never larger
// than `limit`.
std::string encode(const Response &r, size_t limit);

// An answer for a query that failed to parse or was refused: header with
// `rcode`, the question if given, OPT when `edns`.
std::string encodeError(uint16_t id, uint8_t opcode, bool rd, Rcode rcode, const std::optional<Question> &q,
                        bool edns);

// Case-insensitive ASCII comparison and folding for names.
std::string lower(std::string_view name);

// For forwarding: the id of a message (0 when shorter than 2 bytes), and a
// copy with another id.
uint16_t messageId(std::string_view packet);
std::string withId(std::string_view packet, uint16_t id);

// Whether a response packet has TC set (forwarding retries over TCP).
bool truncated(std::string_view packet);

}  // namespace dcos::dns
