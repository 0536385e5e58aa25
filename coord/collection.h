// A followed set of znodes: the children of one path, each watched. What
// changed is read again, what went is dropped. Watch callbacks (ZooKeeper's
// event thread) only mark and call `changed`; refresh() does the reading, on
// the caller's thread. The DNS module and the routers follow the scheduler's
// state with it.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "coord/client.h"

namespace dcos::coord {

class Collection {
 public:
  Collection(Client *zk, std::string path, std::function<void()> changed)
      : zk_(zk), path_(std::move(path)), changed_(std::move(changed)) {}

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
    bool ok = true;
    std::lock_guard l(mutex_);
    for (size_t i = 0; i < toRead.size(); ++i) {
      if (watches_.count(toRead[i]) == 0) continue;
      if (got[i]) {
        auto &r = records_[toRead[i]];
        if (r != *got[i]) {
          r = std::move(*got[i]);
          changed = true;
        }
      } else if (codeOf(got[i].error()) == Code::NoNode) {
        if (records_.erase(toRead[i]) != 0) changed = true;
      } else {
        stale_.insert(toRead[i]);
        ok = false;
      }
    }
    return ok;
  }

  std::map<std::string, std::string> records() const {
    std::lock_guard l(mutex_);
    return records_;
  }

 private:
  Client *zk_;
  std::string path_;
  std::function<void()> changed_;
  mutable std::mutex mutex_;
  WatchId listWatch_{};
  bool listStale_ = true;
  std::map<std::string, WatchId> watches_;
  std::set<std::string> stale_;
  std::map<std::string, std::string> records_;
};


}  // namespace dcos::coord
