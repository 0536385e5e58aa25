#!/usr/bin/python3
"""The edge router on a local cluster (1 master, 1 public agent, real
HAProxy), side by side with nginx. The backends are the tasks of app
/bench on the public agent: each an nginx of one worker that answers its
task id. Measured:

- throughput: requests/s, p50 and p99 with 64 keep-alive clients (wrk
  -t1 -c64, Host bench.test) through the edge router's HAProxy and through
  an nginx reverse proxy to the same backends, both one worker (the router
  module's `threads` set to 1), the proxy alone on core 0, wrk, the
  backends and the rest of the cluster on core 1; each core's busy share beside, so a run the clients
  or the backends capped shows it. Alternating rounds, the ratio per round.
- churn: a bounded load (wrk -c16) while the backends change 50 times a
  second, each change one server in and one out of the app's backend
  (the address set stays the same, so every failed request is the
  mechanism's): through the edge router's HAProxy by its runtime API (`set
  server addr` + `state ready`, then `state maint`, the commands the router
  module sends), and, as marathon-lb does, by rewriting the configuration
  and reloading per change (HAProxy master-worker, listeners handed over,
  SIGUSR2) and the same with nginx (SIGHUP). Failed requests (wrk's socket
  errors and non-2xx answers) and p99, a quiet run of each beside.
- first request of a new task: /first (virtual host first.test) scaled 1 ->
  2 and back, N times, one client asking first.test in a loop over a kept
  connection from the operators' host; from the scheduler's write of the
  new task's znode saying healthy (its mtime, read by a ZooKeeper watcher in
  the master's namespace) until the edge first answers with the new task's
  id: p50, p99, max. The task is routed through the whole path: the
  scheduler's znode, the router's watch, its runtime commands. Beside it,
  the same write until the health_status_changed_event on /v2/events.

Goals beside the figures: at least nginx's requests/s, zero failed requests
under the runtime API's churn, a new task's first request within 250 ms p99.

Its own cluster (name rbench, 172.31.238.0/24), taken down at the end.
Needs root, haproxy, nginx (nginx-light) and wrk.

Usage: tests/bench/router.py [BUILD_DIR] [--seconds S] [--rounds N] [--rate CHANGES_PER_S] [--samples N]
                             [--backends N] [--keep]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

NET = "172.31.238."
MASTER = NET + "11"
PUBLIC = NET + "129"
NAME = "rbench"
PUBLIC_NS = "dcos-%s-p1" % NAME
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # tasks' PATH has no sbin


def fail(message):
    print("router bench: " + message, file=sys.stderr)
    sys.exit(1)


def wait_until(what, condition, within=60, every=0.05):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (OSError, ValueError, KeyError, TypeError, IndexError, http.client.HTTPException):
            last = None
        if last:
            return last
        time.sleep(every)
    fail("timed out after %ds waiting for %s" % (within, what))


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s%s" % (MASTER, path), method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
        return r.status, json.loads(text) if text else None


def healthy(app_id):
    _, body = api("GET", "/v2/apps%s/tasks" % app_id)
    return [t for t in body["tasks"] if t["state"] == "TASK_RUNNING" and t.get("healthCheckResults") and
            all(h["alive"] for h in t["healthCheckResults"])]


def edge_get(host_header, address=PUBLIC, port=80):
    c = http.client.HTTPConnection(address, port, timeout=5)
    try:
        c.request("GET", "/", headers={"Host": host_header})
        r = c.getresponse()
        return r.status, r.read().decode().strip()
    finally:
        c.close()


def runtime(sock_path, command):
    """One command on an HAProxy stats socket; its answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall(command.encode() + b"\n")
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode()


def children(pid):
    out = []
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, t)) as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def pin(pid, cores):
    """PID, its threads and its children's, on CORES."""
    for p in [pid] + children(pid):
        subprocess.run(["taskset", "-a", "-p", "-c", cores, str(p)], capture_output=True)


def core_busy():
    """(busy, total) jiffies per core."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            m = re.match(r"cpu(\d+) (.*)", line)
            if m:
                v = [int(x) for x in m.group(2).split()]
                idle = v[3] + v[4]
                out[int(m.group(1))] = (sum(v[:8]) - idle, sum(v[:8]))
    return out


def wrk(url, host, connections, seconds, core="1"):
    before = core_busy()
    r = subprocess.run(["ip", "netns", "exec", PUBLIC_NS, "taskset", "-c", core, "wrk", "-t1",
                        "-c%d" % connections, "-d%ds" % seconds, "--latency", "--timeout", "5s",
                        "-H", "Host: " + host, url], capture_output=True, text=True)
    after = core_busy()
    out = r.stdout
    if r.returncode != 0 or "Requests/sec" not in out:
        fail("wrk %s: %s%s" % (url, out, r.stderr))

    def ms(text):
        m = re.match(r"([\d.]+)(us|ms|s)", text)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    res = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
           "p50": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
           "p99": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
           "requests": int(re.search(r"(\d+) requests in", out).group(1)), "errors": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        res["errors"] += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        res["errors"] += int(m.group(1))
    res["busy"] = {c: 100.0 * (after[c][0] - before[c][0]) / max(1, after[c][1] - before[c][1]) for c in after}
    return res


def backend_conf(work):
    """The backends' nginx: one worker, the task id at every path."""
    path = os.path.join(work, "backend.conf")
    with open(path, "w") as f:
        f.write("daemon off;\nworker_processes 1;\npid nginx.pid;\nerror_log stderr;\n"
                "events { worker_connections 4096; }\n"
                "http {\n  access_log off;\n  keepalive_requests 1000000;\n"
                "  client_body_temp_path tmp; proxy_temp_path tmp; fastcgi_temp_path tmp;"
                " uwsgi_temp_path tmp; scgi_temp_path tmp;\n"
                "  server { listen PORT0; location / { default_type text/plain; return 200 \"TASKID\\n\"; } }\n}\n")
    return path


def app(app_id, vhost, instances, conf, cpus=0.05):
    # The agent holds a task to its cpus (a CPU quota): the backends get
    # enough that they, not the proxies, are never the limit.
    return {"id": app_id, "instances": instances, "cpus": cpus, "mem": 32,
            "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": vhost},
            "acceptedResourceRoles": ["slave_public"],
            "cmd": "sed \"s/PORT0/$PORT0/g; s/TASKID/$MESOS_TASK_ID/g\" %s > nginx.conf && "
                   "exec %s -e stderr -p \"$PWD/\" -c \"$PWD/nginx.conf\"" % (conf, NGINX),
            "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 30,
                              "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
            "portDefinitions": [{"port": 0}]}


# Run inside the master's namespace (ZooKeeper is closed to the operators'
# host): prints "<task id> <ms since the epoch>" once per task of APP when
# its znode first says healthy, the time from the znode's own mtime (the
# ZooKeeper server's clock, this machine's).
HEALTH_WATCHER = r"""
import json, sys, threading
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10.0)
zk.start(timeout=30)
app, seen, watched, lock = sys.argv[2], set(), set(), threading.Lock()
def data(path):
    def on(raw, stat, *_):
        if raw is None or stat is None:
            return False
        try:
            t = json.loads(raw)
        except ValueError:
            return True
        with lock:
            if t.get("appId") == app and t.get("healthy") is True and t["id"] not in seen:
                seen.add(t["id"])
                print(t["id"], stat.mtime, flush=True)
        return True
    zk.DataWatch(path, on)
def children(names):
    for n in names:
        with lock:
            fresh = n not in watched
            watched.add(n)
        if fresh:
            data("/dcos/scheduler/tasks/" + n)
    return True
zk.ChildrenWatch("/dcos/scheduler/tasks", children)
print("watching", flush=True)
threading.Event().wait()
"""


def nginx_proxy_conf(work, name, port, backends):
    """nginx, one worker, a keep-alive reverse proxy on 127.0.0.1:PORT to
    BACKENDS ((address, port) pairs), its pid and log named NAME in WORK."""
    return ("worker_processes 1;\ndaemon off;\npid %s/%s.pid;\nerror_log %s/%s.log;\n"
            "events { worker_connections 4096; }\nhttp {\n  access_log off;\n  keepalive_requests 1000000;\n"
            "  upstream app {\n%s    keepalive 64;\n  }\n"
            "  server {\n    listen 127.0.0.1:%d;\n    location / {\n      proxy_pass http://app;\n"
            "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
            "      proxy_set_header X-Forwarded-For $remote_addr;\n      proxy_next_upstream error timeout;\n"
            "    }\n  }\n}\n" % (work, name, work, name, "".join("    server %s:%d;\n" % b for b in backends), port))


def proxy_defaults():
    """What the edge's own configuration puts in defaults (a fair reload peer)."""
    return ("defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"
            "  timeout http-request 10s\n  timeout http-keep-alive 10s\n  timeout queue 5s\n"
            "  retries 3\n  option redispatch 1\n")


class ReloadPeer:
    """A proxy reconfigured as marathon-lb does: the whole file written and
    the proxy reloaded at every change."""

    def __init__(self, kind, work, port, backends):
        self.kind, self.work, self.port, self.backends = kind, work, port, backends
        self.cfg = os.path.join(work, "%s-reload.cfg" % kind)
        self.generation = 0
        self.proc = None

    def render(self, names):
        if self.kind == "haproxy":
            c = ("global\n  stats socket %s/%s.sock mode 600 level admin expose-fd listeners\n"
                 "  hard-stop-after 60s\n  nbthread 1\n" % (self.work, self.kind))
            c += proxy_defaults()
            c += "frontend http\n  bind 127.0.0.1:%d\n  default_backend app\n" % self.port
            c += "backend app\n  balance roundrobin\n  retry-on conn-failure empty-response\n"
            for name, (addr, port) in names:
                c += "  server %s %s:%d\n" % (name, addr, port)
            return c
        return nginx_proxy_conf(self.work, "nginx-reload", self.port, [b for _, b in names])

    def write(self, names):
        with open(self.cfg + ".tmp", "w") as f:
            f.write(self.render(names))
        os.replace(self.cfg + ".tmp", self.cfg)

    def start(self):
        self.write(self.names(0))
        if self.kind == "haproxy":
            argv = ["haproxy", "-W", "-f", self.cfg]
        else:
            argv = ["nginx", "-c", self.cfg]
        self.proc = subprocess.Popen(["ip", "netns", "exec", PUBLIC_NS, "taskset", "-c", "0"] + argv,
                                     stdout=subprocess.DEVNULL, stderr=open(self.cfg + ".log", "w"))
        wait_until("%s (reload peer) answering" % self.kind,
                   lambda: subprocess.run(["ip", "netns", "exec", PUBLIC_NS, "curl", "-sf", "-o", "/dev/null",
                                           "http://127.0.0.1:%d/" % self.port]).returncode == 0, 20)

    def names(self, generation):
        """Server k of N in generation g: the backends, one of them under a
        new name each generation (a server gone, one come)."""
        out = []
        for i, b in enumerate(self.backends):
            out.append(("t%d_%d" % (i, generation if i == generation % len(self.backends) else -1), b))
        return out

    def change(self):
        self.generation += 1
        self.write(self.names(self.generation))
        # ip netns exec execs: the Popen's pid is the master's.
        os.kill(self.proc.pid, signal.SIGUSR2 if self.kind == "haproxy" else signal.SIGHUP)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def churn(rate, seconds, change):
    """CHANGE() RATE times a second, on a schedule (late ones are not made up
    in a burst); how many were made."""
    made, start = 0, time.monotonic()
    end = start + seconds
    while True:
        due = start + made / rate
        now = time.monotonic()
        if due >= end:
            return made
        if due > now:
            time.sleep(due - now)
        change()
        made += 1


def churned_load(url, seconds, rate, change, connections=16):
    """wrk's figures over SECONDS while CHANGE() runs RATE times a second."""
    result, made = {}, [0]

    port = int(url.rsplit(":", 1)[1].strip("/"))

    def connected():
        r = subprocess.run(["ip", "netns", "exec", PUBLIC_NS, "ss", "-Htn", "state", "established",
                            "dport = :%d" % port], capture_output=True, text=True)
        return len(r.stdout.splitlines()) >= connections

    def changer():
        # wrk's connections made first: the churn is what is measured.
        start = time.monotonic()
        if not wait_until_soft(connected, 5):
            print("router bench: wrk's %d connections to port %d not all seen within 5 s" % (connections, port),
                  file=sys.stderr)
        made[0] = churn(rate, seconds - 1.0 - (time.monotonic() - start), change)

    t = threading.Thread(target=changer)
    t.start()
    result = wrk(url, "bench.test", connections, seconds)
    t.join()
    result["changes"] = made[0]
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--backends", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="leave the cluster and the work directory")
    args = ap.parse_args()
    if os.geteuid() != 0:
        fail("needs root (network namespaces)")
    for tool in ("haproxy", "nginx", "wrk", "taskset", "curl"):
        if not shutil.which(tool):
            fail("needs %s (apt-get install haproxy nginx-light wrk util-linux curl)" % tool)
    build = os.path.abspath(args.build)
    dcos = os.path.join(build, "cli/dcos")
    work = tempfile.mkdtemp(prefix="dcos-bench-router.")
    os.chmod(work, 0o755)  # the tasks (user nobody) read backend.conf
    state = os.path.join(work, "cluster")
    os.makedirs(state)
    os.chmod(state, 0o755)
    cluster = ["--name", NAME, "--state-dir", state]
    up = [dcos, "cluster", "up", "--masters", "1", "--private-agents", "0", "--public-agents", "1",
          "--network", NET + "0/24"] + cluster
    public_dir = os.path.join(state, NAME, "p1")
    admin = os.path.join(public_dir, "state", "router", "admin.sock")
    peers = []
    try:
        r = subprocess.run(up, capture_output=True, text=True)
        if r.returncode != 0:
            fail("cluster up: %s%s" % (r.stdout, r.stderr))
        # One HAProxy thread, as nginx gets one worker: the public agent's
        # node.json, and its dcosd started again (it reloads HAProxy with the
        # changed configuration).
        node_json = os.path.join(public_dir, "etc", "node.json")
        with open(node_json) as f:
            node = json.load(f)
        node.setdefault("modules", {}).setdefault("router", {})["threads"] = 1
        with open(node_json, "w") as f:
            json.dump(node, f)
        with open(os.path.join(state, NAME, "state.json")) as f:
            pid = next(n for n in json.load(f)["nodes"] if n["address"] == PUBLIC)["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until("the public agent's dcosd gone", lambda: not os.path.exists("/proc/%d" % pid), 20)
        r = subprocess.run(up, capture_output=True, text=True)
        if r.returncode != 0:
            fail("cluster up after the restart: %s%s" % (r.stdout, r.stderr))
        wait_until("HAProxy with one thread", lambda: "Nbthread: 1\n" in runtime(admin, "show info"), 30)

        conf = backend_conf(work)
        n = args.backends
        status, body = api("POST", "/v2/apps", app("/bench", "bench.test", n, conf, cpus=round(1.6 / n, 2)))
        if status != 201:
            fail("POST /bench: %s %s" % (status, body))
        wait_until("%d healthy /bench tasks" % n, lambda: len(healthy("/bench")) == n, 120)
        tasks = healthy("/bench")
        ids = sorted(t["id"] for t in tasks)
        wait_until("the %d tasks served through the edge" % n,
                   lambda: sorted(set(edge_get("bench.test")[1] for _ in range(3 * n))) == ids, 30)
        backends = [(t["host"], t["ports"][0]) for t in tasks]

        # Pinning: each proxy alone on core 0; wrk, the backends and the rest
        # of the cluster (dcosds, ZooKeeper) on core 1.
        with open(os.path.join(public_dir, "state", "router", "haproxy.pid")) as f:
            edge_pid = int(f.read().strip())
        pin(edge_pid, "0")
        edge_pids = {edge_pid} | set(children(edge_pid))
        for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n"):
            ns = ns.split(" ")[0]
            if not ns.startswith("dcos-%s-" % NAME):
                continue
            for p in subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split():
                if int(p) not in edge_pids:
                    subprocess.run(["taskset", "-a", "-p", "-c", "1", p], capture_output=True)

        # nginx, one worker, reverse proxy to the same backends.
        nginx_port = 8080
        nginx_cfg = os.path.join(work, "nginx-proxy.conf")
        with open(nginx_cfg, "w") as f:
            f.write(nginx_proxy_conf(work, "nginx-proxy", nginx_port, backends))
        nginx = subprocess.Popen(["ip", "netns", "exec", PUBLIC_NS, "taskset", "-c", "0", "nginx", "-c", nginx_cfg],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peers.append(nginx)
        wait_until("nginx (proxy) answering",
                   lambda: subprocess.run(["ip", "netns", "exec", PUBLIC_NS, "curl", "-sf", "-o", "/dev/null",
                                           "http://127.0.0.1:%d/" % nginx_port]).returncode == 0, 20)

        edge_url = "http://127.0.0.1:80/"
        nginx_url = "http://127.0.0.1:%d/" % nginx_port
        print("throughput: GET / (a %d-byte answer) to %d backends (nginx, one worker each), wrk -t1 -c64 -d%ds,"
              " Host bench.test; the proxy on core 0, wrk, the backends and the cluster on core 1"
              % (len(ids[0]) + 1, n, args.seconds))
        print("%-6s %-22s %12s %9s %9s %8s %8s %7s" % ("round", "proxy", "requests/s", "p50 ms", "p99 ms",
                                                       "core0 %", "core1 %", "errors"))
        ratios = []
        for rnd in range(1, args.rounds + 1):
            got = {}
            for name, url in (("edge (HAProxy, 1 thr)", edge_url), ("nginx (1 worker)", nginx_url)):
                res = wrk(url, "bench.test", 64, args.seconds)
                got[name] = res
                print("%-6d %-22s %12.0f %9.2f %9.2f %8.0f %8.0f %7d" % (rnd, name, res["rps"], res["p50"],
                                                                       res["p99"], res["busy"].get(0, 0),
                                                                       res["busy"].get(1, 0), res["errors"]))
            ratios.append(got["edge (HAProxy, 1 thr)"]["rps"] / got["nginx (1 worker)"]["rps"])
        print("edge/nginx requests/s per round: %s" % " ".join("%.2f" % x for x in ratios))

        # Churn. The edge's own slots for /bench: the ready ones hold the
        # backends; the parked ones take a backend in turn.
        lines = runtime(admin, "show servers state").splitlines()
        slots = []  # (backend, server, addr, port, ready)
        for line in lines:
            f = line.split()
            if len(f) > 18 and f[0].isdigit():
                slots.append([f[1], f[3], f[4], int(f[18]), f[5] == "2"])
        mine = [s for s in slots if s[4] and (s[2], s[3]) in backends]
        if len(mine) != n:
            fail("the edge's ready servers for /bench are not the %d backends: %s" % (n, slots))
        be = mine[0][0]
        parked = [s for s in slots if s[0] == be and not s[4]]
        if not parked:
            fail("no parked slot in %s" % be)
        saved = [list(s) for s in slots if s[0] == be]
        ready = [s[1] for s in mine]
        spare = [s[1] for s in parked]
        where = {s[1]: (s[2], s[3]) for s in saved}
        turn = [0]

        def runtime_change():
            # A server in (a parked slot takes the address of a ready one),
            # then that ready one out: the module's make before break, in
            # one connection to the stats socket as the module sends them.
            k = turn[0] % len(ready)
            turn[0] += 1
            out_slot, in_slot = ready[k], spare.pop(0)
            addr, port = where[out_slot]
            runtime(admin, "set server %s/%s addr %s port %d; set server %s/%s state ready; set server %s/%s state maint"
                    % (be, in_slot, addr, port, be, in_slot, be, out_slot))
            where[in_slot] = (addr, port)
            ready[k] = in_slot
            spare.append(out_slot)

        print()
        print("churn: wrk -t1 -c16 -d%ds while the backends change %.0f times a second (one server in, one out;"
              " the same %d addresses)" % (args.seconds, args.rate, n))
        print("%-36s %8s %12s %9s %9s %8s" % ("proxy and mechanism", "changes", "requests/s", "p50 ms", "p99 ms",
                                             "failed"))

        def row(name, res):
            print("%-36s %8d %12.0f %9.2f %9.2f %8d" % (name, res.get("changes", 0), res["rps"], res["p50"],
                                                       res["p99"], res["errors"]))

        row("edge (HAProxy), quiet", wrk(edge_url, "bench.test", 16, args.seconds))
        runtime_res = churned_load(edge_url, args.seconds, args.rate, runtime_change)
        row("edge (HAProxy), runtime API", runtime_res)
        # The edge's slots as they were, so that the router's own view holds.
        runtime(admin, "; ".join("set server %s/%s addr %s port %d; set server %s/%s state %s"
                                 % (be, s[1], s[2], s[3], be, s[1], "ready" if s[4] else "maint") for s in saved))
        for kind, port in (("haproxy", 8081), ("nginx", 8082)):
            peer = ReloadPeer(kind, work, port, backends)
            peer.start()
            peers.append(peer)
            url = "http://127.0.0.1:%d/" % port
            row("%s, quiet" % kind, wrk(url, "bench.test", 16, args.seconds))
            row("%s, reload per change" % kind, churned_load(url, args.seconds, args.rate, peer.change))
            peer.stop()

        # First request of a new task, through the whole path.
        status, body = api("POST", "/v2/apps", app("/first", "first.test", 1, conf))
        if status != 201:
            fail("POST /first: %s" % status)
        wait_until("/first healthy", lambda: len(healthy("/first")) == 1, 120)
        wait_until("first.test served", lambda: edge_get("first.test")[0] == 200, 30)
        healthy_at, first_at, event_at = {}, {}, {}
        lock = threading.Lock()
        stop = threading.Event()
        opened = threading.Event()
        watcher = subprocess.Popen(["ip", "netns", "exec", "dcos-%s-m1" % NAME, "/usr/bin/python3", "-c", HEALTH_WATCHER,
                                    MASTER + ":2181", "/first"], stdout=subprocess.PIPE, text=True)
        peers.append(watcher)

        def healthy_znodes(lines):
            for line in lines:
                if line.strip() == "watching":
                    return
                task_id, ms = line.split()
                with lock:
                    healthy_at.setdefault(task_id, int(ms) / 1000.0)

        # The tasks healthy already come first; then it says it watches.
        healthy_znodes(watcher.stdout)
        if watcher.poll() is not None:
            fail("the health watcher exited (status %s)" % watcher.returncode)

        def events():
            c = http.client.HTTPConnection(MASTER, 80, timeout=600)
            c.request("GET", "/v2/events?event_type=health_status_changed_event",
                      headers={"Accept": "text/event-stream"})
            r = c.getresponse()
            opened.set()
            while not stop.is_set():
                line = r.fp.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    now = time.time()
                    e = json.loads(line[6:])
                    if e.get("appId") == "/first" and e.get("alive"):
                        with lock:
                            event_at.setdefault(e.get("taskId") or e.get("instanceId"), now)

        def prober():
            c = None
            while not stop.is_set():
                try:
                    if c is None:
                        c = http.client.HTTPConnection(PUBLIC, 80, timeout=5)
                    c.request("GET", "/", headers={"Host": "first.test"})
                    r = c.getresponse()
                    text = r.read().decode().strip()
                    now = time.time()
                    if r.status == 200:
                        with lock:
                            first_at.setdefault(text, now)
                except (OSError, http.client.HTTPException):
                    c = None

        threads = [threading.Thread(target=events, daemon=True), threading.Thread(target=prober, daemon=True),
                   threading.Thread(target=healthy_znodes, args=(watcher.stdout,), daemon=True)]
        for t in threads:
            t.start()
        old = set(t["id"] for t in healthy("/first"))
        wait_until("the event stream open", opened.is_set, 10)
        latencies, event_lags, unseen = [], [], 0
        for i in range(args.samples):
            api("PUT", "/v2/apps/first?force=true", {"instances": 2})
            new = wait_until("a second /first task healthy",
                             lambda: [t["id"] for t in healthy("/first") if t["id"] not in old], 60)[0]

            def both():
                with lock:
                    return new in first_at and new in healthy_at and new in event_at

            if wait_until_soft(both, 10):
                with lock:
                    latencies.append((first_at[new] - healthy_at[new]) * 1000)
                    event_lags.append((event_at[new] - healthy_at[new]) * 1000)
            else:
                unseen += 1
            api("PUT", "/v2/apps/first?force=true", {"instances": 1})
            wait_until("/first back to one task", lambda: len(api("GET", "/v2/apps/first/tasks")[1]["tasks"]) == 1, 60)
            old = set(t["id"] for t in api("GET", "/v2/apps/first/tasks")[1]["tasks"])
        stop.set()
        print()
        print("first request of a new task: from the write of its znode saying healthy (the znode's mtime) until"
              " the edge answers with its id, %d samples" % len(latencies))
        print("p50 %.1f ms  p99 %.1f ms  max %.1f ms  min %.1f ms%s" % (
            pct(latencies, 50), pct(latencies, 99), max(latencies or [float("nan")]),
            min(latencies or [float("nan")]), ("  (%d not seen within 10 s)" % unseen) if unseen else ""))
        print("beside it, the same write until its health_status_changed_event (alive) arrives on /v2/events:"
              " p50 %.1f ms  p99 %.1f ms" % (pct(event_lags, 50), pct(event_lags, 99)))

        print()
        ratio = min(ratios)
        p99 = pct(latencies, 99)
        goals = [("requests/s at least nginx's", "edge/nginx %.2f-%.2f" % (min(ratios), max(ratios)), ratio >= 1.0),
                 ("zero failed requests under the runtime API's churn", "%d failed" % runtime_res["errors"],
                  runtime_res["errors"] == 0),
                 ("a new task's first request within 250 ms p99", "p99 %.1f ms" % p99, p99 <= 250 and not unseen)]
        for goal, figure, met in goals:
            print("goal: %-52s %-22s %s" % (goal, figure, "met" if met else "missed"))
    finally:
        for p in peers:
            if isinstance(p, ReloadPeer):
                p.stop()
            else:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not args.keep:
            subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept: %s (dcos cluster down %s)" % (work, " ".join(cluster)))


def wait_until_soft(condition, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


if __name__ == "__main__":
    main()
