// Wall-clock time as dcos writes it in its APIs (Marathon's and Mesos's
// format).
#pragma once

#include <cstdint>
#include <string>

namespace dcos {

// Milliseconds since the epoch, now.
int64_t nowMs();
// ISO 8601 UTC with milliseconds, as Marathon writes it: 2026-12-01T10:00:00.000Z
// (a "+00:00" suffix breaks clients such as marathon-python).
std::string isoTime(int64_t epochMs);

}  // namespace dcos
