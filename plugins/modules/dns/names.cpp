#include "plugins/modules/dns/names.h"

#include <Poco/DigestEngine.h>
#include <Poco/SHA1Engine.h>

#include <algorithm>
#include <vector>

namespace dcos::dns {

namespace {

constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxName = 253;  // text form, no trailing dot: 255 bytes on the wire
// Port names are cut as Mesos-DNS cuts any label (63); L's budget leaves
// room for port names of up to 15 bytes (IANA's service names), and a
// longer one whose SRV name would not fit makes no record (zone.cpp).
constexpr size_t kPortLabelBudget = 15;
constexpr size_t kHashLength = 5;
constexpr const char kZbase32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";

// What Mesos-DNS's mapping makes of one byte: its character, or 0 to drop
// it. Bytes of multi-byte UTF-8 characters (and invalid ones) are >= 0x80,
// which Go sees as runes outside ASCII and drops as well.
char mapByte(char c) {
  if (c >= 'A' && c <= 'Z') {
    return static_cast<char>(c - 'A' + 'a');
  }
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
    return c;
  }
  if (c == '-' || c == '.' || c == '_') {
    return '-';
  }
  return 0;
}

size_t trailingDashes(const std::string &s) {
  size_t n = 0;
  while (n < s.size() && s[s.size() - 1 - n] == '-') {
    ++n;
  }
  return n;
}

// The longest name built from L: _<port>._L._tcp.<framework>.slave.<domain>
// is L + framework + domain + 17 bytes besides the port label.
constexpr size_t kAroundLabel = kPortLabelBudget + 17;
// C.<framework>.slave.<domain> is C + framework + domain + 8 bytes.
constexpr size_t kAroundCanonical = 8;

size_t budget(size_t limit, size_t used, size_t around) {
  return used + around >= kMaxName ? 0 : std::min(limit, kMaxName - used - around);
}

}  // namespace

std::string taskName(const std::string &appId) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start <= appId.size()) {
    size_t slash = appId.find('/', start);
    if (slash == std::string::npos) {
      slash = appId.size();
    }
    if (slash > start) {
      segments.push_back(appId.substr(start, slash - start));
    }
    start = slash + 1;
  }
  std::string out;
  for (auto it = segments.rbegin(); it != segments.rend(); ++it) {
    if (!out.empty()) {
      out.push_back('.');
    }
    out += *it;
  }
  return out;
}

std::string label(const std::string &name, size_t max) {
  max = std::min(max, kMaxLabel);
  std::string mapped;
  mapped.reserve(name.size());
  for (char c : name) {
    if (char m = mapByte(c); m != 0 && !(m == '-' && mapped.empty())) {
      mapped.push_back(m);  // leading '-' trimmed as it comes
    }
  }
  if (mapped.size() <= max) {
    mapped.resize(mapped.size() - trailingDashes(mapped));
    return mapped;
  }
  // Mesos-DNS's trimCut: cut at max; trailing '-' of the cut make room for
  // what follows it, past that part's own leading '-'.
  std::string head = mapped.substr(0, max);
  head.resize(head.size() - trailingDashes(head));
  if (head.size() < max) {
    size_t from = mapped.find_first_not_of('-', max);
    if (from != std::string::npos) {
      head += mapped.substr(from, max - head.size());
    }
  }
  // Ours: the fill may end in '-' (Mesos-DNS keeps it, an invalid label).
  head.resize(head.size() - trailingDashes(head));
  return head;
}

std::string taskHash(const std::string &taskId) {
  Poco::SHA1Engine sha1;
  sha1.update(taskId);
  const Poco::DigestEngine::Digest &digest = sha1.digest();
  // zbase32 of the digest's bits, most significant first, 5 a character;
  // only the first kHashLength characters are kept (25 bits).
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char byte : digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.size() < kHashLength) {
      bits -= 5;
      out.push_back(kZbase32[(buffer >> bits) & 31]);
    }
    buffer &= (1u << bits) - 1;
    if (out.size() == kHashLength) {
      break;
    }
  }
  return out;
}

std::string agentTail(const std::string &agentId) {
  size_t dash = agentId.rfind('-');
  std::string tail = dash == std::string::npos ? agentId : agentId.substr(dash + 1);
  for (char &c : tail) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return tail;
}

TaskLabels taskLabels(const std::string &appId, const std::string &taskId, const std::string &agentId,
                      const std::string &framework, const std::string &domain) {
  TaskLabels out;
  const std::string full = label(taskName(appId));
  if (full.empty()) {
    return out;
  }
  const size_t used = framework.size() + domain.size();

  // L: "_" + L is a label; the longest name built from it fits. At least
  // one byte, whatever the domain (see the header's precondition).
  const size_t maxLabel = std::max<size_t>(1, budget(kMaxLabel - 1, used, kAroundLabel));
  if (full.size() <= maxLabel) {
    out.label = full;
  } else if (maxLabel > kHashLength + 1) {
    out.label = label(full, maxLabel - kHashLength - 1) + "-" + taskHash(full);
  } else {
    out.label = label(full, maxLabel);
  }

  // C = head-hash-tail: a label; C.<framework>.slave.<domain> fits. Room
  // for one byte of head and "-" + hash at least.
  const size_t maxCanonical = std::max<size_t>(kHashLength + 2, budget(kMaxLabel, used, kAroundCanonical));
  std::string tail = label(agentTail(agentId));
  if (tail.size() + kHashLength + 3 > maxCanonical) {
    // The tail alone would leave no byte for the head.
    tail = maxCanonical > kHashLength + 3 ? label(tail, maxCanonical - kHashLength - 3) : "";
  }
  const std::string suffix = "-" + taskHash(taskId) + (tail.empty() ? "" : "-" + tail);
  out.canonical = label(full, maxCanonical - suffix.size()) + suffix;
  return out;
}

std::string portLabel(const std::string &portName) { return label(portName, kMaxLabel); }

}  // namespace dcos::dns
