#include "plugins/modules/dns/wire.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace dcos::dns;

namespace {

using Bytes = std::vector<uint8_t>;
using Status = Parsed::Status;

// ---- hand-built packets ----

void put16(Bytes &b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes &b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
void append(Bytes &b, const Bytes &more) { b.insert(b.end(), more.begin(), more.end()); }

// A header: flags as the two bytes on the wire.
Bytes header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
  Bytes b;
  for (uint16_t v : {id, flags, qd, an, ns, ar}) {
    put16(b, v);
  }
  return b;
}

// A name without compression: "www.example.com" -> 3www7example3com0.
Bytes wireName(const std::string &name) {
  Bytes b;
  size_t begin = 0;
  while (begin < name.size()) {
    size_t dot = name.find('.', begin);
    size_t end = dot == std::string::npos ? name.size() : dot;
    b.push_back(static_cast<uint8_t>(end - begin));
    b.insert(b.end(), name.begin() + static_cast<long>(begin), name.begin() + static_cast<long>(end));
    begin = end + 1;
  }
  b.push_back(0);
  return b;
}

Bytes opt(uint16_t size, uint8_t version = 0, bool dnssecOk = false, const Bytes &options = {}) {
  Bytes b{0};
  put16(b, type::kOPT);
  put16(b, size);
  put32(b, static_cast<uint32_t>(version) << 16 | (dnssecOk ? 0x8000u : 0u));
  put16(b, static_cast<uint16_t>(options.size()));
  append(b, options);
  return b;
}

// A query as a resolver sends it: RD set, one question, OPT when size != 0.
Bytes query(const std::string &name, uint16_t qtype, uint16_t ednsSize = 0, uint16_t id = 0x1234) {
  Bytes b = header(id, 0x0100, 1, 0, 0, ednsSize != 0 ? 1 : 0);
  append(b, wireName(name));
  put16(b, qtype);
  put16(b, kClassIN);
  if (ednsSize != 0) {
    append(b, opt(ednsSize));
  }
  return b;
}

Parsed parse(const Bytes &b) { return parseQuery(b.data(), b.size()); }
Parsed parse(const std::string &s) { return parseQuery(reinterpret_cast<const uint8_t *>(s.data()), s.size()); }

// ---- a test-only decoder for what encode writes ----

struct Rr {
  std::string name;
  uint16_t type = 0, klass = 0;
  uint32_t ttl = 0;
  Bytes rdata;
  std::string target;              // NS, CNAME, PTR, SRV
  uint16_t priority = 0, weight = 0, port = 0;
  Soa soa;
  std::vector<std::string> txt;
  bool targetCompressed = false;   // the rdata's (first) name holds a pointer
};

struct Message {
  uint16_t id = 0;
  uint8_t flags2 = 0, flags3 = 0;
  std::vector<Question> questions;
  std::vector<Rr> answer, authority, additional;
  bool qr() const { return (flags2 & 0x80) != 0; }
  bool tc() const { return (flags2 & 0x02) != 0; }
  bool aa() const { return (flags2 & 0x04) != 0; }
  bool rd() const { return (flags2 & 0x01) != 0; }
  bool ra() const { return (flags3 & 0x80) != 0; }
  bool cd() const { return (flags3 & 0x10) != 0; }
  uint8_t opcode() const { return (flags2 >> 3) & 0xf; }
  uint8_t rcode() const { return flags3 & 0xf; }
};

class Decoder {
 public:
  explicit Decoder(const std::string &m) : m_(reinterpret_cast<const uint8_t *>(m.data())), size_(m.size()) {}

  Message decode() {
    Message msg;
    REQUIRE(size_ >= 12);
    msg.id = get16(0);
    msg.flags2 = m_[2];
    msg.flags3 = m_[3];
    uint16_t qd = get16(4), an = get16(6), ns = get16(8), ar = get16(10);
    pos_ = 12;
    for (uint16_t i = 0; i < qd; ++i) {
      Question q;
      q.name = name(pos_, nullptr);
      q.type = get16(pos_);
      q.klass = get16(pos_ + 2);
      pos_ += 4;
      msg.questions.push_back(q);
    }
    for (uint16_t i = 0; i < an; ++i) {
      msg.answer.push_back(record());
    }
    for (uint16_t i = 0; i < ns; ++i) {
      msg.authority.push_back(record());
    }
    for (uint16_t i = 0; i < ar; ++i) {
      msg.additional.push_back(record());
    }
    REQUIRE(pos_ == size_);
    return msg;
  }

 private:
  uint16_t get16(size_t at) const {
    REQUIRE(at + 2 <= size_);
    return static_cast<uint16_t>(m_[at] << 8 | m_[at + 1]);
  }
  uint32_t get32(size_t at) const { return static_cast<uint32_t>(get16(at)) << 16 | get16(at + 2); }

  // A name, every pointer strictly backwards and to a name start inside
  // the message; `compressed` says whether it held a pointer.
  std::string name(size_t &at, bool *compressed) {
    std::string out;
    size_t p = at, floor = at, wire = 0;
    bool jumped = false;
    for (;;) {
      REQUIRE(p < size_);
      uint8_t len = m_[p];
      if (len == 0) {
        if (!jumped) {
          at = p + 1;
        }
        break;
      }
      if ((len & 0xc0) == 0xc0) {
        REQUIRE(p + 1 < size_);
        size_t target = static_cast<size_t>(len & 0x3f) << 8 | m_[p + 1];
        REQUIRE(target < floor);
        REQUIRE(target >= 12);
        if (!jumped) {
          at = p + 2;
        }
        jumped = true;
        floor = p = target;
        continue;
      }
      REQUIRE((len & 0xc0) == 0);
      REQUIRE(len <= 63);
      REQUIRE(p + 1 + len <= size_);
      wire += 1 + len;
      if (!out.empty()) {
        out += '.';
      }
      out.append(reinterpret_cast<const char *>(m_ + p + 1), len);
      p += 1 + len;
    }
    REQUIRE(wire + 1 <= 255);
    if (compressed != nullptr) {
      *compressed = jumped;
    }
    return out;
  }

  Rr record() {
    Rr r;
    r.name = name(pos_, nullptr);
    r.type = get16(pos_);
    r.klass = get16(pos_ + 2);
    r.ttl = get32(pos_ + 4);
    size_t len = get16(pos_ + 8);
    pos_ += 10;
    REQUIRE(pos_ + len <= size_);
    size_t end = pos_ + len;
    r.rdata.assign(m_ + pos_, m_ + end);
    size_t p = pos_;
    switch (r.type) {
      case type::kNS:
      case type::kCNAME:
      case type::kPTR:
        r.target = name(p, &r.targetCompressed);
        break;
      case type::kSRV:
        r.priority = get16(p);
        r.weight = get16(p + 2);
        r.port = get16(p + 4);
        p += 6;
        r.target = name(p, &r.targetCompressed);
        break;
      case type::kSOA:
        r.soa.mname = name(p, &r.targetCompressed);
        r.soa.rname = name(p, nullptr);
        r.soa.serial = get32(p);
        r.soa.refresh = get32(p + 4);
        r.soa.retry = get32(p + 8);
        r.soa.expire = get32(p + 12);
        r.soa.minimum = get32(p + 16);
        p += 20;
        break;
      case type::kTXT:
        while (p < end) {
          size_t n = m_[p];
          REQUIRE(p + 1 + n <= end);
          r.txt.emplace_back(reinterpret_cast<const char *>(m_ + p + 1), n);
          p += 1 + n;
        }
        break;
      default:
        p = end;
        break;
    }
    REQUIRE(p == end);
    pos_ = end;
    return r;
  }

  const uint8_t *m_;
  size_t size_;
  size_t pos_ = 0;
};

Message decode(const std::string &m) { return Decoder(m).decode(); }

Record a(const std::string &name, uint8_t last, uint32_t ttl = 60) { return {name, type::kA, ttl, Ipv4{10, 0, 0, last}}; }

Response answering(const Query &q) {
  Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.rd = q.rd;
  r.cd = q.cd;
  r.aa = true;
  r.question = q.question;
  r.edns = q.edns;
  return r;
}

Response responseFor(const std::string &name, uint16_t qtype) {
  Parsed p = parse(query(name, qtype));
  REQUIRE(p.status == Status::Ok);
  return answering(p.query);
}

std::string bytes(const Bytes &b) { return std::string(b.begin(), b.end()); }

}  // namespace

// ---- parseQuery ----

TEST_CASE("wire: a query of each type parses, the client's case kept") {
  for (uint16_t t : {type::kA, type::kAAAA, type::kSRV, type::kANY, type::kPTR, type::kTXT, type::kSOA, type::kNS}) {
    Parsed p = parse(query("Web.Marathon.MESOS", t, 0, 0xbeef));
    REQUIRE(p.status == Status::Ok);
    CHECK(p.hasQuestion);
    CHECK(p.query.id == 0xbeef);
    CHECK(p.query.opcode == 0);
    CHECK(p.query.rd);
    CHECK_FALSE(p.query.cd);
    CHECK(p.query.question.name == "Web.Marathon.MESOS");
    CHECK(p.query.question.type == t);
    CHECK(p.query.question.klass == kClassIN);
    CHECK_FALSE(p.query.edns);
    CHECK(p.query.udpSize == 512);
  }
}

TEST_CASE("wire: header flags and odd questions") {
  SECTION("CD set, RD clear") {
    Bytes b = query("a.b", type::kA);
    b[2] = 0x00;
    b[3] = 0x10;
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK_FALSE(p.query.rd);
    CHECK(p.query.cd);
  }
  SECTION("the root") {
    Parsed p = parse(query("", type::kSOA));
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.name.empty());
  }
  SECTION("another class is the server's business") {
    Bytes b = header(1, 0, 1);
    append(b, wireName("version.bind"));
    put16(b, type::kTXT);
    put16(b, 3);  // CH
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.klass == 3);
  }
  SECTION("bytes outside [!-~] are kept") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{3, 'a', 0x00, 0xff, 1, ' ', 0});
    put16(b, type::kA);
    put16(b, kClassIN);
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.name == std::string("a\0\xff. ", 5));
  }
  SECTION("a compressed question name (pointing into the header, at id 0's zero byte)") {
    Bytes b = header(0, 0, 1);
    append(b, Bytes{3, 'w', 'w', 'w', 0xc0, 0x00});
    put16(b, type::kA);
    put16(b, kClassIN);
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.name == "www");
  }
  SECTION("records in the other sections are skipped, compressed names too") {
    Bytes b = header(7, 0x0100, 1, 1, 1, 2);
    append(b, wireName("web.marathon.mesos"));
    put16(b, type::kA);
    put16(b, kClassIN);
    for (int i = 0; i < 3; ++i) {
      append(b, Bytes{2, 'n', static_cast<uint8_t>('0' + i), 0xc0, 0x0c});  // n0.web.marathon.mesos
      put16(b, type::kA);
      put16(b, kClassIN);
      put32(b, 60);
      put16(b, 4);
      append(b, Bytes{10, 0, 0, 1});
    }
    append(b, opt(1232));
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.name == "web.marathon.mesos");
    CHECK(p.query.edns);
  }
}

TEST_CASE("wire: EDNS0 in the additional section") {
  SECTION("buffer size and DO") {
    Bytes b = query("a.b", type::kA);
    b[11] = 1;
    append(b, opt(4096, 0, true));
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.edns);
    CHECK(p.query.udpSize == 4096);
    CHECK(p.query.dnssecOk);
    CHECK(p.query.ednsVersion == 0);
  }
  SECTION("a version other than 0 is kept, for BADVERS") {
    Bytes b = query("a.b", type::kA);
    b[11] = 1;
    append(b, opt(1232, 1));
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.ednsVersion == 1);
    CHECK_FALSE(p.query.dnssecOk);
    CHECK(p.query.udpSize == 1232);
  }
  SECTION("a size below 512 counts as 512") {
    for (uint16_t size : {0, 1, 511}) {
      Parsed p = parse(query("a.b", type::kA, size == 0 ? 0 : size));
      if (size != 0) {
        REQUIRE(p.status == Status::Ok);
        CHECK(p.query.edns);
      }
      CHECK(p.query.udpSize == 512);
    }
    Bytes b = query("a.b", type::kA);
    b[11] = 1;
    append(b, opt(0));
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.edns);
    CHECK(p.query.udpSize == 512);
  }
  SECTION("options (a cookie) are skipped") {
    Bytes b = query("a.b", type::kA);
    b[11] = 1;
    append(b, opt(1232, 0, false, Bytes{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}));
    Parsed p = parse(b);
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.edns);
  }
  SECTION("two OPT records: FORMERR, answered without EDNS") {
    Bytes b = query("a.b", type::kA, 1232);
    b[11] = 2;
    append(b, opt(4096));
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK(p.hasQuestion);
    CHECK_FALSE(p.query.edns);
    CHECK(p.query.udpSize == 512);
  }
  SECTION("an OPT owned by another name than the root: FORMERR") {
    Bytes b = query("a.b", type::kA);
    b[11] = 1;
    Bytes o = opt(1232);
    o.erase(o.begin());
    append(b, Bytes{0xc0, 0x0c});
    append(b, o);
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.query.edns);
  }
  SECTION("an OPT in the answer section: FORMERR") {
    Bytes b = query("a.b", type::kA);
    b[7] = 1;
    append(b, opt(1232));
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("an OPT whose options run past the end: FORMERR") {
    Bytes b = query("a.b", type::kA, 1232);
    b[b.size() - 1] = 4;
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.query.edns);
  }
}

TEST_CASE("wire: malformed queries") {
  SECTION("shorter than a header: dropped") {
    Bytes b = query("a.b", type::kA);
    for (size_t n = 0; n < 12; ++n) {
      CHECK(parseQuery(b.data(), n).status == Status::Drop);
    }
    CHECK(parseQuery(nullptr, 0).status == Status::Drop);
  }
  SECTION("a response (QR set): dropped") {
    Bytes b = query("a.b", type::kA);
    b[2] |= 0x80;
    CHECK(parse(b).status == Status::Drop);
    b[2] |= 0x10;  // opcode 2 too
    CHECK(parse(b).status == Status::Drop);
  }
  SECTION("every truncation of a good query is FORMERR, never a read past the end") {
    Bytes b = query("web.marathon.mesos", type::kSRV, 1232);
    for (size_t n = 12; n < b.size(); ++n) {
      // A copy of exactly n bytes, so that ASan sees an over-read.
      std::vector<uint8_t> cut(b.begin(), b.begin() + static_cast<long>(n));
      Parsed p = parseQuery(cut.data(), cut.size());
      CHECK(p.status == Status::FormErr);
      CHECK(p.query.id == 0x1234);
    }
    CHECK(parse(b).status == Status::Ok);
  }
  SECTION("a label's length past the end") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{3, 'w', 'w', 'w', 40, 'x'});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("a pointer forwards") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{0xc0, 18, 0, 1, 0, 1, 1, 'a', 0});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("a pointer to itself") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{0xc0, 12, 0, 1, 0, 1});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("a pointer back to its own name's start, after a label") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{1, 'a', 0xc0, 12, 0, 1, 0, 1});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("two pointers pointing at each other (in the additional section)") {
    Bytes b = header(1, 0, 1, 0, 0, 1);
    append(b, wireName("a"));  // 12..14
    put16(b, type::kA);
    put16(b, kClassIN);
    // at 19: a label, then a pointer to 23, where a pointer to 19 sits.
    append(b, Bytes{1, 'x', 0xc0, 23, 0xc0, 19});
    put16(b, type::kA);
    put16(b, kClassIN);
    put32(b, 0);
    put16(b, 0);
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("a pointer cut after its first byte") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{1, 'a', 0xc0});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("the reserved label types 0x40 and 0x80") {
    for (uint8_t kind : {0x40, 0x80}) {
      Bytes b = header(1, 0, 1);
      append(b, Bytes{static_cast<uint8_t>(kind | 1), 'a', 0, 0, 1, 0, 1});
      CHECK(parse(b).status == Status::FormErr);
    }
  }
  SECTION("a label holding a dot") {
    Bytes b = header(1, 0, 1);
    append(b, Bytes{3, 'a', '.', 'b', 0, 0, 1, 0, 1});
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.hasQuestion);
  }
  SECTION("labels of 63 bytes pass, of 64 do not") {
    CHECK(parse(query(std::string(63, 'x') + ".mesos", type::kA)).status == Status::Ok);
    Bytes b = header(1, 0, 1);
    b.push_back(64);
    b.insert(b.end(), 64, 'x');
    append(b, Bytes{0, 0, 1, 0, 1});
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("names of 255 bytes pass, of 256 do not") {
    // 3 labels of 63 and one of 61: 4 + 63*3 + 61 + 1 = 255 bytes on the wire.
    std::string name255 = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
                          std::string(61, 'd');
    REQUIRE(wireName(name255).size() == 255);
    Parsed p = parse(query(name255, type::kA));
    REQUIRE(p.status == Status::Ok);
    CHECK(p.query.question.name == name255);
    CHECK(p.query.question.name.size() == 253);
    std::string name256 = name255 + "e";
    REQUIRE(wireName(name256).size() == 256);
    CHECK(parse(query(name256, type::kA)).status == Status::FormErr);
  }
  SECTION("a name over 255 bytes made of pointers") {
    // Each name is a label of 20 and a pointer to the one before: the
    // 13th is 13 * 21 + 3 = 276 bytes long.
    Bytes b = header(1, 0, 1, 0, 0, 13);
    append(b, wireName("q"));
    put16(b, type::kA);
    put16(b, kClassIN);
    size_t prev = 12;
    for (int i = 0; i < 13; ++i) {
      size_t here = b.size();
      b.push_back(20);
      b.insert(b.end(), 20, 'x');
      b.push_back(static_cast<uint8_t>(0xc0 | prev >> 8));
      b.push_back(static_cast<uint8_t>(prev));
      prev = here;
      put16(b, type::kA);
      put16(b, kClassIN);
      put32(b, 0);
      put16(b, 0);
    }
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("QDCOUNT 0 and 2") {
    Bytes b = query("a.b", type::kA);
    b[5] = 0;
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.hasQuestion);
    b[5] = 2;
    p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.hasQuestion);
    b[5] = 2;
    append(b, wireName("c.d"));
    put16(b, type::kA);
    put16(b, kClassIN);
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("extra bytes after the last record") {
    Bytes b = query("a.b", type::kA);
    b.push_back(0);
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK(p.hasQuestion);
    CHECK(p.query.question.name == "a.b");
  }
  SECTION("counts beyond what the packet holds") {
    Bytes b = query("a.b", type::kA);
    b[6] = b[7] = 0xff;
    CHECK(parse(b).status == Status::FormErr);
    b = query("a.b", type::kA, 1232);
    b[10] = b[11] = 0xff;
    CHECK(parse(b).status == Status::FormErr);
  }
  SECTION("a question without its type and class") {
    Bytes b = header(1, 0, 1);
    append(b, wireName("a.b"));
    b.push_back(0);
    Parsed p = parse(b);
    CHECK(p.status == Status::FormErr);
    CHECK_FALSE(p.hasQuestion);
  }
  SECTION("a record whose rdata runs past the end") {
    Bytes b = query("a.b", type::kA);
    b[7] = 1;
    append(b, Bytes{0xc0, 12});
    put16(b, type::kA);
    put16(b, kClassIN);
    put32(b, 0);
    put16(b, 5);
    append(b, Bytes{1, 2, 3, 4});
    CHECK(parse(b).status == Status::FormErr);
  }
}

TEST_CASE("wire: another opcode is NOTIMP") {
  SECTION("STATUS (2) with a question") {
    Bytes b = query("a.b", type::kA, 1232);
    b[2] = static_cast<uint8_t>(2 << 3 | 1);
    Parsed p = parse(b);
    CHECK(p.status == Status::NotImp);
    CHECK(p.query.opcode == 2);
    CHECK(p.hasQuestion);
    CHECK(p.query.question.name == "a.b");
    CHECK(p.query.edns);
  }
  SECTION("NOTIFY (4) and UPDATE (5) without a parsable question") {
    for (uint8_t opcode : {4, 5}) {
      Bytes b = header(9, static_cast<uint16_t>(opcode << 11), 0);
      Parsed p = parse(b);
      CHECK(p.status == Status::NotImp);
      CHECK_FALSE(p.hasQuestion);
      b = header(9, static_cast<uint16_t>(opcode << 11), 1);
      append(b, Bytes{5, 'a'});
      p = parse(b);
      CHECK(p.status == Status::NotImp);
      CHECK_FALSE(p.hasQuestion);
      CHECK(p.query.id == 9);
    }
  }
}

// ---- encode ----

TEST_CASE("wire: encode round trips every record type") {
  SECTION("A") {
    Response r = responseFor("Web.Marathon.mesos", type::kA);
    r.answer.push_back(a("Web.Marathon.mesos", 7, 30));
    Message m = decode(encode(r, 512));
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].name == "Web.Marathon.mesos");
    CHECK(m.answer[0].type == type::kA);
    CHECK(m.answer[0].klass == kClassIN);
    CHECK(m.answer[0].ttl == 30);
    CHECK(m.answer[0].rdata == Bytes{10, 0, 0, 7});
  }
  SECTION("AAAA") {
    Response r = responseFor("web.marathon.mesos", type::kAAAA);
    Ipv6 ip{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    r.answer.push_back({"web.marathon.mesos", type::kAAAA, 5, ip});
    Message m = decode(encode(r, 512));
    REQUIRE(m.answer.size() == 1);
    CHECK(m.answer[0].rdata == Bytes(ip.begin(), ip.end()));
  }
  SECTION("NS, CNAME and PTR: a compressed name") {
    for (uint16_t t : {type::kNS, type::kCNAME, type::kPTR}) {
      Response r = responseFor("web.marathon.mesos", t);
      r.answer.push_back({"web.marathon.mesos", t, 5, std::string("ns1.marathon.mesos")});
      Message m = decode(encode(r, 512));
      REQUIRE(m.answer.size() == 1);
      CHECK(m.answer[0].type == t);
      CHECK(m.answer[0].target == "ns1.marathon.mesos");
      CHECK(m.answer[0].targetCompressed);
      CHECK(m.answer[0].rdata == Bytes{3, 'n', 's', '1', 0xc0, 16});  // "marathon.mesos" in the question
    }
  }
  SECTION("SOA") {
    Response r = responseFor("nothing.mesos", type::kA);
    r.rcode = Rcode::NXDomain;
    r.authority.push_back({"mesos", type::kSOA, 60, Soa{"ns1.mesos", "root.ns1.mesos", 1, 2, 3, 4, 5}});
    Message m = decode(encode(r, 512));
    CHECK(m.rcode() == 3);
    REQUIRE(m.authority.size() == 1);
    const Rr &soa = m.authority[0];
    CHECK(soa.name == "mesos");
    CHECK(soa.soa.mname == "ns1.mesos");
    CHECK(soa.soa.rname == "root.ns1.mesos");
    CHECK(soa.soa.serial == 1);
    CHECK(soa.soa.refresh == 2);
    CHECK(soa.soa.retry == 3);
    CHECK(soa.soa.expire == 4);
    CHECK(soa.soa.minimum == 5);
    CHECK(soa.targetCompressed);
  }
  SECTION("SRV: the target is not compressed, a later name points into it") {
    Response r = responseFor("_web._tcp.marathon.mesos", type::kSRV);
    r.answer.push_back({"_web._tcp.marathon.mesos", type::kSRV, 60, Srv{1, 2, 31000, "web-abc12-s1.marathon.mesos"}});
    r.additional.push_back(a("web-abc12-s1.marathon.mesos", 9));
    std::string wire = encode(r, 512);
    Message m = decode(wire);
    REQUIRE(m.answer.size() == 1);
    const Rr &srv = m.answer[0];
    CHECK(srv.priority == 1);
    CHECK(srv.weight == 2);
    CHECK(srv.port == 31000);
    CHECK(srv.target == "web-abc12-s1.marathon.mesos");
    CHECK_FALSE(srv.targetCompressed);
    REQUIRE(m.additional.size() == 1);
    CHECK(m.additional[0].name == "web-abc12-s1.marathon.mesos");
    // The additional A's owner is one pointer to the SRV's target.
    size_t target = wire.find("\x0cweb-abc12-s1");
    REQUIRE(target != std::string::npos);
    std::string owner = {static_cast<char>(0xc0 | target >> 8), static_cast<char>(target)};
    CHECK(wire.find(owner + std::string("\x00\x01\x00\x01", 4)) != std::string::npos);
  }
  SECTION("TXT: character-strings, the empty list as one empty string") {
    Response r = responseFor("web.marathon.mesos", type::kTXT);
    r.answer.push_back({"web.marathon.mesos", type::kTXT, 5, std::vector<std::string>{"a=1", "", std::string(255, 'z')}});
    r.answer.push_back({"web.marathon.mesos", type::kTXT, 5, std::vector<std::string>{}});
    Message m = decode(encode(r, 4096));
    REQUIRE(m.answer.size() == 2);
    CHECK(m.answer[0].txt == std::vector<std::string>{"a=1", "", std::string(255, 'z')});
    CHECK(m.answer[1].txt == std::vector<std::string>{""});
  }
}

TEST_CASE("wire: encode's header and question") {
  Parsed p = parse(query("Web.Marathon.mesos", type::kA, 0, 0xabcd));
  REQUIRE(p.status == Status::Ok);
  Response r = answering(p.query);
  r.ra = false;
  r.cd = true;
  r.answer.push_back(a("web.marathon.mesos", 1));
  std::string wire = encode(r, 512);
  Message m = decode(wire);
  CHECK(m.id == 0xabcd);
  CHECK(m.qr());
  CHECK(m.aa());
  CHECK(m.rd());
  CHECK(m.cd());
  CHECK_FALSE(m.ra());
  CHECK_FALSE(m.tc());
  CHECK(m.opcode() == 0);
  CHECK(m.rcode() == 0);
  REQUIRE(m.questions.size() == 1);
  CHECK(m.questions[0].name == "Web.Marathon.mesos");  // as the client wrote it
  CHECK(m.questions[0].type == type::kA);
  CHECK(m.questions[0].klass == kClassIN);
  // Compressed to the question, the answer reads with the question's case.
  CHECK(m.answer[0].name == "Web.Marathon.mesos");
  CHECK(wire.substr(12, 20) == bytes(wireName("Web.Marathon.mesos")));
}

TEST_CASE("wire: compression") {
  const std::string q = "web.marathon.mesos";
  SECTION("three records for the question's name are three pointers to it") {
    Response r = responseFor(q, type::kA);
    for (uint8_t i = 1; i <= 3; ++i) {
      r.answer.push_back(a(q, i));
    }
    std::string wire = encode(r, 512);
    size_t nameWire = wireName(q).size();
    size_t uncompressed = 12 + nameWire + 4 + 3 * (nameWire + 10 + 4);
    CHECK(wire.size() == 12 + nameWire + 4 + 3 * (2 + 10 + 4));
    CHECK(wire.size() < uncompressed);
    for (size_t i = 0; i < 3; ++i) {
      size_t at = 12 + nameWire + 4 + i * 16;
      CHECK(wire.substr(at, 2) == "\xc0\x0c");
    }
    Message m = decode(wire);
    REQUIRE(m.answer.size() == 3);
    for (const Rr &rr : m.answer) {
      CHECK(rr.name == q);
    }
  }
  SECTION("the longest suffix, matched ignoring case, written as given before it") {
    Response r = responseFor("WEB.MARATHON.MESOS", type::kA);
    r.answer.push_back(a("Other.web.marathon.mesos", 1));
    r.answer.push_back(a("x.Marathon.Mesos", 2));
    r.answer.push_back(a("y.other.WEB.marathon.mesos", 3));
    std::string wire = encode(r, 512);
    size_t at = 12 + 20 + 4;
    CHECK(wire.substr(at, 8) == std::string("\x05Other\xc0\x0c"));
    at += 8 + 14;
    CHECK(wire.substr(at, 4) == std::string("\x01x\xc0\x10"));  // MARATHON.MESOS at 16
    at += 4 + 14;
    CHECK(wire.substr(at, 4) == std::string("\x01y\xc0") + static_cast<char>(36));  // Other... at 36
    Message m = decode(wire);
    CHECK(m.answer[0].name == "Other.WEB.MARATHON.MESOS");
    CHECK(m.answer[1].name == "x.MARATHON.MESOS");
    CHECK(m.answer[2].name == "y.Other.WEB.MARATHON.MESOS");
  }
  SECTION("a label is not a suffix of a longer label") {
    Response r = responseFor("b.mesos", type::kA);
    r.answer.push_back(a("ab.mesos", 1));
    std::string wire = encode(r, 512);
    CHECK(wire.find(std::string("\x02" "ab\xc0\x0e")) != std::string::npos);  // mesos at 14, not "b.mesos"
    CHECK(decode(wire).answer[0].name == "ab.mesos");
  }
  SECTION("names whose suffix hashes collide are compared byte by byte") {
    // FNV-1a of "\x08oaakwuuu" and "\x08nliawlux" are both 0xb22788f9.
    Response r = responseFor("oaakwuuu", type::kA);
    r.answer.push_back(a("nliawlux", 1));
    r.answer.push_back(a("OAAKWUUU", 2));
    std::string wire = encode(r, 512);
    CHECK(wire.find("\x08nliawlux") != std::string::npos);
    Message m = decode(wire);
    CHECK(m.answer[0].name == "nliawlux");
    CHECK(m.answer[1].name == "oaakwuuu");
  }
  SECTION("the root is one zero byte, never a pointer") {
    Response r = responseFor("", type::kNS);
    r.answer.push_back({"", type::kNS, 5, std::string("ns1")});
    std::string wire = encode(r, 512);
    CHECK(wire.substr(12, 5) == std::string("\x00\x00\x02\x00\x01", 5));
    CHECK(wire.substr(17, 1) == std::string("\x00", 1));
    Message m = decode(wire);
    CHECK(m.answer[0].name.empty());
    CHECK(m.answer[0].target == "ns1");
  }
  SECTION("past offset 0x3fff nothing new is a target, older targets still are") {
    Response r = responseFor(q, type::kTXT);
    std::vector<std::string> big(64, std::string(255, 't'));  // 16 KiB of rdata
    r.answer.push_back({q, type::kTXT, 5, big});
    r.answer.push_back(a("late.example", 1));
    r.answer.push_back(a("late.example", 2));
    r.answer.push_back(a("z.web.marathon.mesos", 3));
    std::string wire = encode(r, 65535);
    REQUIRE(wire.size() > 0x4000);
    Message m = decode(wire);
    REQUIRE(m.answer.size() == 4);
    CHECK(m.answer[1].name == "late.example");
    CHECK(m.answer[2].name == "late.example");
    CHECK(m.answer[3].name == "z.web.marathon.mesos");
    // Both late.example owners are written in full.
    size_t first = wire.find("\x04late\x07" "example");
    REQUIRE(first != std::string::npos);
    CHECK(wire.find("\x04late\x07" "example", first + 1) != std::string::npos);
    CHECK(wire.find(std::string("\x01z\xc0\x0c")) != std::string::npos);
  }
  SECTION("more names than the table holds still encode") {
    Response r = responseFor(q, type::kA);
    for (int i = 0; i < 300; ++i) {
      r.answer.push_back(a("n" + std::to_string(i) + ".x" + std::to_string(i) + ".mesos", 1));
    }
    Message m = decode(encode(r, 65535));
    REQUIRE(m.answer.size() == 300);
    CHECK(m.answer[299].name == "n299.x299.mesos");
  }
}

TEST_CASE("wire: EDNS0 in answers") {
  Response r = responseFor("a.mesos", type::kA);
  r.answer.push_back(a("a.mesos", 1));
  SECTION("no OPT without EDNS") {
    Message m = decode(encode(r, 512));
    CHECK(m.additional.empty());
  }
  SECTION("an OPT last, with the size this server advertises") {
    r.edns = true;
    r.additional.push_back(a("b.mesos", 2));
    Message m = decode(encode(r, 512));
    REQUIRE(m.additional.size() == 2);
    const Rr &o = m.additional[1];
    CHECK(o.name.empty());
    CHECK(o.type == type::kOPT);
    CHECK(o.klass == 1232);
    CHECK(o.ttl == 0);
    CHECK(o.rdata.empty());
    r.ednsSize = 4096;
    CHECK(decode(encode(r, 512)).additional[1].klass == 4096);
    r.ednsSize = 100;
    CHECK(decode(encode(r, 512)).additional[1].klass == 512);
  }
  SECTION("BADVERS: rcode 16 split between the header and the OPT") {
    r.edns = true;
    r.answer.clear();
    r.extendedRcode = 16;
    Message m = decode(encode(r, 512));
    CHECK(m.rcode() == 0);
    REQUIRE(m.additional.size() == 1);
    CHECK(m.additional[0].ttl == 0x01000000u);
  }
}

TEST_CASE("wire: truncation") {
  const std::string q = "web.marathon.mesos";
  SECTION("too many answers: none sent, TC set, question and OPT kept") {
    for (bool edns : {false, true}) {
      Response r = responseFor(q, type::kA);
      r.edns = edns;
      for (int i = 0; i < 100; ++i) {
        r.answer.push_back(a(q, static_cast<uint8_t>(i)));
      }
      r.additional.push_back(a("x.mesos", 1));
      std::string wire = encode(r, 512);
      CHECK(wire.size() <= 512);
      CHECK(truncated(wire));
      Message m = decode(wire);
      CHECK(m.tc());
      CHECK(m.answer.empty());
      CHECK(m.authority.empty());
      REQUIRE(m.questions.size() == 1);
      CHECK(m.questions[0].name == q);
      REQUIRE(m.additional.size() == (edns ? 1u : 0u));
      if (edns) {
        CHECK(m.additional[0].type == type::kOPT);
      }
    }
  }
  SECTION("additional records go first, from the end, the OPT stays, no TC") {
    Response r = responseFor(q, type::kSRV);
    r.edns = true;
    for (int i = 0; i < 5; ++i) {
      r.answer.push_back({q, type::kSRV, 5, Srv{0, 0, static_cast<uint16_t>(31000 + i), "t" + std::to_string(i) + ".mesos"}});
    }
    for (int i = 0; i < 60; ++i) {
      r.additional.push_back(a("t" + std::to_string(i % 5) + ".mesos", static_cast<uint8_t>(i)));
    }
    std::string full = encode(r, 65535);
    REQUIRE(full.size() > 512);
    std::string wire = encode(r, 512);
    CHECK(wire.size() <= 512);
    CHECK(wire.size() > 512 - 16);  // one more A (16 bytes) would not fit
    CHECK_FALSE(truncated(wire));
    Message m = decode(wire);
    CHECK(m.answer.size() == 5);
    REQUIRE(m.additional.size() >= 2);
    REQUIRE(m.additional.size() < 61);
    CHECK(m.additional.back().type == type::kOPT);
    for (size_t i = 0; i + 1 < m.additional.size(); ++i) {
      CHECK(m.additional[i].rdata.back() == i);  // the first ones kept, in order
    }
  }
  SECTION("answer and authority fit but together do not: TC, neither sent") {
    Response r = responseFor(q, type::kA);
    for (int i = 0; i < 20; ++i) {
      r.answer.push_back(a(q, static_cast<uint8_t>(i)));
      r.authority.push_back({q, type::kNS, 5, std::string("ns" + std::to_string(i) + ".mesos")});
    }
    std::string wire = encode(r, 512);
    CHECK(wire.size() <= 512);
    Message m = decode(wire);
    CHECK(m.tc());
    CHECK(m.answer.empty());
    CHECK(m.authority.empty());
  }
  SECTION("a limit below 512 counts as 512") {
    Response r = responseFor(q, type::kA);
    for (int i = 0; i < 25; ++i) {
      r.answer.push_back(a(q, static_cast<uint8_t>(i)));
    }
    for (size_t limit : {size_t(0), size_t(100), size_t(511)}) {
      std::string wire = encode(r, limit);
      CHECK(wire.size() > 400);
      CHECK(wire.size() <= 512);
      CHECK_FALSE(truncated(wire));
    }
  }
  SECTION("no message over 65535 bytes, whatever the limit") {
    Response r = responseFor(q, type::kTXT);
    std::vector<std::string> big(200, std::string(255, 't'));  // 51 KiB a record
    r.answer.push_back({q, type::kTXT, 5, big});
    r.answer.push_back({q, type::kTXT, 5, big});
    std::string wire = encode(r, std::numeric_limits<size_t>::max());
    CHECK(wire.size() <= 65535);
    CHECK(truncated(wire));
    r.answer.pop_back();
    wire = encode(r, std::numeric_limits<size_t>::max());
    CHECK_FALSE(truncated(wire));
    CHECK(decode(wire).answer.size() == 1);
  }
  SECTION("random responses: never over the limit, always well formed") {
    std::mt19937 rng(20240601);
    auto pick = [&rng](size_t n) { return static_cast<size_t>(rng() % n); };
    const std::vector<std::string> names = {"web.marathon.mesos", "WEB.marathon.mesos", "_web._tcp.marathon.mesos",
                                            "t1.web.marathon.mesos", "mesos", "", "leader.mesos",
                                            std::string(63, 'l') + ".marathon.mesos"};
    for (int round = 0; round < 2000; ++round) {
      Response r;
      r.id = static_cast<uint16_t>(round);
      r.question = Question{names[pick(names.size())], type::kANY, kClassIN};
      r.edns = pick(2) == 0;
      for (auto *section : {&r.answer, &r.authority, &r.additional}) {
        size_t n = pick(40);
        for (size_t i = 0; i < n; ++i) {
          const std::string &name = names[pick(names.size())];
          switch (pick(5)) {
            case 0:
              section->push_back(a(name, static_cast<uint8_t>(i)));
              break;
            case 1:
              section->push_back({name, type::kSRV, 5, Srv{1, 1, 80, names[pick(names.size())]}});
              break;
            case 2:
              section->push_back({name, type::kCNAME, 5, names[pick(names.size())]});
              break;
            case 3:
              section->push_back({name, type::kTXT, 5, std::vector<std::string>(pick(4), std::string(pick(256), 'x'))});
              break;
            default:
              section->push_back({name, type::kSOA, 5, Soa{names[pick(names.size())], "hostmaster.mesos", 1, 2, 3, 4, 5}});
              break;
          }
        }
      }
      size_t limit = pick(3) == 0 ? pick(600) : pick(5000);
      std::string wire = encode(r, limit);
      INFO("round " << round << " limit " << limit);
      REQUIRE(wire.size() <= std::max<size_t>(limit, 512));
      Message m = decode(wire);
      CHECK(m.id == r.id);
      REQUIRE(m.questions.size() == 1);
      CHECK(lower(m.questions[0].name) == lower(r.question->name));
      if (m.tc()) {
        CHECK(m.answer.empty());
        CHECK(m.authority.empty());
      } else {
        CHECK(m.answer.size() == r.answer.size());
        CHECK(m.authority.size() == r.authority.size());
      }
      CHECK((!m.additional.empty() && m.additional.back().type == type::kOPT) == r.edns);
      // The same bytes read as a query (QR cleared) parse: every pointer
      // points backwards, every length is right.
      std::string asQuery = wire;
      asQuery[2] = static_cast<char>(asQuery[2] & 0x7f);
      Parsed p = parse(asQuery);
      CHECK(p.status == Status::Ok);
      CHECK(p.query.edns == r.edns);
    }
  }
}

TEST_CASE("wire: records that cannot be encoded are left out") {
  Response r = responseFor("a.mesos", type::kA);
  r.answer.push_back(a(std::string(64, 'x') + ".mesos", 1));                // label over 63
  r.answer.push_back(a("a..mesos", 2));                                     // empty label
  r.answer.push_back(a(".mesos", 3));                                       // empty label
  const std::string l63(63, 'x');
  r.answer.push_back(a(l63 + "." + l63 + "." + l63 + "." + l63 + ".mesos", 4));  // 261 bytes
  r.answer.push_back({"a.mesos", type::kA, 5, Ipv6{}});                     // data of another type
  r.answer.push_back({"a.mesos", type::kSRV, 5, std::string("b.mesos")});
  r.answer.push_back({"a.mesos", type::kTXT, 5, std::vector<std::string>{std::string(256, 'x')}});
  r.answer.push_back({"a.mesos", 99, 5, std::string("b.mesos")});           // a type encode does not know
  r.answer.push_back({"a.mesos", type::kCNAME, 5, std::string(64, 'x')});   // a bad name in the data
  r.answer.push_back({"a.mesos", type::kSOA, 5, Soa{"ns1.mesos", "a..b", 1, 2, 3, 4, 5}});
  r.answer.push_back(a("a.mesos.", 5));                                     // a trailing dot is tolerated
  r.answer.push_back(a("A.mesos", 6));
  std::string wire = encode(r, 512);
  Message m = decode(wire);
  REQUIRE(m.answer.size() == 2);
  CHECK(m.answer[0].rdata == Bytes{10, 0, 0, 5});
  CHECK(m.answer[1].rdata == Bytes{10, 0, 0, 6});
  // The two pointed at the question: nothing of the records left out stayed a target.
  CHECK(wire.size() == 12 + 9 + 4 + 2 * 16);
  SECTION("a question that cannot be written is left out") {
    Response bad;
    bad.question = Question{"a..b", type::kA, kClassIN};
    Message e = decode(encode(bad, 512));
    CHECK(e.questions.empty());
  }
}

TEST_CASE("wire: encodeError") {
  SECTION("FORMERR without a question") {
    std::string wire = encodeError(0x4242, 0, true, Rcode::FormErr, std::nullopt, false);
    CHECK(wire == bytes(header(0x4242, 0x8101, 0)));
  }
  SECTION("NOTIMP with the question, the opcode and OPT") {
    Question q{"Status.Mesos", type::kA, kClassIN};
    std::string wire = encodeError(7, 2, false, Rcode::NotImp, q, true);
    Message m = decode(wire);
    CHECK(m.id == 7);
    CHECK(m.qr());
    CHECK(m.opcode() == 2);
    CHECK_FALSE(m.rd());
    CHECK_FALSE(m.aa());
    CHECK(m.rcode() == 4);
    REQUIRE(m.questions.size() == 1);
    CHECK(m.questions[0].name == "Status.Mesos");
    REQUIRE(m.additional.size() == 1);
    CHECK(m.additional[0].type == type::kOPT);
    CHECK(m.additional[0].klass == 1232);
  }
  SECTION("from a parsed query") {
    Bytes b = query("a.b", type::kA, 1232);
    b.push_back(0);  // extra byte
    Parsed p = parse(b);
    REQUIRE(p.status == Status::FormErr);
    std::string wire = encodeError(p.query.id, p.query.opcode, p.query.rd, Rcode::FormErr,
                                   p.hasQuestion ? std::optional<Question>(p.query.question) : std::nullopt,
                                   p.query.edns);
    Message m = decode(wire);
    CHECK(m.id == 0x1234);
    CHECK(m.rcode() == 1);
    CHECK(m.questions.size() == 1);
    CHECK(m.additional.size() == 1);
  }
}

TEST_CASE("wire: helpers") {
  CHECK(lower("Web.MARATHON.mesos-1_X") == "web.marathon.mesos-1_x");
  CHECK(lower(std::string("\xc3\x89", 2)) == std::string("\xc3\x89", 2));  // ASCII only
  CHECK(messageId("") == 0);
  CHECK(messageId("\x12") == 0);
  CHECK(messageId("\x12\x34\x01") == 0x1234);
  CHECK(withId("\x12\x34\x01", 0xabcd) == "\xab\xcd\x01");
  CHECK(withId("\x12", 0xabcd) == "\x12");
  CHECK_FALSE(truncated(""));
  CHECK_FALSE(truncated(std::string("\0\0\x80", 3)));
  CHECK(truncated(std::string("\0\0\x82", 3)));
}
