// Files written whole or not at all.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"

namespace dcos {

// What a write must survive.
enum class Durability {
  PowerLoss,     // flushed to disk (fsync of the file and its directory)
  ProcessCrash,  // in the page cache: the writer may die, the machine not
};

// Writes `text` to a new file beside `path` and renames it over `path`: a
// reader sees the old content or the new, never a part, and a full disk
// leaves the old file as it was. With PowerLoss (the default) it is on disk
// before the call returns. The error names the path and the reason.
Status writeFileAtomically(const std::string &path, const std::string &text, mode_t mode = 0644,
                           Durability durability = Durability::PowerLoss);

// The whole content of `path`, or "" when it cannot be read (missing, a
// directory, no permission): for files whose absence means "nothing yet".
std::string readFileOrEmpty(const std::string &path);

}  // namespace dcos
