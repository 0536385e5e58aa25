// Typed, path-aware reading of Poco JSON with every problem collected.
//
// A Reader wraps one JSON object. Each accessor reads one key and records any
// problem as "<file>: <JSON pointer>: <what was expected>" in the shared
// Diagnostics; reading goes on so that one run reports every problem. done()
// reports the keys nobody asked for, suggesting the nearest known key.
#pragma once

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace dcos::config {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  void add(const std::string &path, const std::string &message);
  bool ok() const { return errors_.empty(); }
  const std::vector<std::string> &errors() const { return errors_; }
  const std::string &file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// Escapes a key for a JSON pointer (RFC 6901).
std::string pointerToken(const std::string &key);

// Parses JSON text; a syntax error names the file and where it is.
Result<Poco::Dynamic::Var> parseJson(const std::string &text, const std::string &file);

enum class Need { Required, Optional };

class Reader {
 public:
  // `value` must be a JSON object; otherwise the problem is recorded and every
  // accessor returns nothing.
  Reader(Diagnostics &diag, std::string path, const Poco::Dynamic::Var &value);

  const std::string &path() const { return path_; }
  bool valid() const { return !object_.isNull(); }
  bool has(const std::string &key) const;

  std::optional<std::string> string(const std::string &key, Need need);
  std::optional<int64_t> integer(const std::string &key, Need need, int64_t min, int64_t max);
  std::optional<bool> boolean(const std::string &key, Need need);
  // An array; `each` is called with (element path, element) for every element.
  bool array(const std::string &key, Need need,
             const std::function<void(const std::string &, const Poco::Dynamic::Var &)> &each);
  std::optional<Reader> object(const std::string &key, Need need);
  // An object of scalars (strings, numbers, booleans) read as strings.
  std::optional<std::map<std::string, std::string>> scalarMap(const std::string &key, Need need);

  // The value at `key` as it is, for callers that keep it as JSON.
  std::optional<Poco::Dynamic::Var> raw(const std::string &key, Need need);

  // Records a problem at this object's key.
  void fail(const std::string &key, const std::string &message);
  // Reports keys that no accessor read. Call once, after reading.
  void done();

  Diagnostics &diagnostics() { return *diag_; }
  std::string keyPath(const std::string &key) const { return path_ + "/" + pointerToken(key); }

 private:
  std::optional<Poco::Dynamic::Var> lookup(const std::string &key, Need need);

  Diagnostics *diag_;
  std::string path_;
  Poco::JSON::Object::Ptr object_;
  std::set<std::string> known_;
};

// The JSON type name of a value, for messages ("a string", "an array").
std::string describe(const Poco::Dynamic::Var &value);

}  // namespace dcos::config
