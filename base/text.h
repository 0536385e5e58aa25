// Small string helpers shared across dcos.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dcos::text {

// Edit distance between a and b: insertions, deletions, substitutions and
// swaps of neighbouring characters each count one.
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a likely typo
// (distance at most a third of the longer word, at least 1); "" otherwise.
std::string nearest(std::string_view word, const std::vector<std::string> &candidates);

std::string join(const std::vector<std::string> &parts, std::string_view separator);

// `s` in double quotes with JSON escaping, for error messages and JSON output.
std::string quote(std::string_view s);

bool startsWith(std::string_view s, std::string_view prefix);
bool endsWith(std::string_view s, std::string_view suffix);
// ASCII case-insensitive equality (header names, HTTP tokens).
bool iequals(std::string_view a, std::string_view b);

// ASCII letters lower-cased, every other byte as it is.
std::string asciiLower(std::string_view s);

// Spaces and tabs (and CR, LF) off both ends.
std::string trim(std::string_view s);
// The pieces between separators ("a,,b" -> "a", "", "b"; "" -> one "").
std::vector<std::string> split(std::string_view s, char separator);

// A URL query ("a=1&b=x%20y&a=2"), percent- and plus-decoded: each key's
// values in order (a key given twice, as `embed` is, has two).
std::map<std::string, std::vector<std::string>> parseQuery(std::string_view query);

}  // namespace dcos::text
