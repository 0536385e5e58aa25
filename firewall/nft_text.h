// The Ruleset in nft syntax: what `dcosd firewall plan` prints, and what
// `nft -f` applies to the same effect as our netlink batch (the benchmark
// compares the two).
#pragma once

#include <string>

#include "firewall/model.h"

namespace dcos::firewall {

// The table definition alone ("table inet dcos { ... }").
std::string nftTable(const Ruleset &ruleset);

// A script that replaces the table atomically when given to `nft -f`:
// create it if missing, delete it, define it anew.
std::string nftReplaceScript(const Ruleset &ruleset);

}  // namespace dcos::firewall
