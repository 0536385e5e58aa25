// dcosd's side of systemd: readiness and status notifications, the watchdog,
// and logging to journald with structured fields. Every call is a no-op where
// systemd did not ask for it (no NOTIFY_SOCKET, no WATCHDOG_USEC, stderr not
// connected to the journal), so dcosd runs the same with or without systemd.
#pragma once

#include <chrono>
#include <string>

#include "base/log.h"

namespace dcos::systemd {

// READY=1 with a STATUS= line.
void notifyReady(const std::string &status);
void notifyStatus(const std::string &status);
// STOPPING=1 with a STATUS= line.
void notifyStopping(const std::string &status);
void notifyWatchdog();

// How often the watchdog wants a ping (half of WATCHDOG_USEC, as systemd
// recommends), or zero when there is no watchdog for this process.
std::chrono::microseconds watchdogPingInterval();

// True when stderr is a journald stream (systemd sets JOURNAL_STREAM), so
// records should go to the journal natively, with their fields.
bool stderrIsJournal();

// A log sink that sends each record to journald: MESSAGE, PRIORITY,
// SYSLOG_IDENTIFIER=dcosd, DCOS_ROLE and (for plugin records) DCOS_PLUGIN.
void journalSink(const log::Record &record);

}  // namespace dcos::systemd
