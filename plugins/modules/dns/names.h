// Mesos-DNS's names for Marathon's tasks, made as Mesos-DNS makes them
// (records/labels/labels.go, records/generator.go and records/chains.go in
// mesos-dns), except where its names break DNS (see docs/dns-names.md): a
// task's label is shortened so that every name built from it fits in 63
// bytes a label and 253 a name.
//
// Thread safety: pure functions of their arguments; safe from any thread.
#pragma once

#include <cstddef>
#include <string>

namespace dcos::dns {

// The Mesos task name Marathon gives an app's tasks (PathId.toHostname): the
// app id's path segments read backwards, joined with dots; empty segments
// (a leading, doubled or trailing '/') are skipped:
// "/prod/web/frontend" -> "frontend.web.prod". Mesos-DNS labels this whole
// name, so its dots become '-': label(taskName(id)) is "frontend-web-prod".
std::string taskName(const std::string &appId);

// An RFC 1123 label from a name, as Mesos-DNS's labels.RFC1123 makes it:
// 'A'-'Z' lower-cased, '.' and '_' become '-', [a-z0-9-] kept, every other
// byte dropped (so a multi-byte UTF-8 character goes whole); leading '-'
// trimmed. When the rest is longer than `max` (at most 63; larger is taken
// as 63) it is cut at `max`; if the cut leaves trailing '-', they go and the
// room they took is filled from what follows the cut, past its own leading
// '-' ("hello" + 59 '-' + "f" -> "hellof"). Unlike Mesos-DNS, a '-' that the
// fill leaves last is trimmed too, so the result is always a valid label.
// "" when nothing is left.
std::string label(const std::string &name, size_t max = 63);

// The first 5 characters of zbase32(sha1(taskId)) (alphabet
// "ybndrfg8ejkmcpqxot1uwisza345h769", most significant bits first), as
// Mesos-DNS hashes a task id for its canonical name: taskHash("test") is
// "iffe9".
std::string taskHash(const std::string &taskId);

// The part of an agent id after its last '-' (all of it without one),
// lower-cased, as Mesos-DNS's slaveIDTail: "20140803-125133-3041283216-5050-2410-S0"
// -> "s0". Not sanitized further: taskLabels makes a label of it.
std::string agentTail(const std::string &agentId);

// The labels of one task's records:
//   label      L:  L.<framework>.<domain>, _L._tcp.<framework>.<domain>, L.<framework>.slave.<domain>, ...
//   canonical  C = <head>-<taskHash>-<tail>: C.<framework>.<domain>, C.<framework>.slave.<domain> (SRV targets)
// L0 = label(taskName(appId)). L is L0 when it fits; otherwise L0 cut (with
// label's rules) to leave room for "-" and the 5-character hash of L0
// itself, appended: a function of L0, the framework and the domain only, so
// every task of an app gets the same L, and two apps share an L exactly when
// they share L0. L fits when:
//   "_" + L is at most 63 bytes (L at most 62), and
//   the longest name we budget for, _<port>._L._tcp.<framework>.slave.<domain>
//   with a port label of up to 15 bytes (IANA's service names), is at most
//   253 bytes.
// C: tail is label(agentTail(agentId)); head is L0 when C fits, else L0 cut
// with label's rules so that C is at most 63 bytes and
// C.<framework>.slave.<domain> at most 253. The tail is cut first only when
// it alone would leave no byte for the head; an empty tail is left out with
// its '-' ("<head>-<taskHash>"). When nothing is cut (L0 and the tail short
// enough), L and C are Mesos-DNS's.
// Every name fits when framework.size() + domain.size() <= 220 (beyond it L
// and the head are 1 byte and the longest names are longer than 253: the
// zone's configuration should refuse such a domain). L and C are "" when
// the app id has no letter or digit (such a task gets no records).
struct TaskLabels {
  std::string label;
  std::string canonical;
};
TaskLabels taskLabels(const std::string &appId, const std::string &taskId, const std::string &agentId,
                      const std::string &framework, const std::string &domain);

// A port name's label for `_<port>._L._tcp.<framework>.<domain>`:
// label(portName), cut at 63 as Mesos-DNS cuts it (labels.RFC1123). A port
// name longer than the budget's 15 whose SRV name would pass 253 bytes gets
// no named record (zone.cpp); "" when nothing is left: no named record
// either (as in Mesos-DNS).
std::string portLabel(const std::string &portName);

}  // namespace dcos::dns
