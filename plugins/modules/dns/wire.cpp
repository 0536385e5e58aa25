#include "plugins/modules/dns/wire.h"

#include <algorithm>
#include <cstring>

namespace dcos::dns {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr size_t kMaxNameWire = 255;    // RFC 1035 3.1, the root's byte included
constexpr size_t kMaxNameText = 253;    // "a.b" is 2 bytes shorter than its wire form
constexpr size_t kMaxLabel = 63;
constexpr size_t kMaxLabels = 127;      // 255 bytes of one-byte labels and the root
constexpr size_t kOptSize = 11;         // root name, type, class, ttl, rdlength 0
constexpr size_t kMinLimit = 512;
constexpr size_t kMaxMessage = 65535;   // what TCP's length prefix can say
constexpr size_t kMaxPointerTarget = 0x3fff;
constexpr size_t kCompressionEntries = 128;
constexpr uint16_t kEdnsSize = 1232;  // what encodeError advertises, as Response does

constexpr uint8_t kQr = 0x80, kAa = 0x04, kTc = 0x02, kRd = 0x01;  // flags byte 2
constexpr uint8_t kRa = 0x80, kCd = 0x10;                           // flags byte 3
constexpr uint16_t kDo = 0x8000;                                    // in the OPT's ttl, low half

uint16_t get16(const uint8_t *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

// Reads the name at `pos` of an untrusted packet. On success returns its
// wire length (1 for the root) and moves `pos` past it (past its first
// pointer); writes the name as text into `text` (room for kMaxNameText)
// when given, where a label holding '.' is an error (it could not be told
// from two labels). Returns 0 when the name is malformed: it runs past the
// end, is longer than 255 bytes, has a label over 63 or of the reserved
// types 0x40/0x80, or has a pointer that does not point before everything
// read of the name so far (so every pointer lowers the position and no
// loop is possible).
size_t readName(const uint8_t *data, size_t size, size_t &pos, char *text, size_t *textLen) {
  size_t p = pos;
  size_t floor = pos;  // a pointer must point below this
  size_t resume = 0;   // where the packet goes on after the name; 0 until known
  size_t wire = 0;
  size_t n = 0;
  for (;;) {
    if (p >= size) {
      return 0;
    }
    uint8_t len = data[p];
    if (len == 0) {
      ++wire;
      if (resume == 0) {
        resume = p + 1;
      }
      break;
    }
    if ((len & 0xc0) == 0xc0) {
      if (p + 1 >= size) {
        return 0;
      }
      size_t target = static_cast<size_t>(len & 0x3f) << 8 | data[p + 1];
      if (target >= floor) {
        return 0;
      }
      if (resume == 0) {
        resume = p + 2;
      }
      floor = target;
      p = target;
      continue;
    }
    if ((len & 0xc0) != 0) {
      return 0;
    }
    wire += 1 + len;
    if (wire + 1 > kMaxNameWire || size - p - 1 < len) {
      return 0;
    }
    if (text != nullptr) {
      if (n != 0) {
        text[n++] = '.';
      }
      const uint8_t *label = data + p + 1;
      if (std::memchr(label, '.', len) != nullptr) {
        return 0;
      }
      std::memcpy(text + n, label, len);
      n += len;
    }
    p += 1 + len;
  }
  pos = resume;
  if (textLen != nullptr) {
    *textLen = n;
  }
  return wire;
}

// A name of a Record or Question split into its labels, checked: no empty
// label, none over 63 bytes, at most 255 bytes on the wire. A trailing dot
// is tolerated (the contract says there is none).
struct Labels {
  std::string_view text;
  size_t count = 0;
  std::array<uint8_t, kMaxLabels> start;  // where label i begins in `text` (not zeroed: hot)

  bool split(std::string_view name) {
    if (!name.empty() && name.back() == '.') {
      name.remove_suffix(1);
    }
    text = name;
    count = 0;
    if (name.empty()) {
      return true;
    }
    if (name.size() > kMaxNameText) {
      return false;
    }
    // One pass, no memchr: labels are short.
    size_t begin = 0;
    for (size_t k = 0; k <= name.size(); ++k) {
      if (k == name.size() || name[k] == '.') {
        if (k == begin || k - begin > kMaxLabel) {
          return false;
        }
        start[count++] = static_cast<uint8_t>(begin);
        begin = k + 1;
      }
    }
    return true;
  }
  size_t labelLength(size_t i) const { return (i + 1 < count ? start[i + 1] - 1 : text.size()) - start[i]; }
  std::string_view suffix(size_t i) const { return text.substr(start[i]); }
};

// Writes a message into `out`, remembering where names (and the suffixes
// of names) were written, for compression. Every name it writes points
// only to names written before it, so its pointers always point backwards.
class Encoder {
 public:
  // Writes into `out`, which grows as needed; `expected` is what the
  // message will likely take (sized once, so most writes are plain stores).
  // finish() cuts `out` to what was written.
  Encoder(std::string &out, size_t expected) : out_(out) { out_.resize(expected); }

  size_t size() const { return pos_; }
  void finish() { out_.resize(pos_); }

  void put8(uint8_t v) { *room(1) = static_cast<char>(v); }
  void put16(uint16_t v) {
    char *p = room(2);
    p[0] = static_cast<char>(v >> 8);
    p[1] = static_cast<char>(v);
  }
  void put32(uint32_t v) {
    char *p = room(4);
    p[0] = static_cast<char>(v >> 24);
    p[1] = static_cast<char>(v >> 16);
    p[2] = static_cast<char>(v >> 8);
    p[3] = static_cast<char>(v);
  }
  void put(const void *data, size_t n) { std::memcpy(room(n), data, n); }
  void set16(size_t at, uint16_t v) {
    out_[at] = static_cast<char>(v >> 8);
    out_[at + 1] = static_cast<char>(v);
  }
  void setFlag2(uint8_t flag) { out_[2] = static_cast<char>(out_[2] | flag); }

  // A mark to go back to: the bytes and the compression entries written
  // after it are forgotten.
  struct Mark {
    size_t size, entries;
  };
  Mark mark() const { return {pos_, entries_}; }
  void rewind(Mark m) {
    pos_ = m.size;
    entries_ = m.entries;
  }

  // Writes `name`, as a pointer to the longest suffix already written when
  // `compress`; either way its suffixes become targets for later names.
  // False when the name cannot be a DNS name (nothing written then).
  bool name(std::string_view text, bool compress) {
    Labels l;
    if (!l.split(text)) {
      return false;
    }
    size_t written = l.count;  // labels written out before the pointer
    size_t target = 0;
    if (compress) {
      for (size_t i = 0; i < l.count && written == l.count; ++i) {
        for (size_t e = 0; e < entries_; ++e) {
          const Entry &entry = table_[e];
          if (entry.textLength == l.text.size() - l.start[i] && matches(entry.offset, l.suffix(i))) {
            written = i;
            target = entry.offset;
            break;
          }
        }
      }
    }
    // At most the name's text and 2 bytes: a length for the first label
    // (the dots become the others), the root or a pointer's second byte.
    size_t begin = pos_;
    char *base = room(l.text.size() + 2);
    char *w = base;
    for (size_t i = 0; i < written; ++i) {
      size_t at = begin + static_cast<size_t>(w - base);
      if (at <= kMaxPointerTarget && entries_ < kCompressionEntries) {
        table_[entries_++] = {static_cast<uint16_t>(at), static_cast<uint8_t>(l.text.size() - l.start[i])};
      }
      size_t len = l.labelLength(i);
      *w++ = static_cast<char>(len);
      std::memcpy(w, l.text.data() + l.start[i], len);
      w += len;
    }
    if (written < l.count) {
      *w++ = static_cast<char>(0xc0 | target >> 8);
      *w++ = static_cast<char>(target);
    } else {
      *w++ = 0;
    }
    pos_ = begin + static_cast<size_t>(w - base);
    return true;
  }

  // Writes a record; false (nothing written) when its name or data cannot
  // be encoded: a bad name, data of another kind than its type says, a
  // character-string over 255 bytes, data over 65535 bytes.
  bool record(const Record &r) {
    Mark start = mark();
    if (!name(r.name, true)) {
      return false;
    }
    put16(r.type);
    put16(kClassIN);
    put32(r.ttl);
    size_t rdlength = pos_;
    put16(0);
    if (!rdata(r)) {
      rewind(start);
      return false;
    }
    size_t length = pos_ - rdlength - 2;
    if (length > 0xffff) {
      rewind(start);
      return false;
    }
    set16(rdlength, static_cast<uint16_t>(length));
    return true;
  }

  void opt(uint16_t size, uint8_t extendedRcode) {
    put8(0);
    put16(type::kOPT);
    put16(std::max<uint16_t>(size, kMinLimit));
    put32(static_cast<uint32_t>(extendedRcode) << 24);  // version 0, DO clear
    put16(0);
  }

 private:
  // A name (or a name's suffix) written at `offset`. Its length as text
  // is a cheap filter: only names of the same length are compared, against
  // the bytes already written.
  struct Entry {
    uint16_t offset;
    uint8_t textLength;  // dots included
  };

  // Whether the name written at `offset` (ours, so well formed) is
  // `suffix`, ignoring ASCII case.
  bool matches(size_t offset, std::string_view suffix) const {
    const auto *b = reinterpret_cast<const uint8_t *>(out_.data());
    size_t i = 0;
    for (;;) {
      uint8_t len = b[offset];
      if ((len & 0xc0) == 0xc0) {
        offset = static_cast<size_t>(len & 0x3f) << 8 | b[offset + 1];
        continue;
      }
      if (len == 0) {
        return i == suffix.size() + 1;
      }
      if (i + len > suffix.size() || (i + len < suffix.size() && suffix[i + len] != '.')) {
        return false;
      }
      for (size_t k = 0; k < len; ++k) {
        if (fold(static_cast<char>(b[offset + 1 + k])) != fold(suffix[i + k])) {
          return false;
        }
      }
      i += len + 1;
      offset += 1 + len;
    }
  }

  bool rdata(const Record &r) {
    switch (r.type) {
      case type::kA:
        if (const auto *a = std::get_if<Ipv4>(&r.data)) {
          put(a->data(), a->size());
          return true;
        }
        return false;
      case type::kAAAA:
        if (const auto *a = std::get_if<Ipv6>(&r.data)) {
          put(a->data(), a->size());
          return true;
        }
        return false;
      case type::kNS:
      case type::kCNAME:
      case type::kPTR:
        if (const auto *n = std::get_if<std::string>(&r.data)) {
          return name(*n, true);
        }
        return false;
      case type::kSRV:
        if (const auto *s = std::get_if<Srv>(&r.data)) {
          put16(s->priority);
          put16(s->weight);
          put16(s->port);
          return name(s->target, false);  // RFC 2782: the target is not compressed
        }
        return false;
      case type::kSOA:
        if (const auto *s = std::get_if<Soa>(&r.data)) {
          if (!name(s->mname, true) || !name(s->rname, true)) {
            return false;
          }
          put32(s->serial);
          put32(s->refresh);
          put32(s->retry);
          put32(s->expire);
          put32(s->minimum);
          return true;
        }
        return false;
      case type::kTXT:
        if (const auto *t = std::get_if<std::vector<std::string>>(&r.data)) {
          if (t->empty()) {
            put8(0);  // a TXT has at least one string: the empty one
            return true;
          }
          for (const std::string &s : *t) {
            if (s.size() > 255) {
              return false;
            }
            put8(static_cast<uint8_t>(s.size()));
            put(s.data(), s.size());
          }
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  // `n` bytes at the end, the buffer grown (doubled) when they are not there.
  char *room(size_t n) {
    if (out_.size() - pos_ < n) {
      out_.resize(std::max(out_.size() * 2, pos_ + n));
    }
    char *p = out_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::string &out_;
  size_t pos_ = 0;
  std::array<Entry, kCompressionEntries> table_;
  size_t entries_ = 0;
};

// An upper bound of a record's size without compression: what the buffer
// starts with.
size_t recordBound(const Record &r) {
  size_t n = r.name.size() + 2 + 10;
  std::visit(
      [&n](const auto &d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, std::string>) {
          n += d.size() + 2;
        } else if constexpr (std::is_same_v<T, Srv>) {
          n += 6 + d.target.size() + 2;
        } else if constexpr (std::is_same_v<T, Soa>) {
          n += d.mname.size() + d.rname.size() + 4 + 20;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          n += 1;
          for (const std::string &s : d) {
            n += s.size() + 1;
          }
        } else {
          n += d.size();
        }
      },
      r.data);
  return n;
}

size_t messageBound(const Response &r, size_t limit) {
  size_t n = kHeaderSize + kOptSize + (r.question ? r.question->name.size() + 2 + 4 : 0);
  for (const auto *section : {&r.answer, &r.authority, &r.additional}) {
    for (const Record &rec : *section) {
      if (n > limit) {
        return limit;
      }
      n += recordBound(rec);
    }
  }
  return std::min(n, limit);
}

void header(Encoder &e, uint16_t id, uint8_t opcode, bool aa, bool rd, bool ra, bool cd, uint16_t rcode) {
  e.put16(id);
  e.put8(static_cast<uint8_t>(kQr | (opcode & 0xf) << 3 | (aa ? kAa : 0) | (rd ? kRd : 0)));
  e.put8(static_cast<uint8_t>((ra ? kRa : 0) | (cd ? kCd : 0) | (rcode & 0xf)));
  e.put32(0);  // counts, set at the end
  e.put32(0);
}

// The question, or nothing when its name cannot be written (then QDCOUNT
// stays 0). Returns the count.
uint16_t question(Encoder &e, const Question &q) {
  if (!e.name(q.name, true)) {
    return 0;
  }
  e.put16(q.type);
  e.put16(q.klass);
  return 1;
}

void counts(Encoder &e, bool tc, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
  if (tc) {
    e.setFlag2(kTc);
  }
  e.set16(4, qd);
  e.set16(6, an);
  e.set16(8, ns);
  e.set16(10, ar);
}

}  // namespace

Parsed parseQuery(const uint8_t *data, size_t size) {
  Parsed r;
  if (data == nullptr || size < kHeaderSize) {
    return r;
  }
  Query &q = r.query;
  q.id = get16(data);
  if ((data[2] & kQr) != 0) {
    return r;
  }
  q.opcode = (data[2] >> 3) & 0xf;
  q.rd = (data[2] & kRd) != 0;
  q.cd = (data[3] & kCd) != 0;
  uint16_t qdcount = get16(data + 4);
  uint32_t skipped = static_cast<uint32_t>(get16(data + 6)) + get16(data + 8);
  uint16_t arcount = get16(data + 10);
  // Past the header the message is an answer: NOTIMP for another opcode
  // whatever follows, FORMERR for a query that is not well formed.
  r.status = q.opcode == 0 ? Parsed::Status::FormErr : Parsed::Status::NotImp;
  if (qdcount != 1) {
    return r;
  }
  size_t pos = kHeaderSize;
  char text[kMaxNameWire];
  size_t textLen = 0;
  if (readName(data, size, pos, text, &textLen) == 0 || size - pos < 4) {
    return r;
  }
  q.question.name.assign(text, textLen);
  q.question.type = get16(data + pos);
  q.question.klass = get16(data + pos + 2);
  pos += 4;
  r.hasQuestion = true;

  // Each record is at least 11 bytes: a count beyond what the packet holds
  // fails at its first missing record, without a loop over all of them.
  for (uint32_t i = 0; i < skipped + arcount; ++i) {
    size_t wire = readName(data, size, pos, nullptr, nullptr);
    if (wire == 0 || size - pos < 10) {
      return r;
    }
    uint16_t rtype = get16(data + pos);
    size_t rdlength = get16(data + pos + 8);
    if (size - pos - 10 < rdlength) {
      return r;
    }
    if (rtype == type::kOPT) {
      // RFC 6891 6.1.1: in the additional section only, once, owned by the root.
      if (i < skipped || wire != 1 || q.edns) {
        q.edns = false;
        q.udpSize = 512;
        q.ednsVersion = 0;
        q.dnssecOk = false;
        return r;
      }
      q.edns = true;
      q.udpSize = std::max<uint16_t>(get16(data + pos + 2), kMinLimit);
      q.ednsVersion = data[pos + 5];
      q.dnssecOk = (get16(data + pos + 6) & kDo) != 0;
    }
    pos += 10 + rdlength;
  }
  if (pos != size) {
    return r;
  }
  if (q.opcode == 0) {
    r.status = Parsed::Status::Ok;
  }
  return r;
}

std::string encode(const Response &r, size_t limit) {
  limit = std::clamp(limit, kMinLimit, kMaxMessage);
  std::string out;
  Encoder e(out, messageBound(r, limit));
  uint16_t rcode = r.extendedRcode != 0 ? r.extendedRcode : static_cast<uint16_t>(r.rcode);
  header(e, r.id, r.opcode, r.aa, r.rd, r.ra, r.cd, rcode);
  uint16_t qd = r.question ? question(e, *r.question) : 0;
  const size_t opt = r.edns ? kOptSize : 0;

  // Answer and authority go whole or not at all (then TC); additional
  // records go while they fit. Writing stops at the first record past the
  // limit, so a huge record set costs no more than what fits.
  Encoder::Mark afterQuestion = e.mark();
  bool tc = false;
  uint16_t an = 0, ns = 0, ar = 0;
  for (const Record &rec : r.answer) {
    if (e.record(rec)) {
      if (e.size() + opt > limit) {
        tc = true;
        break;
      }
      ++an;
    }
  }
  for (size_t i = 0; !tc && i < r.authority.size(); ++i) {
    if (e.record(r.authority[i])) {
      if (e.size() + opt > limit) {
        tc = true;
        break;
      }
      ++ns;
    }
  }
  if (tc) {
    e.rewind(afterQuestion);
    an = ns = 0;
  } else {
    for (const Record &rec : r.additional) {
      Encoder::Mark before = e.mark();
      if (e.record(rec)) {
        if (e.size() + opt > limit) {
          e.rewind(before);
          break;
        }
        ++ar;
      }
    }
  }
  if (r.edns) {
    e.opt(r.ednsSize, static_cast<uint8_t>(rcode >> 4));
    ++ar;
  }
  counts(e, tc, qd, an, ns, ar);
  e.finish();
  return out;
}

std::string encodeError(uint16_t id, uint8_t opcode, bool rd, Rcode rcode, const std::optional<Question> &q,
                        bool edns) {
  std::string out;
  Encoder e(out, kHeaderSize + (q ? q->name.size() + 2 + 4 : 0) + kOptSize);
  header(e, id, opcode, false, rd, false, false, static_cast<uint16_t>(rcode));
  uint16_t qd = q ? question(e, *q) : 0;
  if (edns) {
    e.opt(kEdnsSize, 0);
  }
  counts(e, false, qd, 0, 0, edns ? 1 : 0);
  e.finish();
  return out;
}

std::string lower(std::string_view name) {
  std::string s(name);
  for (char &c : s) {
    c = fold(c);
  }
  return s;
}

uint16_t messageId(std::string_view packet) {
  if (packet.size() < 2) {
    return 0;
  }
  return get16(reinterpret_cast<const uint8_t *>(packet.data()));
}

std::string withId(std::string_view packet, uint16_t id) {
  std::string s(packet);
  if (s.size() >= 2) {
    s[0] = static_cast<char>(id >> 8);
    s[1] = static_cast<char>(id);
  }
  return s;
}

bool truncated(std::string_view packet) { return packet.size() >= 3 && (packet[2] & kTc) != 0; }

}  // namespace dcos::dns
