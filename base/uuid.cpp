#include "base/uuid.h"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace dcos {

namespace {

// A per-thread block of random bytes, refilled when used up.
struct Pool {
  std::array<uint8_t, 4096> bytes{};
  size_t used = sizeof bytes;

  void take(uint8_t *out, size_t n) {
    if (used + n > bytes.size()) refill();
    std::memcpy(out, bytes.data() + used, n);
    used += n;
  }

  void refill() {
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t r = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r < 0 && errno != EINTR) {
        // No getrandom (a very old kernel, a seccomp filter): the device.
        std::ifstream f("/dev/urandom", std::ios::binary);
        f.read(reinterpret_cast<char *>(bytes.data() + got), static_cast<std::streamsize>(bytes.size() - got));
        if (f.gcount() != static_cast<std::streamsize>(bytes.size() - got)) {
          // Ids made of old bytes would repeat: task ids, update ids. Nothing
          // is better than that.
          std::fprintf(stderr, "dcos: no random source (getrandom: %s; /dev/urandom unreadable)\n", std::strerror(errno));
          std::abort();
        }
        break;
      }
    }
    used = 0;
  }
};

}  // namespace

std::string newUuid() {
  thread_local Pool pool;
  uint8_t b[16];
  pool.take(b, sizeof b);
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < sizeof b; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 0x0f];
  }
  return out;
}

}  // namespace dcos
