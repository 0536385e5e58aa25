#include "firewall/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"

namespace dcos::firewall {

namespace {

std::string errnoText(int err) { return std::strerror(err); }

// The kernel's own explanation (extended ACK), when it gave one.
std::string extackMessage(const nlmsghdr *nlh) {
  const auto *err = static_cast<const nlmsgerr *>(mnl_nlmsg_get_payload(nlh));
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  // With NETLINK_CAP_ACK the request is not echoed: the TLVs follow nlmsgerr.
  size_t offset = MNL_ALIGN(sizeof(nlmsghdr)) + MNL_ALIGN(sizeof(nlmsgerr));
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += MNL_ALIGN(err->msg.nlmsg_len) - MNL_ALIGN(sizeof(nlmsghdr));
  if (offset >= nlh->nlmsg_len) return "";
  const auto *attr = reinterpret_cast<const nlattr *>(reinterpret_cast<const char *>(nlh) + offset);
  size_t left = nlh->nlmsg_len - offset;
  while (mnl_attr_ok(attr, static_cast<int>(left))) {
    if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG) return mnl_attr_get_str(attr);
    left -= MNL_ALIGN(attr->nla_len);
    attr = mnl_attr_next(attr);
  }
  return "";
}

}  // namespace

Result<std::unique_ptr<Netlink>> Netlink::open() {
  mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (nl == nullptr) return makeError("netlink: cannot open a NETLINK_NETFILTER socket: " + errnoText(errno));
  if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    int e = errno;
    mnl_socket_close(nl);
    return makeError("netlink: cannot bind: " + errnoText(e));
  }
  std::unique_ptr<Netlink> n(new Netlink(nl));
  n->portId_ = mnl_socket_get_portid(nl);
  int on = 1;
  // Errors carry the kernel's words, and not a copy of our request.
  mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &on, sizeof on);
  if (auto s = n->growBuffers(1 << 20); !s) return s.error();
  return n;
}

Netlink::~Netlink() { mnl_socket_close(socket_); }

Status Netlink::growBuffers(size_t bytes) {
  if (bytes <= bufferBytes_) return Status::Ok();
  int fd = mnl_socket_get_fd(socket_);
  int size = static_cast<int>(std::min<size_t>(bytes, 1u << 30));
  // FORCE: past net.core.{w,r}mem_max, which we have the capability for.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0 &&
      setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0) {
    return makeError("netlink: cannot size the send buffer: " + errnoText(errno));
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  bufferBytes_ = bytes;
  return Status::Ok();
}

Status Netlink::send(const Batch &batch) {
  // Room for the whole batch going out, and for one ACK per message coming back.
  if (auto s = growBuffers(batch.size() + batch.acked() * 64 + 65536); !s) return s;
  ssize_t sent = mnl_socket_sendto(socket_, batch.data(), batch.size());
  if (sent < 0) return makeError("netlink: sending a batch of " + std::to_string(batch.size()) + " bytes: " + errnoText(errno));

  size_t acks = 0;
  bool overrun = false;
  int firstErrno = 0;
  uint32_t firstSeq = 0;
  std::string firstExtack;
  std::vector<char> buf(std::max<size_t>(MNL_SOCKET_BUFFER_SIZE, 1 << 16));
  int fd = mnl_socket_get_fd(socket_);
  // The kernel handles a batch within sendmsg, so its answers are queued by
  // now; the poll timeout only guards against a kernel that says nothing.
  while (acks < batch.acked()) {
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, firstErrno != 0 || overrun ? 0 : 5000);
    if (ready == 0) break;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return makeError("netlink: poll: " + errnoText(errno));
    }
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {  // some ACKs were dropped; keep reading the rest
        overrun = true;
        continue;
      }
      if (errno == EAGAIN || errno == EINTR) continue;
      return makeError("netlink: receiving acknowledgements: " + errnoText(errno));
    }
    int len = static_cast<int>(n);
    for (auto *nlh = reinterpret_cast<const nlmsghdr *>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_pid != portId_ || nlh->nlmsg_type != NLMSG_ERROR) continue;
      ++acks;
      const auto *err = static_cast<const nlmsgerr *>(mnl_nlmsg_get_payload(nlh));
      if (err->error != 0 && firstErrno == 0) {
        firstErrno = -err->error;
        firstSeq = nlh->nlmsg_seq;
        firstExtack = extackMessage(nlh);
      }
    }
  }
  if (firstErrno != 0) {
    std::string what = batch.describe(firstSeq);
    return makeError((what.empty() ? "message " + std::to_string(firstSeq) : what) + ": " + errnoText(firstErrno) +
                     (firstExtack.empty() ? "" : ": " + firstExtack));
  }
  if (acks < batch.acked()) {
    if (overrun) {
      log::warning("netlink: " + std::to_string(batch.acked() - acks) +
                   " acknowledgements lost to ENOBUFS; no error among those received");
      return Status::Ok();
    }
    return makeError("netlink: only " + std::to_string(acks) + " of " + std::to_string(batch.acked()) +
                     " messages acknowledged");
  }
  return Status::Ok();
}

}  // namespace dcos::firewall
