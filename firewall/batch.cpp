#include "firewall/batch.h"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstdio>
#include <cstdlib>

namespace dcos::firewall {

Batch::Batch(uint32_t firstSeq) : firstSeq_(firstSeq), seq_(firstSeq) {
  char *at = prepare(MNL_NLMSG_HDRLEN + 64);
  nftnl_batch_begin(at, seq_);
  commit("batch begin", false);
}

char *Batch::prepare(size_t maxSize) {
  if (finished_) {
    std::fputs("dcos: Batch::prepare after finish\n", stderr);
    std::abort();
  }
  if (buffer_.size() < size_ + maxSize) buffer_.resize(std::max(buffer_.size() * 2, size_ + maxSize));
  // Only the headers need zeroing: libmnl writes every attribute with its
  // padding, and the message ends where its nlmsg_len says.
  std::fill_n(buffer_.begin() + static_cast<long>(size_), std::min<size_t>(maxSize, 64), 0);
  return buffer_.data() + size_;
}

void Batch::commit(std::string what, bool acked) {
  auto *nlh = reinterpret_cast<nlmsghdr *>(buffer_.data() + size_);
  size_ += MNL_ALIGN(nlh->nlmsg_len);
  what_.push_back(std::move(what));
  if (acked) ++acked_;
  ++seq_;
}

void Batch::finish() {
  char *at = prepare(MNL_NLMSG_HDRLEN + 64);
  nftnl_batch_end(at, seq_);
  commit("batch end", false);
  finished_ = true;
}

std::string Batch::describe(uint32_t seq) const {
  if (seq < firstSeq_ || seq - firstSeq_ >= what_.size()) return "";
  return what_[seq - firstSeq_];
}

}  // namespace dcos::firewall
