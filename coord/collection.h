// A followed set of znodes: the children of one path, each watched. What
// changed is read again, what went is dropped. Watch callbacks (ZooKeeper's
// event thread) only mark and call `changed`; refresh() does the reading, on
// the caller's thread. The DNS module and the routers follow the scheduler's
// state with it.
//
// Each record is kept as read and as parsed into a T, parsed once per
// version of its text: with 10,000 tasks under a stream of changes, parsing
// every record on every look cost a master's router a fifth of a cpu.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coord/client.h"

namespace dcos::coord {

template <class T>
class Collection {
 public:
  // A record's text as a T, given its znode's name; nullopt when it does
  // not parse (forEach then skips it).
  using Parse = std::function<std::optional<T>(const std::string &name, const std::string &json)>;

  Collection(Client *zk, std::string path, Parse parse, std::function<void()> changed)
      : zk_(zk), path_(std::move(path)), parse_(std::move(parse)), changed_(std::move(changed)) {}

  void watch() {
    listWatch_ = zk_->watchChildren(path_, [this] {
      {
        std::lock_guard l(mutex_);
        listStale_ = true;
      }
      changed_();
    });
  }

  void unwatchAll() {
    zk_->unwatch(listWatch_);
    std::lock_guard l(mutex_);
    for (auto &[n, w] : watches_) zk_->unwatch(w);
    watches_.clear();
  }

  // Reads what is stale; false when ZooKeeper did not answer (the records
  // kept are the last ones read). `changed` is set when a record came, went
  // or changed.
  bool refresh(bool &changed) {
    bool listStale;
    {
      std::lock_guard l(mutex_);
      listStale = listStale_;
      listStale_ = false;
    }
    if (listStale) {
      auto names = zk_->children(path_);
      if (!names) {
        if (codeOf(names.error()) != Code::NoNode) {
          std::lock_guard l(mutex_);
          listStale_ = true;
          return false;
        }
        names = std::vector<std::string>{};
      }
      std::set<std::string> listed(names->begin(), names->end());
      std::lock_guard l(mutex_);
      for (auto it = watches_.begin(); it != watches_.end();) {
        if (listed.count(it->first) != 0) {
          ++it;
          continue;
        }
        zk_->unwatch(it->second);
        if (records_.erase(it->first) != 0) changed = true;
        stale_.erase(it->first);
        it = watches_.erase(it);
      }
      for (const auto &n : listed) {
        if (watches_.count(n) != 0) continue;
        stale_.insert(n);
        watches_[n] = zk_->watchData(path_ + "/" + n, [this, n] {
          {
            std::lock_guard l2(mutex_);
            if (watches_.count(n) != 0) stale_.insert(n);
          }
          changed_();
        });
      }
    }
    std::vector<std::string> toRead;
    {
      std::lock_guard l(mutex_);
      toRead.assign(stale_.begin(), stale_.end());
      stale_.clear();
    }
    if (toRead.empty()) return true;
    std::vector<std::string> paths;
    paths.reserve(toRead.size());
    for (const auto &n : toRead) paths.push_back(path_ + "/" + n);
    auto got = zk_->readAll(paths);
    // Parsed without the lock (forEach goes on meanwhile); only the
    // records whose text changed.
    std::vector<std::optional<std::optional<T>>> parsed(toRead.size());
    {
      std::lock_guard l(mutex_);
      for (size_t i = 0; i < toRead.size(); ++i) {
        if (!got[i]) continue;
        auto r = records_.find(toRead[i]);
        if (r == records_.end() || r->second.json != *got[i]) parsed[i].emplace();
      }
    }
    for (size_t i = 0; i < toRead.size(); ++i) {
      if (!parsed[i]) continue;
      try {
        *parsed[i] = parse_(toRead[i], *got[i]);
      } catch (...) {
        *parsed[i] = std::nullopt;  // as a record that does not parse
      }
    }
    bool ok = true;
    std::lock_guard l(mutex_);
    for (size_t i = 0; i < toRead.size(); ++i) {
      if (watches_.count(toRead[i]) == 0) continue;
      if (got[i]) {
        if (!parsed[i]) continue;  // the same text as kept
        Record &r = records_[toRead[i]];
        r.json = std::move(*got[i]);
        r.value = std::move(*parsed[i]);
        changed = true;
      } else if (codeOf(got[i].error()) == Code::NoNode) {
        if (records_.erase(toRead[i]) != 0) changed = true;
      } else {
        stale_.insert(toRead[i]);
        ok = false;
      }
    }
    return ok;
  }

  // f(name, value) for every record that parsed, in the order of their
  // names, with the collection's lock held (f must not call back into it;
  // the watches' callbacks wait meanwhile, so f copies and goes on).
  template <class F>
  void forEach(F &&f) const {
    std::lock_guard l(mutex_);
    for (const auto &[name, r] : records_) {
      if (r.value) f(name, *r.value);
    }
  }

  // Records, parsed or not (what forEach's caller may reserve for).
  size_t size() const {
    std::lock_guard l(mutex_);
    return records_.size();
  }

 private:
  struct Record {
    std::string json;
    std::optional<T> value;
  };
  Client *zk_;
  std::string path_;
  Parse parse_;
  std::function<void()> changed_;
  mutable std::mutex mutex_;
  WatchId listWatch_{};
  bool listStale_ = true;
  std::map<std::string, WatchId> watches_;
  std::set<std::string> stale_;
  std::map<std::string, Record> records_;
};

}  // namespace dcos::coord
