#!/usr/bin/python3
"""The masters' DNS beside NSD, on this machine, loopback only.

The zone: a synthetic cluster of 10,000 TASK_RUNNING tasks (1,000 apps of
10, over 100 agents, 3 masters; tests/bench/dns_bench.cpp says what is in
it), built by Zone::build. Our server (dcos::dns::Server, in `dns_bench
serve`), NSD (loading Zone::zoneFile() of the same zone, rate limiting
off) and an echo server (`dns_bench echo`: every packet back, no DNS work:
the kernel's and the machine's share, and the clients' ceiling) serve on
127.0.0.1, each pinned to the server core (1); the clients are pinned to
the client core (0). The servers run throughout; the loads take turns,
ours and NSD alternating which goes first in each round. Before each run
the cores are given up to 5 s to be quiet; the CPU that other work took
on them during the run is printed beside. Measured:

- same answers: ~35 names of every kind (A of task labels and canonical
  names, under slave. too, SRV, named-port SRV, NXDOMAIN, an empty
  non-terminal, leader, masters, agents (over TCP after TC), SOA, NS,
  AAAA) asked of both with dig: rcode, AA and the sorted answer section;
- max queries/s, ROUNDS runs of SECONDS each per server and client:
  dnsperf (-e: EDNS0, 4 clients, 100 outstanding) and the batched client
  `dns_bench blast` (sendmmsg/recvmmsg, 128 outstanding), with how busy
  each side's core was (from /proc) and the server's CPU per answered
  query (its user and system time over the answers: the figure other work
  moves least). dnsperf is taken for the bottleneck when the echo server
  gets less than 1.5x the best DNS server's rate out of it; the headline
  (the goal's) is then the batched client's;
- latency at a fixed rate (20,000 queries/s): `dns_bench latency` sends on
  schedule (open loop) and times every answer by the kernel's receive
  stamp, p50/p90/p99/p99.9 (dnsperf 2.10 prints no percentiles; its
  average at the same rate is shown beside). As root these runs put the
  servers and the client under SCHED_FIFO (--rt): they sleep between
  queries, so they take a core only while they work, and other work on the
  machine then delays them least;
- update lag: a master dcosd (its ZooKeeper, the DNS module, the scheduler
  off) on 127.0.0.1, 10,000 task records (and 100 agents) written to
  ZooKeeper first (with kazoo, as the scheduler and the agents write them),
  then, once a probe task shows within 1 s, for LAG_SECONDS 100 tasks/s
  created and 100/s deleted (each lives 2 s, each its own app, so its name
  is its own): from each create's completion until a UDP query for
  <label>.marathon.mesos gets an A record, and from each delete's until it
  gets NXDOMAIN (each pending name asked every 2 ms, at most 5,000 queries/s
  in all). A name deleted before it appeared, or not gone 30 s after the
  last write, counts as never (inf).

Goals (the issue's), printed beside the figures: queries/s at least 1.05x
NSD's, p99 at 20,000 qps at most 120 us, update lag p99 under 1 s.

Figures are from a shared machine: other work on its two cores moves them
by tens of percent between runs, the tails most. As root this script and
all it starts run at nice -10 (--nice).

Usage: tests/bench/dns.py [BUILD_DIR] [--rounds N] [--seconds S] [--rate QPS] [--lag-seconds S]
       [--lag-rate N] [--background N] [--skip-lag] [--[no-]rt] [--nice N] [--keep]
Needs dnsperf, nsd, dig (bind9-dnsutils), taskset, kazoo (python3-kazoo) and
ZooKeeper's server (libzookeeper-java), as the master role does. Root is not
needed. BUILD_DIR (default build) must hold tests/bench/dns_bench, dcosd and
the plugins (ninja dns_bench dcosd dcos_plugins).
"""
import argparse
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVER_CORE, CLIENT_CORE = 1, 0
RT_PRIORITY = 10
# Outstanding queries of the batched client: enough to keep either server's
# core busy, few enough for a socket's default receive buffer (212,992
# bytes: about 250 queries) not to overflow.
BLAST_WINDOW = 128
TICK = os.sysconf("SC_CLK_TCK")
logging.getLogger("kazoo").setLevel(logging.ERROR)


def fail(message):
    sys.exit("dns.py: " + message)


def free_port():
    """A port free for UDP and TCP on 127.0.0.1 now."""
    while True:
        port = random.randrange(20000, 30000)
        u, t = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket()
        try:
            u.bind(("127.0.0.1", port))
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()
            t.close()


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def median(values):
    return statistics.median(values) if values else float("nan")


# --- DNS over UDP, for readiness and the lag's polling ---------------------

def query_packet(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)


def ask(port, name, qtype=1, timeout=0.5):
    """(rcode, answer count) of one UDP query to 127.0.0.1:port, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        qid = random.randrange(65536)
        s.sendto(query_packet(qid, name, qtype), ("127.0.0.1", port))
        while True:
            data = s.recv(4096)
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                return data[3] & 0x0F, struct.unpack(">H", data[6:8])[0]
    except OSError:
        return None
    finally:
        s.close()


def wait_for(what, condition, within=60, every=0.05):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    fail(f"{what} did not happen within {within} s")


# --- processes --------------------------------------------------------------

class Procs:
    """Every process this run started, stopped at the end (each by its id,
    its process group with it: NSD's children, dcosd's ZooKeeper)."""

    def __init__(self):
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop(self, p, timeout=30):
        """SIGTERM to its group, SIGKILL to what is left of it; once only
        (a group id is not signalled again after it may have been reused)."""
        if p not in self.procs:
            return
        self.procs.remove(p)
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever of its group is left
        except ProcessLookupError:
            pass
        if p.poll() is None:
            p.wait()

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p)


def descendants(pid):
    """pid and every process below it (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def cpu_seconds(pids):
    """User plus system time of these processes (every thread), in s."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / TICK


def pinned(core, argv, rt=False):
    return ["taskset", "-c", str(core)] + (["chrt", "-f", str(RT_PRIORITY)] if rt else []) + argv


def set_fifo(pids, on):
    """Every thread of these processes to SCHED_FIFO (on) or back to
    SCHED_OTHER, keeping their nice."""
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task") if os.path.exists(f"/proc/{pid}/task") else []:
            try:
                if on:
                    os.sched_setscheduler(int(tid), os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
                else:
                    os.sched_setscheduler(int(tid), os.SCHED_OTHER, os.sched_param(0))
            except (OSError, ValueError):
                pass


def core_busy():
    """Busy jiffies of the server and the client core, from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name = line.split()[0]
            if name in ("cpu%d" % SERVER_CORE, "cpu%d" % CLIENT_CORE):
                v = [int(x) for x in line.split()[1:]]
                out[name] = sum(v[:8]) - v[3] - v[4]  # all but idle and iowait
    return out["cpu%d" % SERVER_CORE] + out["cpu%d" % CLIENT_CORE]


def wait_quiet(limit=0.25, within=5):
    """Waits (up to `within` s) until other work takes under `limit` of the
    two cores over half a second; returns the share it last saw."""
    deadline = time.monotonic() + within
    while True:
        b0, t0 = core_busy(), time.monotonic()
        time.sleep(0.5)  # the sampling interval of the measure, not a wait for a condition
        share = (core_busy() - b0) / TICK / (time.monotonic() - t0)
        if share < limit or time.monotonic() > deadline:
            return share


# --- the two servers ---------------------------------------------------------

NSD_CONF = """server:
  ip-address: 127.0.0.1
  port: {port}
  username: ""
  zonesdir: "{d}"
  database: ""
  pidfile: "{d}/nsd.pid"
  xfrdfile: "{d}/xfrd.state"
  zonelistfile: "{d}/zone.list"
  logfile: "{d}/nsd.log"
  server-count: 1
  hide-version: yes
  # Response rate limiting (on in Debian's build: 200 answers/s per /24 and
  # kind) would drop most of a benchmark's NXDOMAINs.
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: mesos
  zonefile: mesos.zone
"""


class Server:
    def __init__(self, name, port, proc):
        self.name, self.port, self.proc = name, port, proc
        self.pids = [proc.pid]

    def cpu(self):
        return cpu_seconds(self.pids)


def start_nsd(procs, work):
    d = os.path.join(work, "nsd")
    os.makedirs(d)
    shutil.copy(os.path.join(work, "mesos.zone"), os.path.join(d, "mesos.zone"))
    port = free_port()
    with open(os.path.join(d, "nsd.conf"), "w") as f:
        f.write(NSD_CONF.format(port=port, d=d))
    nsd = shutil.which("nsd") or "/usr/sbin/nsd"
    p = procs.start(pinned(SERVER_CORE, [nsd, "-d", "-c", os.path.join(d, "nsd.conf")]),
                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "nsd.stderr"), "w"))
    s = Server("NSD", port, p)

    def up():
        if p.poll() is not None:
            fail("nsd exited: see %s/nsd.log and nsd.stderr" % d)
        return ask(port, "leader.mesos") == (0, 1)
    wait_for("NSD answering", up, within=60)
    # NSD forks its transfer daemon and its server child (server-count 1);
    # its CPU is counted over all three.
    s.pids = wait_for("NSD's server processes", lambda: (lambda d: d if len(d) >= 3 else None)(descendants(p.pid)),
                      within=10)
    return s


def start_ours(procs, work, bench, mode="serve", name="ours"):
    port = free_port()
    log = open(os.path.join(work, name + ".out"), "w")
    p = procs.start(pinned(SERVER_CORE, [bench, mode, str(port)]), stdout=log, stderr=subprocess.STDOUT)
    s = Server(name, port, p)

    def up():
        if p.poll() is not None:
            fail("dns_bench %s exited: see %s/%s.out" % (mode, work, name))
        if mode == "echo":
            return ask(port, "leader.mesos") is not None
        return ask(port, "leader.mesos") == (0, 1)
    wait_for("dns_bench %s answering" % mode, up, within=60)
    s.pids = descendants(p.pid)
    return s


# --- same answers ----------------------------------------------------------

def dig(port, name, qtype):
    out = subprocess.run(["dig", "@127.0.0.1", "-p", str(port), "+tries=2", "+time=2", name, qtype, "+noall",
                          "+comments", "+answer"], capture_output=True, text=True, timeout=20).stdout
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r";; flags: ([^;]*);", out)
    answers = sorted(" ".join(line.lower().split()) for line in out.splitlines()
                     if line.strip() and not line.startswith(";"))
    return (status.group(1) if status else "no answer", "aa" in (flags.group(1).split() if flags else []), answers)


def sample_names(queries_file):
    """A few names of every kind from the query file, and the zone's own."""
    kinds = {}
    with open(queries_file) as f:
        for line in f:
            name, qtype = line.split()
            if name.startswith("nx"):
                kind = "nx"
            elif qtype == "SRV":
                kind = "srv-named" if name.startswith("_http.") else "srv"
            else:
                kind = ("canonical" if re.search(r"-[a-z0-9]{5}-s\d+\.", name) else "label") + (
                    "-slave" if ".slave." in name else "")
            if len(kinds.setdefault(kind, [])) < 3:
                kinds[kind].append((name, qtype))
    out = [q for qs in kinds.values() for q in qs]
    out += [("leader.mesos", "A"), ("master.mesos", "A"), ("master1.mesos", "A"), ("slave.mesos", "A"),
            ("_leader._tcp.mesos", "SRV"), ("_slave._tcp.mesos", "SRV"), ("marathon.mesos", "A"),
            ("_framework._tcp.marathon.mesos", "SRV"), ("ns1.mesos", "A"), ("mesos", "SOA"), ("mesos", "NS"),
            ("_tcp.marathon.mesos", "A"), ("no-such-name.mesos", "A"), (out[0][0], "AAAA")]
    return out


def same_answers(ours, nsd, names):
    diffs = []
    for name, qtype in names:
        a, b = dig(ours.port, name, qtype), dig(nsd.port, name, qtype)
        if a != b:
            diffs.append((name, qtype, a, b))
    return diffs


# --- load ---------------------------------------------------------------------

def run_client(server, argv, seconds, rt=False):
    """Runs a client pinned to the client core, once the cores are quiet:
    {"out": its stdout, "client_busy", "server_busy": the share of their
    cores each used, "server_cpu": s, "others": the share of a core that
    other work took on the two cores meanwhile, "quiet": the share it
    took just before}."""
    quiet = wait_quiet()
    s0, b0 = server.cpu(), core_busy()
    t0 = time.monotonic()
    p = subprocess.Popen(pinned(CLIENT_CORE, argv, rt), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # The client's own CPU, sampled just before it exits (a process's times
    # are gone once it is reaped).
    client = 0.0
    deadline = t0 + seconds + 30
    while p.poll() is None and time.monotonic() < deadline:
        client = max(client, cpu_seconds([p.pid]))
        time.sleep(0.05)
    out = p.communicate(timeout=max(1, deadline - time.monotonic()))[0]
    wall = time.monotonic() - t0
    server_cpu = server.cpu() - s0
    busy = (core_busy() - b0) / TICK
    if p.returncode != 0:
        fail("%s exited %d:\n%s" % (argv[0], p.returncode, out))
    return {"out": out, "client_busy": client / wall, "server_busy": server_cpu / wall, "server_cpu": server_cpu,
            "others": max(0.0, busy - client - server_cpu) / wall, "quiet": quiet}


def dnsperf_figures(out):
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    completed = re.search(r"Queries completed:\s+(\d+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    avg = re.search(r"Average Latency \(s\):\s+([\d.]+)", out)
    size = re.search(r"Average packet size:\s+request (\d+), response (\d+)", out)
    if not qps:
        fail("dnsperf printed no figures:\n" + out)
    return {"qps": float(qps.group(1)), "answered": int(completed.group(1)), "lost": int(lost.group(1)),
            "avg_us": float(avg.group(1)) * 1e6 if avg else float("nan"),
            "response_bytes": int(size.group(2)) if size else 0}


def kv_figures(out):
    line = out.strip().splitlines()[-1].split()
    return {line[i]: float(line[i + 1]) for i in range(0, len(line) - 1, 2) if re.match(r"^[\d.]+$", line[i + 1])}


def max_qps(servers, bench, queries, args):
    """{(server, client): [runs]}, each run a dict of figures."""
    runs = {}
    for r in range(args.rounds):
        for client in ("dnsperf", "blast"):
            order = servers[:2] if r % 2 == 0 else servers[1::-1]
            for s in order + servers[2:]:
                if client == "dnsperf":
                    argv = ["dnsperf", "-e", "-s", "127.0.0.1", "-p", str(s.port), "-d", queries, "-l",
                            str(args.seconds), "-c", "4", "-q", "100", "-t", "1"]
                else:
                    argv = [bench, "blast", str(s.port), queries, str(args.seconds), "--window", str(BLAST_WINDOW)]
                c = run_client(s, argv, args.seconds)
                f = dnsperf_figures(c["out"]) if client == "dnsperf" else kv_figures(c["out"])
                f.update({k: v for k, v in c.items() if k != "out"})
                f["us_per_query"] = c["server_cpu"] / max(1, f["answered"]) * 1e6
                runs.setdefault((s.name, client), []).append(f)
                print("  round %d %-7s %-4s %7.0f qps  lost %-5d client core %3.0f%%  server core %3.0f%%  "
                      "server CPU %5.2f us/query  other work %3.0f%% of a core" % (
                          r + 1, client, s.name, f["qps"], f["lost"], f["client_busy"] * 100,
                          f["server_busy"] * 100, f["us_per_query"], f["others"] * 100), flush=True)
    return runs


def latency(servers, bench, queries, args):
    """{server: [runs]} at the fixed rate; the echo server (no DNS work)
    among them shows the machine's own share."""
    runs = {}
    for s in servers:
        if args.rt:
            set_fifo(s.pids, True)
    try:
        for r in range(args.rounds):
            order = servers[:2] if r % 2 == 0 else servers[1::-1]
            for s in order + servers[2:]:
                c = run_client(s, [bench, "latency", str(s.port), queries, str(args.rate), str(args.seconds)],
                               args.seconds, rt=args.rt)
                f = kv_figures(c["out"])
                f.update({k: v for k, v in c.items() if k != "out"})
                runs.setdefault(s.name, []).append(f)
                print("  round %d %-4s %5.0f qps  p50 %5.1f  p90 %6.1f  p99 %7.1f  p99.9 %7.1f  max %8.1f us  "
                      "(as read: p99 %7.1f)  lost %d  server core %3.0f%%  client late by up to %.1f ms  "
                      "other work %3.0f%% of a core" % (
                          r + 1, s.name, f["qps"], f["p50_us"], f["p90_us"], f["p99_us"], f["p999_us"], f["max_us"],
                          f["app_p99_us"], f["lost"], f["server_busy"] * 100, f["client_behind_max_us"] / 1000,
                          f["others"] * 100), flush=True)
        dnsperf = [s for s in servers if s.name != "echo"]
        for s in dnsperf:
            c = run_client(s, ["dnsperf", "-e", "-s", "127.0.0.1", "-p", str(s.port), "-d", queries, "-l",
                               str(args.seconds), "-Q", str(args.rate), "-t", "1"], args.seconds, rt=args.rt)
            f = dnsperf_figures(c["out"])
            runs[s.name + " dnsperf"] = f
            print("  dnsperf -Q %d %-4s %5.0f qps  average %6.1f us  lost %d" % (
                args.rate, s.name, f["qps"], f["avg_us"], f["lost"]), flush=True)
    finally:
        for s in servers:
            set_fifo(s.pids, False)
    return runs


def quietest(per_server):
    """The runs of the round in which other work took least (the most it
    took in any of that round's runs): one run per server, and that share."""
    rounds = range(min(len(r) for r in per_server))
    best = min(rounds, key=lambda i: max(r[i]["others"] for r in per_server))
    return [r[best] for r in per_server] + [max(r[best]["others"] for r in per_server)]


# --- update lag ------------------------------------------------------------------

class Poller(threading.Thread):
    """Asks the pending names over one UDP socket, every 2 ms each while at
    most 10 are pending, and at most 5,000 queries/s in all (the oldest-asked
    first), so that a backlog does not turn into a flood that takes the
    cores from what is measured. A name is done once its answer is what is
    awaited: an A record ("appear") or NXDOMAIN ("vanish")."""

    def __init__(self, port, every=0.002, rate=5000):
        super().__init__(daemon=True)
        self.port, self.every, self.budget = port, every, max(1, int(rate * every))
        self.lock = threading.Lock()
        self.pending = {}  # qid -> [name, want, since, results, last asked]
        self.next_id = 0
        self.asked = 0
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)

    def watch(self, name, want, since, results):
        with self.lock:
            self.next_id = (self.next_id + 1) % 65536
            self.pending[self.next_id] = [name, want, since, results, 0.0]
            return self.next_id

    def cancel(self, qid):
        """Stops asking; True when it was still pending."""
        with self.lock:
            return self.pending.pop(qid, None) is not None

    def outstanding(self):
        with self.lock:
            return len(self.pending)

    def run(self):
        import select
        while not self.stop.is_set():
            t_next = time.monotonic() + self.every
            with self.lock:
                oldest = sorted(self.pending.items(), key=lambda kv: kv[1][4])[:self.budget]
                now = time.monotonic()
                for _, v in oldest:
                    v[4] = now
            for qid, v in oldest:
                try:
                    self.sock.sendto(query_packet(qid, v[0]), ("127.0.0.1", self.port))
                    self.asked += 1
                except OSError:
                    pass
            while True:
                left = t_next - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    break
                while True:
                    try:
                        data = self.sock.recv(4096)
                    except BlockingIOError:
                        break
                    now = time.monotonic()
                    if len(data) < 12:
                        continue
                    qid = struct.unpack(">H", data[:2])[0]
                    rcode, ancount = data[3] & 0x0F, struct.unpack(">H", data[6:8])[0]
                    with self.lock:
                        v = self.pending.get(qid)
                        if v is None:
                            continue
                        name, want, since, results, _ = v
                        if (want == "appear" and rcode == 0 and ancount > 0) or (want == "vanish" and rcode == 3):
                            results.append(now - since)
                            del self.pending[qid]


def lag_node(work, build, port):
    cluster = json.load(open(f"{SOURCE}/examples/cluster/cluster.json"))
    zk_ports = [free_port() for _ in range(3)]
    cluster.update({"masters": ["127.0.0.1"], "resolvers": [],
                    "zookeeper": {"client_port": zk_ports[0], "peer_port": zk_ports[1], "election_port": zk_ports[2],
                                  "session_timeout_ms": 10000}})
    node = json.load(open(f"{SOURCE}/examples/cluster/node-master.json"))
    node.update({"address": "127.0.0.1", "hostname": "master-1", "api": {"listen": "127.0.0.1:%d" % free_port()},
                 "firewall": {"enabled": False},
                 "modules": {"zookeeper": {"executor": "process"}, "scheduler": {"enabled": False},
                             "dns": {"port": port, "listen": ["127.0.0.1"]},
                             "router": {"enabled": False}}})
    d = os.path.join(work, "master")
    os.makedirs(os.path.join(d, "config"))
    with open(os.path.join(d, "config/cluster.json"), "w") as f:
        json.dump(cluster, f)
    with open(os.path.join(d, "config/node.json"), "w") as f:
        json.dump(node, f)
    argv = [os.path.join(build, "dcosd/dcosd"), "--config-dir", os.path.join(d, "config"), "--plugin-dir",
            os.path.join(build, "plugins"), "--state-dir", os.path.join(d, "state"), "--log-level", "notice"]
    return d, argv, "127.0.0.1:%d" % zk_ports[0]


def task_json(task_id, app_id, agent_id, port):
    # As the scheduler writes a task (taskRecordJson in scheduler.cpp).
    now = int(time.time() * 1000)
    return json.dumps({"id": task_id, "appId": app_id, "agentId": agent_id, "host": "", "version": "bench",
                       "ports": [port], "state": "TASK_RUNNING", "message": "", "stagedAtMs": now,
                       "startedAtMs": now, "killing": False}).encode()


def update_lag(procs, work, build, args):
    from kazoo.client import KazooClient

    port = free_port()
    d, argv, zk_hosts = lag_node(work, build, port)
    log = open(os.path.join(d, "dcosd.log"), "w")
    dcosd = procs.start(argv, stdout=log, stderr=subprocess.STDOUT)

    def dns_up():
        if dcosd.poll() is not None:
            fail("the master's dcosd exited: see %s/dcosd.log" % d)
        return ask(port, "master.mesos") == (0, 1)
    t0 = time.monotonic()
    wait_for("the master's DNS answering", dns_up, within=180, every=0.2)
    zk = KazooClient(hosts=zk_hosts, timeout=30.0)
    zk.start(timeout=60)
    try:
        tasks = "/dcos/scheduler/tasks"
        zk.ensure_path(tasks)
        zk.ensure_path("/dcos/agents")
        agents = []
        for k in range(100):
            aid = "lag-agent-S%d" % k
            zk.create("/dcos/agents/" + aid, json.dumps({
                "id": aid, "hostname": "agent-%d" % k, "address": "10.1.%d.%d" % (k // 200, k % 200 + 1),
                "api": "127.0.0.1:1"}).encode(), ephemeral=True)
            agents.append(aid)
        # The background: as many tasks as the zone benchmark's.
        t1 = time.monotonic()
        pending = []
        for i in range(args.background):
            app = "/bench/app%d" % (i // 10)
            tid = "bench_app%d.%08x-0000-11ee-0000-%012x" % (i // 10, i, i)
            pending.append(zk.create_async(tasks + "/" + tid, task_json(tid, app, agents[i % 100], 20000 + i // 100)))
            if len(pending) >= 1000:
                for p in pending:
                    p.get(timeout=60)
                pending = []
        for p in pending:
            p.get(timeout=60)
        last = "app%d-bench.marathon.mesos" % ((args.background - 1) // 10)
        if args.background:
            wait_for("the background tasks in the zone", lambda: (ask(port, last) or (1, 0))[1] > 0, within=300)
        t_loaded = time.monotonic() - t1
        # Settled: the module has read everything the load changed once a
        # probe task shows within a second of its create.
        t2 = time.monotonic()
        for n in range(100):
            tid = "lag_probe%d.00000000-0000-11ee-0000-000000000000" % n
            zk.create(tasks + "/" + tid, task_json(tid, "/lag/probe%d" % n, agents[0], 31000))
            t_probe = time.monotonic()
            wait_for("a probe task in the zone", lambda: (ask(port, "probe%d-lag.marathon.mesos" % n) or (1, 0))[1] > 0,
                     within=300, every=0.002)
            zk.delete(tasks + "/" + tid)
            if time.monotonic() - t_probe < 1:
                break
        print("  master dcosd answering after %.1f s; %d background tasks written and in the zone after %.1f s, "
              "settled %.1f s later" % (t1 - t0, args.background, t_loaded, time.monotonic() - t2), flush=True)

        poller = Poller(port)
        poller.start()
        appear, vanish, errors = [], [], []
        live = []  # [name, path, the appear watch's id] in creation order
        total = int(args.lag_seconds * args.lag_rate)
        life = int(args.task_life * args.lag_rate)
        start = time.monotonic() + 0.1
        never = [0]  # deleted before its name appeared

        def created(entry):
            def done(a):
                if a.exception is not None:
                    errors.append(a.exception)
                    return
                entry[2] = poller.watch(entry[0], "appear", time.monotonic(), appear)
            return done

        def deleted(entry):
            def done(a):
                if a.exception is not None:
                    errors.append(a.exception)
                    return
                t = time.monotonic()
                if entry[2] is not None and poller.cancel(entry[2]):
                    appear.append(float("inf"))
                    never[0] += 1
                poller.watch(entry[0], "vanish", t, vanish)
            return done

        behind = 0.0
        for i in range(total + life):
            due = start + i / args.lag_rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                behind = max(behind, -wait)
            if i < total:
                tid = "lag_t%d.%08x-0000-11ee-0000-000000000000" % (i, i)
                # /lag/t<i>: the task name t<i>.lag, its label t<i>-lag.
                entry = ["t%d-lag.marathon.mesos" % i, tasks + "/" + tid, None]
                live.append(entry)
                zk.create_async(entry[1], task_json(tid, "/lag/t%d" % i, agents[i % 100], 31000)).rawlink(
                    created(entry))
            if i >= life and i - life < total:
                entry = live[i - life]
                zk.delete_async(entry[1]).rawlink(deleted(entry))
        # What has not happened 30 s after the last write is counted as never.
        deadline = time.monotonic() + 30
        while (poller.outstanding() > 0 or len(appear) + len(vanish) + len(errors) < 2 * total) and \
                time.monotonic() < deadline and poller.is_alive():
            time.sleep(0.05)
        poller.stop.set()
        poller.join()
        if errors:
            fail("ZooKeeper: %d writes failed: %s" % (len(errors), errors[0]))
        late = total - len(vanish)
        appear += [float("inf")] * (total - len(appear))
        vanish += [float("inf")] * (total - len(vanish))
        print("  %d tasks created and deleted at %d/s each (each living %.1f s); the writer at most %.0f ms behind "
              "schedule; %d queries asked (at most 5,000/s); %d names deleted before they appeared, %d not gone 30 s "
              "after the last delete" % (total, args.lag_rate, args.task_life, behind * 1000, poller.asked, never[0],
                                         late), flush=True)
        return {"appear": appear, "vanish": vanish}
    finally:
        zk.stop()
        zk.close()
        procs.stop(dcosd)


# --- main -------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--rounds", type=int, default=3, help="runs per server of each load")
    ap.add_argument("--seconds", type=float, default=10, help="s per run")
    ap.add_argument("--rate", type=int, default=20000, help="queries/s of the latency runs")
    ap.add_argument("--lag-seconds", type=float, default=30)
    ap.add_argument("--lag-rate", type=int, default=100, help="tasks/s created, and as many deleted")
    ap.add_argument("--task-life", type=float, default=2.0, help="s from a task's create to its delete")
    ap.add_argument("--background", type=int, default=10000, help="task records in ZooKeeper during the lag runs")
    ap.add_argument("--skip-lag", action="store_true")
    root = os.geteuid() == 0
    ap.add_argument("--nice", type=int, default=-10 if root else 0,
                    help="nice of this script and all it starts (default -10 as root, else 0)")
    ap.add_argument("--rt", action=argparse.BooleanOptionalAction, default=root,
                    help="the latency runs' servers and client under SCHED_FIFO %d (default as root)" % RT_PRIORITY)
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    bench = os.path.join(build, "tests/bench/dns_bench")
    for tool in ("dnsperf", "dig", "taskset"):
        if shutil.which(tool) is None:
            fail(tool + " is missing (scripts/install-deps.sh installs it)")
    if not os.path.exists(bench):
        fail(bench + " is missing: ninja -C %s dns_bench dcosd dcos_plugins" % build)
    if len(os.sched_getaffinity(0)) < 2:
        fail("needs 2 cores (one for the server, one for the client)")

    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by all it starts
    work = tempfile.mkdtemp(prefix="dcos-bench-dns.")
    procs = Procs()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("dns.py: terminated"))
    try:
        zone, queries = os.path.join(work, "mesos.zone"), os.path.join(work, "queries")
        subprocess.run([bench, "zone-file", zone], check=True)
        subprocess.run([bench, "queries", queries], check=True)
        with open(zone) as f:
            records = sum(1 for line in f if " IN " in line)
        nsd_version = subprocess.run([shutil.which("nsd") or "/usr/sbin/nsd", "-v"], capture_output=True,
                                     text=True).stderr.strip().splitlines()[0]
        dnsperf_version = re.search(r"Version ([\d.]+)", subprocess.run(
            ["dnsperf", "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout)
        print("dns bench: zone of 10,000 tasks (%d records), 100,000 queries (80%% A, 15%% SRV, 5%% NXDOMAIN, EDNS0); "
              "server on core %d, clients on core %d, nice %d, latency runs %s; %s, dnsperf %s; load average %.2f "
              "(shared machine: noisy)"
              % (records, SERVER_CORE, CLIENT_CORE, args.nice, "SCHED_FIFO" if args.rt else "not real-time", nsd_version,
                 dnsperf_version.group(1) if dnsperf_version else "?", os.getloadavg()[0]), flush=True)
        ours = start_ours(procs, work, bench)
        nsd = start_nsd(procs, work)
        echo = start_ours(procs, work, bench, mode="echo", name="echo")
        servers = [ours, nsd, echo]

        names = sample_names(queries)
        diffs = same_answers(ours, nsd, names)
        print("same answers (%d names: rcode, AA and the sorted answer section, with dig): %s" % (
            len(names), "yes" if not diffs else "no"), flush=True)
        for name, qtype, a, b in diffs:
            print("  %s %s\n    ours: %s\n    NSD:  %s" % (name, qtype, a, b))

        print("max queries/s (%d rounds of %.0f s):" % (args.rounds, args.seconds), flush=True)
        qps = max_qps(servers, bench, queries, args)
        print("latency at %d queries/s (%d rounds of %.0f s):" % (args.rate, args.rounds, args.seconds), flush=True)
        lat = latency(servers, bench, queries, args)
        for s in servers:
            procs.stop(s.proc)

        lag = None
        if not args.skip_lag:
            print("update lag:", flush=True)
            lag = update_lag(procs, work, build, args)

        # The figures.
        def m(server, client, key):
            return median([r[key] for r in qps[(server, client)]])
        # dnsperf is the bottleneck when a server that does no DNS work at
        # all gets hardly more out of it than the DNS servers do, or its
        # core is as busy as theirs.
        best_dnsperf = max(m("ours", "dnsperf", "qps"), m("NSD", "dnsperf", "qps"))
        dnsperf_busy = median([r["client_busy"] for srv in ("ours", "NSD") for r in qps[(srv, "dnsperf")]])
        server_busy = median([r["server_busy"] for srv in ("ours", "NSD") for r in qps[(srv, "dnsperf")]])
        dnsperf_bound = m("echo", "dnsperf", "qps") < 1.5 * best_dnsperf or dnsperf_busy >= 0.9 * server_busy
        head = "blast" if dnsperf_bound else "dnsperf"
        print()
        print("dns bench: medians of %d runs of %.0f s; servers on core %d, clients on core %d; echo: a UDP server "
              "that sends every packet back (no DNS work), the machine's share" % (
                  args.rounds, args.seconds, SERVER_CORE, CLIENT_CORE))
        row = lambda *c: print("%-50s %15s %15s %9s %15s %15s" % c)
        row("figure", "ours", "NSD", "ours/NSD", "echo", "goal")
        for client, label in (("dnsperf", "dnsperf -e -c 4 -q 100"), ("blast", "dns_bench blast, %d out" % BLAST_WINDOW)):
            o, n = m("ours", client, "qps"), m("NSD", client, "qps")
            row("max queries/s, %s%s" % (label, " *" if client == head else ""), "%.0f" % o, "%.0f" % n,
                "%.2fx" % (o / n), "%.0f" % m("echo", client, "qps"), ">= 1.05x" if client == head else "")
            busy = lambda srv: "%.0f%% / %.0f%%" % (m(srv, client, "client_busy") * 100,
                                                   m(srv, client, "server_busy") * 100)
            row("  client core / server core busy", busy("ours"), busy("NSD"), "", busy("echo"), "")
            per = lambda srv: "%.2f us" % m(srv, client, "us_per_query")
            row("  server CPU per answered query", per("ours"), per("NSD"),
                "%.2fx" % (m("ours", client, "us_per_query") / m("NSD", client, "us_per_query")), per("echo"), "")
            lost = lambda srv: "%.0f" % m(srv, client, "lost")
            row("  queries lost (no answer)", lost("ours"), lost("NSD"), "", lost("echo"), "")
            others = lambda srv: "%.0f%%" % (m(srv, client, "others") * 100)
            row("  other work on the two cores (of one core)", others("ours"), others("NSD"), "", others("echo"), "")
            q = quietest([qps[(srv, client)] for srv in ("ours", "NSD", "echo")])
            row("  the quietest round's (other work at most %.0f%%)" % (q[3] * 100), "%.0f" % q[0]["qps"],
                "%.0f" % q[1]["qps"], "%.2fx" % (q[0]["qps"] / q[1]["qps"]), "%.0f" % q[2]["qps"], "")
        size = lambda srv: "%d B" % qps[(srv, "dnsperf")][0]["response_bytes"]
        row("  mean answer size (NSD adds NS and its A)", size("ours"), size("NSD"), "", "", "")
        lm = lambda srv, k: median([r[k] for r in lat[srv]])
        for k, label, goal in (("p50_us", "p50", ""), ("p90_us", "p90", ""), ("p99_us", "p99", "<= 120 us"),
                               ("p999_us", "p99.9", "")):
            row("latency at %d qps: %s" % (args.rate, label), "%.1f us" % lm("ours", k), "%.1f us" % lm("NSD", k),
                "", "%.1f us" % lm("echo", k), goal)
        each = lambda srv: "/".join("%.0f" % r["p99_us"] for r in lat[srv])
        row("  p99 of each run", each("ours"), each("NSD"), "", each("echo"), "")
        row("  p99 as the client read it (it is preempted)", "%.1f us" % lm("ours", "app_p99_us"),
            "%.1f us" % lm("NSD", "app_p99_us"), "", "%.1f us" % lm("echo", "app_p99_us"), "")
        q = quietest([lat[srv] for srv in ("ours", "NSD", "echo")])
        row("  p99 in the quietest round (other work at most %.0f%%)" % (q[3] * 100), "%.1f us" % q[0]["p99_us"],
            "%.1f us" % q[1]["p99_us"], "", "%.1f us" % q[2]["p99_us"], "")
        row("  lost", "%.0f" % lm("ours", "lost"), "%.0f" % lm("NSD", "lost"), "", "%.0f" % lm("echo", "lost"), "")
        row("  other work on the two cores (of one core)", "%.0f%%" % (lm("ours", "others") * 100),
            "%.0f%%" % (lm("NSD", "others") * 100), "", "%.0f%%" % (lm("echo", "others") * 100), "")
        row("  dnsperf -Q %d: average" % args.rate, "%.1f us" % lat["ours dnsperf"]["avg_us"],
            "%.1f us" % lat["NSD dnsperf"]["avg_us"], "", "", "")
        if lag:
            for k in ("appear", "vanish"):
                v = lag[k]
                row("update lag, %s (%d tasks): p50 / p99" % (k, len(v)),
                    "%.0f / %.0f ms" % (pct(v, 50) * 1000, pct(v, 99) * 1000), "", "", "", "p99 < 1000 ms")
                row("  max", "%.0f ms" % (max(v) * 1000), "", "", "", "")
        print("* the headline client. dnsperf the bottleneck: %s (its core %.0f%% busy against the DNS servers' "
              "%.0f%%; against echo, which does no DNS work, it got %.0f/s, %.2fx what it got from the faster DNS "
              "server)" % ("yes, so the headline is the batched client's" if dnsperf_bound else "no",
                           dnsperf_busy * 100, server_busy * 100, m("echo", "dnsperf", "qps"),
                           m("echo", "dnsperf", "qps") / best_dnsperf))
        o, n = m("ours", head, "qps"), m("NSD", head, "qps")
        goals = [("queries/s at least 1.05x NSD's (%s: %.2fx)" % (head, o / n), o >= 1.05 * n),
                 ("p99 at %d qps at most 120 us (%.1f us)" % (args.rate, lm("ours", "p99_us")),
                  lm("ours", "p99_us") <= 120)]
        if lag:
            p99 = max(pct(lag["appear"], 99), pct(lag["vanish"], 99))
            goals.append(("update lag p99 under 1 s (%.0f ms)" % (p99 * 1000), p99 < 1.0))
        for text, met in goals:
            print("goal: %-60s %s" % (text, "met" if met else "missed"))
        if lm("echo", "p99_us") > 120:
            print("note: the echo server, doing no DNS work, had p99 %.1f us here: this machine's own tail (its "
                  "scheduler and the other work on it) is above the latency goal, which it cannot show either way"
                  % lm("echo", "p99_us"))
        if diffs:
            fail("the servers' answers differ for %d names" % len(diffs))
    finally:
        procs.stop_all()
        if args.keep:
            print("work dir kept: " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
