// Random (version 4) UUIDs, as Mesos and Marathon write them.
#pragma once

#include <string>

namespace dcos {

// "3f9c0c1e-8a2b-4c3d-9e4f-5a6b7c8d9e0f": 122 bits from the kernel's
// random source, taken in blocks (one getrandom a few hundred ids, where
// reading /proc/sys/kernel/random/uuid cost an open, a read and a close each).
std::string newUuid();

}  // namespace dcos
