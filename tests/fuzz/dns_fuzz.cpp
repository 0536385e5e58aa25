// libFuzzer target: the DNS module's wire format (plugins/modules/dns/wire.h)
// on what a client can send to port 53. The input is one packet, as a UDP
// datagram (or a TCP message without its length prefix). parseQuery never
// reads outside it (ASan) and answers Ok, FormErr, NotImp or Drop; a
// FORMERR or NOTIMP answer is the header, the question and an OPT; for a
// query, an answer with records under the question's name (the same name,
// names below it, an SRV target with an A for it: compression at work, and
// names too long to write) is encoded within the client's size, 512 without
// EDNS0 or 65535 as over TCP. No answer is over its limit, and each reads
// back (with QR cleared) through parseQuery as a well-formed message with
// the same question: every pointer points backwards, every count and length
// is right.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "plugins/modules/dns/wire.h"

using namespace dcos::dns;

namespace {

[[noreturn]] void fail(const char *what, const std::string &detail) {
  std::fprintf(stderr, "dns_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string hex(const std::string &bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s += kDigits[c >> 4];
    s += kDigits[c & 0xf];
  }
  return s;
}

// `answer` read back as a query (QR cleared): well formed, with `question`
// (or none), OPT as `edns` says.
void checkReadsBack(const std::string &answer, const Question *question, bool edns) {
  if (answer.size() < 12 || (answer[2] & 0x80) == 0) {
    fail("answer without a header or QR", hex(answer));
  }
  std::string asQuery = answer;
  asQuery[2] = static_cast<char>(asQuery[2] & 0x7f);
  Parsed back = parseQuery(reinterpret_cast<const uint8_t *>(asQuery.data()), asQuery.size());
  if (question == nullptr) {
    if (back.hasQuestion || back.status == Parsed::Status::Ok) {
      fail("an answer without a question reads back with one", hex(answer));
    }
    return;
  }
  bool ok = back.status == Parsed::Status::Ok || (back.status == Parsed::Status::NotImp && back.query.opcode != 0);
  if (!ok || !back.hasQuestion || back.query.question.name != question->name ||
      back.query.question.type != question->type || back.query.question.klass != question->klass) {
    fail("answer does not read back with its question", hex(answer));
  }
  if (back.query.edns != edns) {
    fail("answer's OPT is not as asked", hex(answer));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string packet(reinterpret_cast<const char *>(data), size);
  Parsed p = parseQuery(data, size);
  const Query &q = p.query;
  if (size >= 2 && messageId(packet) != q.id && p.status != Parsed::Status::Drop) {
    fail("id differs from messageId", hex(packet));
  }
  if (messageId(withId(packet, 0xbeef)) != (size >= 2 ? 0xbeef : 0) || withId(packet, 0).size() != size) {
    fail("withId", hex(packet));
  }
  if (size < 12 && p.status != Parsed::Status::Drop) {
    fail("a packet shorter than a header is not dropped", hex(packet));
  }

  switch (p.status) {
    case Parsed::Status::Drop:
      return 0;
    case Parsed::Status::FormErr:
    case Parsed::Status::NotImp: {
      std::optional<Question> question;
      if (p.hasQuestion) {
        question = q.question;
      }
      Rcode rcode = p.status == Parsed::Status::FormErr ? Rcode::FormErr : Rcode::NotImp;
      std::string answer = encodeError(q.id, q.opcode, q.rd, rcode, question, q.edns);
      if (answer.size() > 512 || messageId(answer) != q.id || truncated(answer)) {
        fail("error answer", hex(packet) + "\n" + hex(answer));
      }
      checkReadsBack(answer, question ? &*question : nullptr, q.edns);
      return 0;
    }
    case Parsed::Status::Ok:
      break;
  }
  if (!p.hasQuestion || q.opcode != 0 || (!q.edns && q.udpSize != 512) || q.udpSize < 512) {
    fail("an Ok query without its question or with an impossible size", hex(packet));
  }

  // An answer shaped by the packet: its id's low bits pick how many records
  // (up to 63: enough to go past 512 bytes and past 4096), bit 6 whether it
  // goes over TCP.
  const std::string &name = q.question.name;
  const std::string key = lower(name);
  if (key.size() != name.size()) {
    fail("lower changed a name's length", hex(packet));
  }
  Response r;
  r.id = q.id;
  r.opcode = q.opcode;
  r.aa = true;
  r.rd = q.rd;
  r.cd = q.cd;
  r.question = q.question;
  r.edns = q.edns;
  r.extendedRcode = q.ednsVersion != 0 ? 16 : 0;
  const size_t count = q.id & 0x3f;
  const std::string sub = name.empty() ? "sub" : "sub." + name;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t last = static_cast<uint8_t>(i);
    switch (i % 6) {
      case 0:
        r.answer.push_back({name, type::kA, 60, Ipv4{10, 0, 0, last}});
        break;
      case 1:
        r.answer.push_back({name, type::kAAAA, 60, Ipv6{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last}});
        break;
      case 2: {
        // The target is not compressed; the additional A for it points into it.
        std::string target = "t" + std::to_string(i) + "." + sub;
        r.answer.push_back({name, type::kSRV, 60, Srv{0, 1, static_cast<uint16_t>(31000 + i), target}});
        r.additional.push_back({target, type::kA, 60, Ipv4{10, 1, 0, last}});
        break;
      }
      case 3:
        r.answer.push_back({name, type::kCNAME, 60, "alias-" + std::to_string(i) + "." + name});
        break;
      case 4: {
        std::vector<std::string> txt;
        txt.emplace_back(packet.substr(0, std::min<size_t>(packet.size(), 255)));
        txt.emplace_back(std::to_string(i));
        r.answer.push_back({sub, type::kTXT, 60, txt});
        break;
      }
      default:
        r.authority.push_back({name, type::kNS, 60, "ns1." + sub});
        r.additional.push_back({"ns1." + sub, type::kA, 60, Ipv4{10, 2, 0, last}});
        break;
    }
  }
  if (count == 0) {
    r.rcode = Rcode::NXDomain;
    r.authority.push_back({name, type::kSOA, 60, Soa{"ns1." + name, "hostmaster." + name, 1, 60, 30, 86400, 60}});
  }
  const bool tcp = (q.id & 0x40) != 0;
  const size_t limit = tcp ? 65535 : q.udpSize;
  std::string answer = encode(r, limit);
  if (answer.size() > limit) {
    fail("answer over its limit", hex(packet) + "\nlimit " + std::to_string(limit) + ", " +
                                      std::to_string(answer.size()) + " bytes: " + hex(answer));
  }
  if (messageId(answer) != q.id) {
    fail("answer's id", hex(packet));
  }
  if (truncated(answer) && (answer[6] != 0 || answer[7] != 0 || answer[8] != 0 || answer[9] != 0)) {
    fail("a truncated answer with answer or authority records", hex(packet) + "\n" + hex(answer));
  }
  checkReadsBack(answer, &q.question, q.edns);
  return 0;
}
