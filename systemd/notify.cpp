#include "systemd/notify.h"

#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace dcos::systemd {

namespace {

void notify(const std::string &state) {
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) {
    log::warning("cannot notify systemd: " + std::string(std::strerror(-rc)));
  }
}

}  // namespace

void notifyReady(const std::string &status) { notify("READY=1\nSTATUS=" + status); }
void notifyStatus(const std::string &status) { notify("STATUS=" + status); }
void notifyStopping(const std::string &status) { notify("STOPPING=1\nSTATUS=" + status); }
void notifyWatchdog() { notify("WATCHDOG=1"); }

std::chrono::microseconds watchdogPingInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
    return std::chrono::microseconds(0);
  }
  return std::chrono::microseconds(usec / 2);
}

bool stderrIsJournal() {
  const char *stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  uintmax_t dev = 0;
  uintmax_t ino = 0;
  if (std::sscanf(stream, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) != 2) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == dev && st.st_ino == ino;
}

void journalSink(const log::Record &record) {
  std::string message(record.message);
  const std::string &role = log::role();
  int rc = 0;
  if (record.plugin.empty()) {
    rc = sd_journal_send("MESSAGE=%s", message.c_str(), "PRIORITY=%d", static_cast<int>(record.level),
                         "SYSLOG_IDENTIFIER=dcosd", "DCOS_ROLE=%s", role.c_str(), nullptr);
  } else {
    std::string plugin(record.plugin);
    std::string text = plugin + ": " + message;
    rc = sd_journal_send("MESSAGE=%s", text.c_str(), "PRIORITY=%d", static_cast<int>(record.level),
                         "SYSLOG_IDENTIFIER=dcosd", "DCOS_ROLE=%s", role.c_str(), "DCOS_PLUGIN=%s", plugin.c_str(),
                         nullptr);
  }
  if (rc < 0) {
    log::writeStderr(record);  // the journal went away; stderr still reaches it or a terminal
  }
}

}  // namespace dcos::systemd
