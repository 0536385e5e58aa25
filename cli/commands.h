// The CLI's commands that talk to a cluster over HTTP, as the DC/OS CLI had
// them: `dcos marathon app|task|deployment ...` against the scheduler's
// Marathon API (under /marathon/ on the admin URL), `dcos task [log]`, and
// `dcos node list`. Each takes the whole argv and returns the exit status
// (cli/args.h); what went wrong is printed on stderr.
#pragma once

namespace dcos::cli {

// argv[1] is "marathon".
int marathonCommand(int argc, char **argv);
// argv[1] is "task": `dcos task [FILTER]` or `dcos task log ...`.
int taskCommand(int argc, char **argv);
// argv[1] is "node", argv[2] "list".
int nodeListCommand(int argc, char **argv);

// The help texts of `dcos marathon --help`, `dcos task --help` and
// `dcos node --help`.
extern const char *const kMarathonHelp;
extern const char *const kTaskHelp;
extern const char *const kNodeHelp;

}  // namespace dcos::cli
