#!/usr/bin/python3
"""The scheduler under load, on this machine, loopback only: ZooKeeper and the
scheduler on 1 or 3 master dcosds (127.0.0.1, .2, .3), N simulated agent
dcosds (docs/agent-api.md, "Simulated agents": each registers, accounts
launches and reports status updates, but runs no process), all with the
firewall off.

Once every agent is registered in /dcos/agents, APPS apps of INSTANCES
instances each are POSTed to the leader by 4 clients at once. Measured:

- launch: from the first POST until every task is TASK_RUNNING in the
  leader's API (GET /v2/apps?embed=apps.tasks, the sum of tasksRunning) and
  stored (every znode under /dcos/scheduler/tasks read back with kazoo, a
  client that is not ours, says TASK_RUNNING); tasks/s over that time.
- GET /v2/apps?embed=apps.tasks on the leader, one client, a request every
  --get-interval s: p50/p99 while the launch runs and for --steady s after.
- CPU seconds during the launch, per part (the leader's dcosd, its
  ZooKeeper, the other masters, the simulated agents, this bench) beside
  what the machine had: on one machine the agents share the cores with the
  leader, which a real cluster's agents do not.
- ZooKeeper bytes per task: the data under /dcos/scheduler (tasks alone and
  all of it) over the task count; the server's zk_approximate_data_size
  (mntr); the newest snapshot on disk (taken when a server loads its data,
  so after the failover) over the task count.
- failover with every task in state: the leader's dcosd (and with it its
  ZooKeeper server) SIGKILLed; with 3 masters a follower takes over, with 1
  the same master is started again. Times from the kill until /v2/leader
  names a live leader, until it says elected in /v2/info, until it accepts a
  new app, and until that app's task is TASK_RUNNING (the leader acts); then
  the task count is checked (none lost or doubled).

Figures are from a shared machine (other work runs on its cores): noisy.
The simulated agents run at nice 10 (--agents-nice): they stand in for other
machines, and take the masters' cpu only when the masters leave it; --pin
puts the masters on cpu 0 and the agents and this bench on the others.
Every dcosd here connects from 127.0.0.1, so two limits per client address
are lifted: ZooKeeper's maxClientCnxns (60) and the master's node API
max_connections_per_client (512); a real cluster's agents each have an
address of their own. One master by default: with 3 on 2 shared cores the
ensemble lost its quorum under the launch (a follower dropped, sessions
expired), which measures the machine rather than the scheduler.

Usage: tests/bench/scheduler.py [BUILD_DIR] [--masters 1|3] [--agents N] [--apps N] [--instances N]
       [--get-interval S] [--steady S] [--perf FILE] [--keep] [--pin] [--agents-nice N]
Root is not needed. Needs kazoo (python3-kazoo) and ZooKeeper's server
(libzookeeper-java) as the master role does.
"""
import argparse
import http.client
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SESSION_TIMEOUT_MS = 5000  # cluster.json's default, written out explicitly
logging.getLogger("kazoo").setLevel(logging.ERROR)  # its reconnects on a busy machine are not news


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_next_port = [random.randrange(10000, ephemeral_low() - 2000)]


def free_port(address="127.0.0.1"):
    """A port free now, below the ephemeral range: a hundred dcosds' own
    connections (to ZooKeeper, to each other) take ephemeral ports, and one
    of them could take a listening port chosen there before its dcosd binds."""
    while True:
        port = _next_port[0]
        _next_port[0] = port + 1 if port + 1 < ephemeral_low() else 10000
        s = socket.socket()
        try:
            s.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            s.close()


def fail(message):
    sys.exit("scheduler.py: " + message)


class Api:
    """One keep-alive connection to a node API."""

    def __init__(self, address, timeout=60):
        host, port = address.rsplit(":", 1)
        self.address = address
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.connect()
        # http.client sends a POST's head and body in two writes: without
        # NODELAY, Nagle holds the body for the server's delayed ACK (40 ms).
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def raw(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()

    def call(self, method, path, body=None):
        status, data = self.raw(method, path, body)
        try:
            return status, json.loads(data or b"{}")
        except ValueError:
            return status, data.decode(errors="replace")


def once(address, method, path, body=None, timeout=5):
    """(status, JSON) of one call on a connection of its own; (0, error) when
    it could not be made."""
    try:
        return Api(address, timeout).call(method, path, body)
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)


def wait_for(what, condition, within=60, every=0.01):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    fail(f"{what} did not happen within {within} s")


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Node:
    """One dcosd: its config dir, state dir and log under work/<name>."""

    def __init__(self, build, work, name, cluster, node, cpus=None, nice=0):
        self.build, self.name, self.cpus, self.nice = build, name, cpus, nice
        self.dir = os.path.join(work, name)
        os.makedirs(os.path.join(self.dir, "config"))
        self.api = node["api"]["listen"]
        with open(os.path.join(self.dir, "config/cluster.json"), "w") as f:
            json.dump(cluster, f)
        with open(os.path.join(self.dir, "config/node.json"), "w") as f:
            json.dump(node, f)
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "dcosd.log"), "a")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "dcosd/dcosd"), "--config-dir", os.path.join(self.dir, "config"),
             "--plugin-dir", os.path.join(self.build, "plugins"), "--state-dir", os.path.join(self.dir, "state"),
             "--log-level", "notice"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            preexec_fn=self._place)
        log.close()

    def _place(self):
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)
        if self.nice:
            os.nice(self.nice)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


# ZooKeeper allows 60 connections per client address (maxClientCnxns), and
# every dcosd here connects from 127.0.0.1; a real cluster's agents each have
# an address of their own. The servers are started through this wrapper
# (the zookeeper module's "java"), which lifts the limit in a copy of zoo.cfg.
JAVA_WRAPPER = """#!/bin/bash
cfg="${!#}"
{ grep -v '^maxClientCnxns=' "$cfg"; echo maxClientCnxns=0; } > "$cfg.bench" || exit 1
exec /usr/bin/java "${@:1:$#-1}" "$cfg.bench"
"""


def snapshot_bytes(master):
    """The newest ZooKeeper snapshot in a master's state dir: (bytes, name)."""
    newest = (0, 0, "")
    for root, _, files in os.walk(os.path.join(master.dir, "state")):
        for f in files:
            if f.startswith("snapshot."):
                st = os.stat(os.path.join(root, f))
                newest = max(newest, (st.st_mtime, st.st_size, f))
    return newest[1], newest[2]


def mntr(address):
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"mntr")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return dict(line.split("\t", 1) for line in data.decode().splitlines() if "\t" in line)


def read_tasks(zk):
    """Every task znode's data: {id: bytes}, read with async gets."""
    names = zk.get_children("/dcos/scheduler/tasks")
    pending = [(n, zk.get_async("/dcos/scheduler/tasks/" + n)) for n in names]
    out = {}
    for n, a in pending:
        try:
            out[n] = a.get(timeout=30)[0]
        except Exception:  # removed meanwhile
            pass
    return out


def tree_bytes(zk, path):
    """(znodes, data bytes) under path, itself included."""
    data, stat = zk.get(path)
    nodes, size = 1, stat.dataLength
    for child in zk.get_children(path):
        n, s = tree_bytes(zk, path + "/" + child)
        nodes += n
        size += s
    return nodes, size


class Sampler(threading.Thread):
    """GET /v2/apps?embed=apps.tasks on the leader, one client, one request
    every `interval` s: (monotonic time, latency ms, tasks running).

    Each GET is made and timed by curl, a process of its own: timed from
    this process, a 5 MB answer read in a thread that waits for Python's
    lock between reads (the POSTing clients hold it) measured the bench."""

    RUNNING = re.compile(rb'"tasksRunning":(\d+)')

    def __init__(self, address, interval):
        super().__init__(daemon=True)
        self.address, self.interval = address, interval
        self.samples = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self):
        url = "http://%s/v2/apps?embed=apps.tasks" % self.address
        # The body into a file (through a pipe, curl would wait for this
        # process to read it), curl's figures on its stdout.
        fd, path = tempfile.mkstemp(prefix="dcos-bench-get.")
        os.close(fd)
        while not self.stop.is_set():
            r = subprocess.run(["curl", "-s", "--max-time", "30", "-o", path, "-w", "%{http_code} %{time_total}", url],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                code, seconds = r.stdout.split()
                ok = r.returncode == 0 and code == b"200"
            except ValueError:
                ok = False
            if ok:
                with open(path, "rb") as f:
                    body = f.read()
                running = sum(int(m) for m in self.RUNNING.findall(body))
                self.samples.append((time.monotonic(), float(seconds) * 1000, running))
            else:
                self.errors += 1
            self.stop.wait(self.interval)
        os.unlink(path)


def cpu_seconds(pids):
    """User+system CPU seconds the processes (all their threads) have used."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            pass  # gone meanwhile
    return total


def machine_cpu():
    """(busy, all) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks[:8]) - idle) / tick, sum(ticks[:8]) / tick


def children_of(pid):
    """Every descendant of pid (a master's ZooKeeper java, through its wrapper)."""
    parents = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parents.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        for c in parents.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def elected(address):
    status, body = once(address, "GET", "/v2/info", timeout=2)
    return status == 200 and isinstance(body, dict) and body.get("elected") is True


def leader_of(masters):
    """The master whose API address /v2/leader names, asked of any live master."""
    for m in masters:
        if not m.alive():
            continue
        status, body = once(m.api, "GET", "/v2/leader", timeout=2)
        if status == 200 and isinstance(body, dict):
            return next((x for x in masters if x.api == body.get("leader")), None)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--masters", type=int, choices=[1, 3], default=1)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--apps", type=int, default=100)
    ap.add_argument("--instances", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4, help="POSTing at once")
    ap.add_argument("--get-interval", type=float, default=0.1, help="s between a GET's answer and the next GET")
    ap.add_argument("--steady", type=float, default=10, help="s of GETs after the launch")
    ap.add_argument("--timeout", type=float, default=1800, help="s the launch may take")
    ap.add_argument("--perf", help="perf record the leader's dcosd during the launch into this file")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (logs, state)")
    ap.add_argument("--pin", action="store_true",
                    help="the masters (dcosd and ZooKeeper) on cpu 0, the agents and this bench on the others: "
                         "a master's cores its own, as on a real cluster")
    ap.add_argument("--agents-nice", type=int, default=10,
                    help="the simulated agents' nice value: they stand in for other machines, and take the "
                         "masters' cpu only when the masters leave it (0: as any process)")
    args = ap.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) < 2:
        sys.exit("--pin needs 2 cpus or more")
    master_cpus, rest_cpus = ({cpus[0]}, set(cpus[1:])) if args.pin else (None, None)
    if args.pin:
        os.sched_setaffinity(0, rest_cpus)  # this bench, its curl and kazoo
    build = os.path.abspath(args.build)
    total = args.apps * args.instances
    work = tempfile.mkdtemp(prefix="dcos-bench-scheduler.")

    addresses = ["127.0.0.%d" % (i + 1) for i in range(args.masters)]
    cluster = json.load(open(f"{SOURCE}/examples/cluster/cluster.json"))
    cluster["masters"] = addresses
    cluster["zookeeper"] = {"client_port": free_port(), "peer_port": free_port(), "election_port": free_port(),
                            "session_timeout_ms": SESSION_TIMEOUT_MS}
    zk_hosts = ",".join("%s:%d" % (a, cluster["zookeeper"]["client_port"]) for a in addresses)
    masters, agents = [], []
    java = os.path.join(work, "java")
    with open(java, "w") as f:
        f.write(JAVA_WRAPPER)
    os.chmod(java, 0o755)
    for i, a in enumerate(addresses):
        node = json.load(open(f"{SOURCE}/examples/cluster/node-master.json"))
        # Every agent's updates come from 127.0.0.1: the node API's limit
        # per client address is lifted as ZooKeeper's is.
        node.update({"address": a, "hostname": "master-%d" % (i + 1),
                     "api": {"listen": "%s:%d" % (a, free_port(a)), "max_connections_per_client": 65536},
                     "firewall": {"enabled": False}, "modules": {"zookeeper": {"executor": "process", "java": java}}})
        masters.append(Node(build, work, "master-%d" % (i + 1), cluster, node, master_cpus))
    per_agent = -(-total // args.agents)  # what each agent must hold, and room to spare
    for i in range(args.agents):
        node = json.load(open(f"{SOURCE}/examples/cluster/node-agent-private.json"))
        node.update({"address": "127.0.0.1", "hostname": "agent-%03d" % (i + 1),
                     "api": {"listen": "127.0.0.1:%d" % free_port()}, "firewall": {"enabled": False},
                     "modules": {"agent": {"simulate": True, "executor": "process",
                                           "resources": {"cpus": per_agent * 2, "mem": per_agent * 64,
                                                         "disk": per_agent * 64, "ports": "[20000-29999]"}}}})
        agents.append(Node(build, work, "agent-%03d" % (i + 1), cluster, node, rest_cpus, args.agents_nice))

    zk = None
    perf = None
    try:
        t_start = time.monotonic()
        for m in masters:
            m.start()
        leader = wait_for("a scheduler leader", lambda: leader_of(masters), within=120, every=0.1)
        wait_for("the leader elected", lambda: elected(leader.api), within=60)
        t_masters = time.monotonic() - t_start
        zk = KazooClient(hosts=zk_hosts, timeout=30.0)
        zk.start(timeout=20)
        t0 = time.monotonic()
        for i, a in enumerate(agents):
            a.start()
            if i % 10 == 9:
                time.sleep(0.5)  # not a hundred at once: each start takes a core for a moment
        def registered():
            dead = next((a for a in agents if not a.alive()), None)
            if dead:
                fail("%s's dcosd exited: see %s/dcosd.log" % (dead.name, dead.dir))
            try:
                return zk.exists("/dcos/agents") and len(zk.get_children("/dcos/agents")) >= args.agents
            except KazooException:  # a busy machine: the session is kept, the call fails
                return False
        wait_for("%d agents registered" % args.agents, registered, within=300, every=0.2)
        t_agents = time.monotonic() - t0
        print(f"{args.masters} master(s) leading after {t_masters:.1f} s; {args.agents} simulated agents "
              f"registered {t_agents:.1f} s after their start; work dir {work}", flush=True)

        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-F", "99", "-g", "--call-graph", "dwarf,8192", "-o",
                                     args.perf, "-p", str(leader.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)

        # The launch.
        sampler = Sampler(leader.api, args.get_interval)
        sampler.start()
        post_ms, errors = [], []
        groups = {"the leader's dcosd": [leader.proc.pid], "the leader's ZooKeeper": children_of(leader.proc.pid),
                  "the other masters (dcosd and ZooKeeper)":
                      [p for m in masters if m is not leader for p in [m.proc.pid] + children_of(m.proc.pid)],
                  "the simulated agents' dcosds": [a.proc.pid for a in agents]}
        cpu_before = {g: cpu_seconds(p) for g, p in groups.items()}
        bench_before = sum(os.times()[:2])
        machine_before = machine_cpu()
        t_first_post = time.monotonic()

        def poster(k):
            api = Api(leader.api)
            for i in range(k, args.apps, args.clients):
                t = time.perf_counter()
                status, body = api.call("POST", "/v2/apps", {
                    "id": "/bench/app-%03d" % i, "cmd": "sleep 100000", "instances": args.instances,
                    "cpus": 0.01, "mem": 4, "portDefinitions": [{"port": 0}]})
                post_ms.append((time.perf_counter() - t) * 1000)
                if status != 201:
                    errors.append((status, body))
        posters = [threading.Thread(target=poster, args=(k,)) for k in range(args.clients)]
        for t in posters:
            t.start()
        for t in posters:
            t.join()
        t_posted = time.monotonic() - t_first_post
        if errors:
            fail("POST /v2/apps: %s" % (errors[0],))
        print(f"{args.apps} apps POSTed in {t_posted:.2f} s ({args.clients} clients; POST p50 "
              f"{pct(post_ms, 50):.0f} ms, max {max(post_ms):.0f} ms)", flush=True)

        def api_all_running():
            s = sampler.samples
            return s and s[-1][2] >= total and s[-1][0]
        deadline = t_first_post + args.timeout
        last_print = time.monotonic()
        while not api_all_running():
            if time.monotonic() > deadline:
                fail("not all %d tasks running within %.0f s: %d" % (total, args.timeout, sampler.samples[-1][2]))
            if not leader.alive():
                fail("the leader's dcosd exited: see %s/dcosd.log" % leader.dir)
            if time.monotonic() - last_print > 10 and sampler.samples:
                last_print = time.monotonic()
                print("  %5.0f s: %d of %d running" % (sampler.samples[-1][0] - t_first_post, sampler.samples[-1][2],
                                                       total), flush=True)
            time.sleep(0.05)
        t_api = api_all_running() - t_first_post
        scans = 0
        while True:
            scans += 1
            try:
                stored = read_tasks(zk)
            except KazooException:
                continue
            running = sum(1 for d in stored.values() if b'"TASK_RUNNING"' in d)
            if running >= total:
                break
            if time.monotonic() > deadline:
                fail("the API says all %d run, ZooKeeper has %d TASK_RUNNING" % (total, running))
        t_stored = time.monotonic() - t_first_post
        launch_end = t_first_post + t_stored
        cpu_used = {g: cpu_seconds(p) - cpu_before[g] for g, p in groups.items()}
        cpu_used["this bench (its clients and the GET sampler)"] = sum(os.times()[:2]) - bench_before
        machine_busy, machine_all = [b - a for a, b in zip(machine_before, machine_cpu())]
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
            perf = None
        time.sleep(args.steady)
        sampler.stop.set()
        sampler.join()
        during = [ms for t, ms, _ in sampler.samples if t <= launch_end]
        after = [ms for t, ms, _ in sampler.samples if t > launch_end]
        progress = {}
        for frac in (0.1, 0.5, 0.9):
            hit = next((t for t, _, r in sampler.samples if r >= frac * total), None)
            progress[frac] = hit - t_first_post if hit else float("nan")

        # ZooKeeper's bytes.
        task_bytes = sum(len(d) for d in stored.values())
        sched_nodes, sched_bytes = tree_bytes(zk, "/dcos/scheduler")
        approx = int(mntr(leader.api.split(":")[0] + ":%d" % cluster["zookeeper"]["client_port"])
                     .get("zk_approximate_data_size", 0))

        # Failover.
        zk.stop()
        zk.close()
        zk = None
        old = leader
        log_at = {m.name: os.path.getsize(os.path.join(m.dir, "dcosd.log")) for m in masters}
        os.kill(old.proc.pid, signal.SIGKILL)
        t_kill = time.monotonic()
        old.proc.wait()
        if args.masters == 1:
            old.start()
        live = [m for m in masters if m.alive()]
        marks = {}

        def named():
            m = leader_of(live)
            return m if m and (args.masters == 1 or m is not old) else None
        new = wait_for("a new leader named", named, within=120, every=0.02)
        marks["named in /v2/leader"] = time.monotonic() - t_kill
        wait_for("the new leader elected", lambda: elected(new.api), within=120, every=0.02)
        marks["elected in /v2/info"] = time.monotonic() - t_kill

        def accepted():
            status, _ = once(new.api, "POST", "/v2/apps", {"id": "/bench/after-failover", "cmd": "sleep 100000",
                                                           "instances": 1, "cpus": 0.01, "mem": 4}, timeout=30)
            return status == 201
        wait_for("a POST accepted", accepted, within=120, every=0.02)
        marks["a new app accepted"] = time.monotonic() - t_kill

        def probe_running():
            status, body = once(new.api, "GET", "/v2/apps/bench/after-failover/tasks", timeout=30)
            return status == 200 and any(t["state"] == "TASK_RUNNING" for t in body.get("tasks", []))
        wait_for("the new app's task running", probe_running, within=120, every=0.02)
        marks["its task running (acts)"] = time.monotonic() - t_kill
        _, tasks = once(new.api, "GET", "/v2/tasks", timeout=60)
        ids = [t["id"] for t in tasks["tasks"] if t["appId"].startswith("/bench/app-")]
        running_after = sum(1 for t in tasks["tasks"] if t["appId"].startswith("/bench/app-")
                            and t["state"] == "TASK_RUNNING")
        loaded = ""
        with open(os.path.join(new.dir, "dcosd.log"), errors="replace") as f:
            f.seek(log_at[new.name])
            for line in f:
                if "tasks loaded" in line or "reconciled with" in line:
                    loaded += "  " + line.strip()[-110:] + "\n"
        snap, snap_name = max(snapshot_bytes(m) for m in masters)

        print()
        print(f"scheduler bench: {args.masters} master(s), {args.agents} simulated agents, {args.apps} apps x "
              f"{args.instances} = {total} tasks, ZooKeeper session timeout {SESSION_TIMEOUT_MS / 1000:.0f} s "
              "(shared machine: noisy)")
        if args.agents_nice:
            print(f"the simulated agents at nice {args.agents_nice}: they stand in for other machines")
        if args.pin:
            print(f"pinned: the masters on cpu {sorted(master_cpus)}, the agents and this bench on cpus {sorted(rest_cpus)}")
        print("%-58s %14s %14s" % ("figure", "value", "goal"))
        row = lambda name, value, goal="": print("%-58s %14s %14s" % (name, value, goal))
        row("launch: first POST to all running in the API", "%.1f s" % t_api)
        row("launch: first POST to all running and stored (ZooKeeper)", "%.1f s" % t_stored)
        row("  10% / 50% / 90% running in the API after", "%.0f/%.0f/%.0f s" % (progress[0.1], progress[0.5],
                                                                                  progress[0.9]))
        row("tasks/s (all running and stored)", "%.0f" % (total / t_stored), ">= 3750")
        row("GET /v2/apps?embed=apps.tasks p50, during launch", "%.0f ms" % pct(during, 50))
        row("GET /v2/apps?embed=apps.tasks p99, during launch", "%.0f ms" % pct(during, 99), "< 50 ms")
        row("GET /v2/apps?embed=apps.tasks p50, after (all running)", "%.0f ms" % pct(after, 50))
        row("GET /v2/apps?embed=apps.tasks p99, after (all running)", "%.0f ms" % pct(after, 99), "< 50 ms")
        row("  GETs sampled during / after (errors)", "%d/%d (%d)" % (len(during), len(after), sampler.errors))
        row("ZooKeeper data per task: /dcos/scheduler/tasks", "%.0f B" % (task_bytes / total))
        row("ZooKeeper data per task: all of /dcos/scheduler", "%.0f B" % (sched_bytes / total))
        row("  (%d znodes, %.1f MB)" % (sched_nodes, sched_bytes / 1e6), "")
        row("ZooKeeper zk_approximate_data_size per task (mntr)", "%.0f B" % (approx / total))
        row("ZooKeeper snapshot on disk per task (%s)" % (snap_name or "none"), "%.0f B" % (snap / total))
        for g, used in cpu_used.items():
            if g == "the other masters (dcosd and ZooKeeper)" and args.masters == 1:
                continue
            row("cpu during the launch: " + g, "%.1f s" % used)
        row("  the machine busy / cpu time there was", "%.1f/%.1f s" % (machine_busy, machine_all))
        row("  the leader's dcosd per task", "%.0f us" % (cpu_used["the leader's dcosd"] / total * 1e6))
        goal_s = SESSION_TIMEOUT_MS / 1000 + 1
        for name, t in marks.items():
            row("failover: kill to %s" % name, "%.2f s" % t, "<= %.0f s" % goal_s if "acts" in name else "")
        row("  tasks after the failover: listed / running", "%d/%d" % (len(ids), running_after), "%d/%d" % (total, total))
        if loaded:
            print("the new leader's log:\n" + loaded, end="")
        if len(set(ids)) != total or running_after != total:
            fail("after the failover %d tasks are listed, %d running; %d expected" % (len(ids), running_after, total))
    finally:
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        if zk:
            zk.stop()
            zk.close()
        nodes = [n for n in agents + masters if n.alive()]
        for n in nodes:
            n.proc.send_signal(signal.SIGTERM)
        for n in nodes:
            try:
                n.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
