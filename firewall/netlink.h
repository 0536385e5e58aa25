// Sends a Batch to nf_tables over one NETLINK_NETFILTER socket and digests
// every acknowledgement. The only code besides translate.cpp and batch.cpp
// that calls mnl_*.
//
// Not thread safe; the Firewall that owns it serializes calls.
#pragma once

#include <memory>

#include "base/result.h"
#include "firewall/batch.h"

struct mnl_socket;

namespace dcos::firewall {

class Netlink {
 public:
  // Fails (naming the reason) without CAP_NET_ADMIN or nf_tables.
  static Result<std::unique_ptr<Netlink>> open();
  ~Netlink();

  // Sends the batch in one sendmsg and reads acknowledgements until every
  // acknowledged message has answered. If ENOBUFS drops some, reading goes
  // on so that no error that did arrive is missed. On a refused batch the
  // kernel has applied none of it; the error names the first message the
  // kernel refused: "<what the message was>: <strerror>[: <kernel's words>]".
  Status send(const Batch &batch);

 private:
  explicit Netlink(mnl_socket *socket) : socket_(socket) {}
  Status growBuffers(size_t bytes);

  mnl_socket *socket_;
  uint32_t portId_ = 0;
  size_t bufferBytes_ = 0;
};

}  // namespace dcos::firewall
