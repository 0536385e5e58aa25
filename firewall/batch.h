// One nftables transaction under construction: a BEGIN...END batch of
// netlink messages, each remembering what it is for, so that an error the
// kernel reports by sequence number can name the rule or set at fault.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcos::firewall {

class Batch {
 public:
  // Starts with the BEGIN message; `firstSeq` numbers the messages.
  explicit Batch(uint32_t firstSeq = 1);

  // Space for one more message of at most `maxSize` bytes, at its sequence
  // number; commit() it once built (or it is dropped).
  char *prepare(size_t maxSize);
  uint32_t nextSeq() const { return seq_; }
  // Keeps the message just built at prepare()'s pointer, described by `what`.
  void commit(std::string what, bool acked = true);

  // Appends END; the batch is then ready to send.
  void finish();

  const char *data() const { return buffer_.data(); }
  size_t size() const { return size_; }
  // Messages that will be acknowledged (all but BEGIN and END).
  size_t acked() const { return acked_; }
  // What the message with this sequence number was for, or "" if none.
  std::string describe(uint32_t seq) const;

 private:
  std::vector<char> buffer_;
  size_t size_ = 0;
  uint32_t firstSeq_;
  uint32_t seq_;
  size_t acked_ = 0;
  std::vector<std::string> what_;  // indexed by seq - firstSeq
  bool finished_ = false;
};

}  // namespace dcos::firewall
