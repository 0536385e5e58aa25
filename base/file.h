// Files written whole or not at all.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"

namespace dcos {

// Writes `text` to a new file beside `path`, flushes it to disk, and renames
// it over `path`: a reader sees the old content or the new, never a part,
// and a full disk leaves the old file as it was. The error names the path
// and the reason.
Status writeFileAtomically(const std::string &path, const std::string &text, mode_t mode = 0644);

}  // namespace dcos
