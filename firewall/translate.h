// Model to netlink: adds the messages that make a Ruleset, or change set
// elements, to a Batch. The only code besides netlink.cpp that calls nftnl_*.
#pragma once

#include <string>
#include <vector>

#include "firewall/batch.h"
#include "firewall/model.h"

namespace dcos::firewall {

// Replaces table inet <ruleset.table> as a whole: create it if missing,
// delete it, create it anew with its sets, elements, chain and rules. In one
// batch this is atomic: the old table stays until the new one is complete.
// The ruleset must validate().
void addReplace(Batch &batch, const Ruleset &ruleset);

// Deletes table inet <table>; a batch doing only this fails with ENOENT if
// the table does not exist, so it is preceded by a create.
void addDeleteTable(Batch &batch, const std::string &table);

// Adds or deletes elements of an existing address set (both families' sets
// as needed) or port set. The table and sets must exist.
void addAddressElements(Batch &batch, const std::string &table, const AddressSet &set,
                        const std::vector<Interval> &elements, bool add);
void addPortElements(Batch &batch, const std::string &table, const std::string &set,
                     const std::vector<PortRange> &elements, bool add);

// For failure tests: a rule the kernel refuses (it looks up a set that does
// not exist), described as `what`.
void addRefusedRule(Batch &batch, const std::string &table, const std::string &what);

// How many rules addReplace() puts into the chain for `ruleset`, fixed ones included.
size_t chainRuleCount(const Ruleset &ruleset);

}  // namespace dcos::firewall
