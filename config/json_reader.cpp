#include "config/json_reader.h"

#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>

#include "base/text.h"

namespace dcos::config {

void Diagnostics::add(const std::string &path, const std::string &message) {
  errors_.push_back(file_ + ": " + (path.empty() ? std::string("/") : path) + ": " + message);
}

std::string pointerToken(const std::string &key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<Poco::Dynamic::Var> parseJson(const std::string &text, const std::string &file) {
  try {
    Poco::JSON::Parser parser;
    return parser.parse(text);
  } catch (const Poco::Exception &e) {
    return makeError(file + ": not valid JSON: " + e.message());
  } catch (const std::exception &e) {
    return makeError(file + ": not valid JSON: " + e.what());
  }
}

std::string describe(const Poco::Dynamic::Var &value) {
  if (value.isEmpty()) return "null";
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) return "an object";
  if (value.type() == typeid(Poco::JSON::Array::Ptr)) return "an array";
  if (value.isString()) return "a string";
  if (value.isBoolean()) return "a boolean";
  if (value.isNumeric()) return "a number";
  return "a value";
}

Reader::Reader(Diagnostics &diag, std::string path, const Poco::Dynamic::Var &value)
    : diag_(&diag), path_(std::move(path)) {
  if (value.type() == typeid(Poco::JSON::Object::Ptr)) {
    object_ = value.extract<Poco::JSON::Object::Ptr>();
  } else {
    diag_->add(path_, "expected an object, found " + describe(value));
  }
}

bool Reader::has(const std::string &key) const { return !object_.isNull() && object_->has(key); }

std::optional<Poco::Dynamic::Var> Reader::lookup(const std::string &key, Need need) {
  known_.insert(key);
  if (object_.isNull()) {
    return std::nullopt;
  }
  if (!object_->has(key)) {
    if (need == Need::Required) {
      diag_->add(keyPath(key), "missing (required)");
    }
    return std::nullopt;
  }
  return std::optional<Poco::Dynamic::Var>(std::in_place, object_->get(key));
}

std::optional<std::string> Reader::string(const std::string &key, Need need) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  if (!v->isString()) {
    diag_->add(keyPath(key), "expected a string, found " + describe(*v));
    return std::nullopt;
  }
  return v->extract<std::string>();
}

std::optional<int64_t> Reader::integer(const std::string &key, Need need, int64_t min, int64_t max) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  if (!v->isInteger() || v->isBoolean()) {
    diag_->add(keyPath(key), "expected an integer, found " + describe(*v));
    return std::nullopt;
  }
  int64_t n = v->convert<int64_t>();
  if (n < min || n > max) {
    diag_->add(keyPath(key), "expected an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                                 ", found " + std::to_string(n));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> Reader::boolean(const std::string &key, Need need) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  if (!v->isBoolean()) {
    diag_->add(keyPath(key), "expected true or false, found " + describe(*v));
    return std::nullopt;
  }
  return v->extract<bool>();
}

bool Reader::array(const std::string &key, Need need,
                   const std::function<void(const std::string &, const Poco::Dynamic::Var &)> &each) {
  auto v = lookup(key, need);
  if (!v) return false;
  if (v->type() != typeid(Poco::JSON::Array::Ptr)) {
    diag_->add(keyPath(key), "expected an array, found " + describe(*v));
    return false;
  }
  auto array = v->extract<Poco::JSON::Array::Ptr>();
  for (size_t i = 0; i < array->size(); ++i) {
    each(keyPath(key) + "/" + std::to_string(i), array->get(static_cast<unsigned>(i)));
  }
  return true;
}

std::optional<Reader> Reader::object(const std::string &key, Need need) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  Reader child(*diag_, keyPath(key), *v);
  if (!child.valid()) return std::nullopt;
  return child;
}

std::optional<std::map<std::string, std::string>> Reader::scalarMap(const std::string &key, Need need) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  if (v->type() != typeid(Poco::JSON::Object::Ptr)) {
    diag_->add(keyPath(key), "expected an object, found " + describe(*v));
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  auto obj = v->extract<Poco::JSON::Object::Ptr>();
  for (const auto &[name, value] : *obj) {
    std::string path = keyPath(key) + "/" + pointerToken(name);
    if (value.isString()) {
      out[name] = value.extract<std::string>();
    } else if (value.isBoolean()) {
      out[name] = value.extract<bool>() ? "true" : "false";
    } else if (value.isNumeric()) {
      out[name] = value.convert<std::string>();
    } else {
      diag_->add(path, "expected a string, number or boolean, found " + describe(value));
    }
  }
  return out;
}

std::optional<Poco::Dynamic::Var> Reader::raw(const std::string &key, Need need) {
  auto v = lookup(key, need);
  if (!v) return std::nullopt;
  return v;
}

void Reader::fail(const std::string &key, const std::string &message) { diag_->add(keyPath(key), message); }

void Reader::done() {
  if (object_.isNull()) return;
  std::vector<std::string> known(known_.begin(), known_.end());
  for (const auto &[name, value] : *object_) {
    if (known_.count(name) != 0) continue;
    std::string message = "unknown key " + text::quote(name);
    std::string suggestion = text::nearest(name, known);
    if (!suggestion.empty()) {
      message += " (did you mean " + text::quote(suggestion) + "?)";
    } else {
      message += " (known: " + text::join(known, ", ") + ")";
    }
    diag_->add(keyPath(name), message);
  }
}

}  // namespace dcos::config
