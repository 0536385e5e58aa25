#!/usr/bin/env python3
"""The agent under load (a real dcosd, loopback, firewall off, no master: the
agent runs and reports on its own), with the process executor or, with
--executor systemd, the systemd executor: then dcosd runs inside a container
booted with systemd-nspawn (the host's /usr, a network namespace of its own;
as tests/integration/systemd_test.sh does), each task a transient unit of
that container's systemd.

Prints: launch latency (POST /agent/v1/tasks until the answer, which comes
once the task's supervisor runs and TASK_RUNNING is checkpointed) p50/p99 over
sequential launches, back to back and 30 ms apart; 200 tasks launched at once (8 clients) until all are
TASK_RUNNING; dcosd's RSS with 200 tasks; and re-adoption: dcosd SIGKILLed
with 200 tasks, started again, until its API lists all 200 running (the
start of dcosd included), and dcosd's own count of that recovery.

Usage: tests/bench/agent.py [BUILD_DIR] [--launches N] [--executor process|systemd] [--work DIR]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        # http.client sends a POST's head and body in two writes: without
        # NODELAY, Nagle holds the body for the server's delayed ACK (40 ms).
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method, path, body=None):
        data = json.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        self.conn.request(method, path, body=data, headers=headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")


INIT_PID = None  # the container's systemd, with --executor systemd


def wait_for(what, condition, within=60, every=0.002):
    """Polls `condition` until it returns something true, at most `within`
    seconds; the bench ends, saying what never happened, past that."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    sys.exit(f"agent.py: {what} did not happen within {within} s")


def start(build, work, port):
    log = open(os.path.join(work, "dcosd.log"), "a")
    enter = ["nsenter", "-t", str(INIT_PID), "-m", "-u", "-i", "-n", "-p", "--"] if INIT_PID else []
    return subprocess.Popen(enter + [os.path.join(build, "dcosd/dcosd"), "--config-dir", os.path.join(work, "config"),
                                     "--plugin-dir", os.path.join(build, "plugins"), "--state-dir",
                                     os.path.join(work, "state"), "--log-level", "notice"], stdout=log, stderr=log)


def dcosd_pid(proc):
    """dcosd's own pid: nsenter -p forks it as its child."""
    if not INIT_PID:
        return proc.pid
    def child():
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                children = f.read().split()
            return int(children[0]) if children else None
        except OSError:
            return None
    return wait_for("dcosd under nsenter", child, within=10)


def in_container(build, args):
    """Boots a container with systemd and runs this script inside its
    network namespace, against a dcosd in the container."""
    if shutil.which("systemd-nspawn") is None:
        sys.exit("agent.py: --executor systemd needs systemd-nspawn (package systemd-container)")
    ns = f"dcos-bench-{os.getpid()}"
    work = work_dir(args, "dcos-bench-agent-sd.")
    os.chmod(work, 0o755)  # the tasks' user goes through it to their sandboxes
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    console = open(os.path.join(work, "console.log"), "w")
    nspawn = subprocess.Popen(
        ["systemd-nspawn", "-q", "-D", "/", "--volatile=yes", "--register=no", "--keep-unit", "-M", ns,
         f"--network-namespace-path=/run/netns/{ns}", "--capability=CAP_NET_ADMIN,CAP_SYS_ADMIN",
         "--bind-ro=/etc/passwd", "--bind-ro=/etc/group", f"--bind-ro={build}", f"--bind={work}",
         "--boot", "systemd.firstboot=off"], stdout=console, stderr=console, stdin=subprocess.DEVNULL)
    try:
        def systemd():
            r = subprocess.run(["pgrep", "-P", str(nspawn.pid), "-x", "systemd"], capture_output=True, text=True)
            return int(r.stdout.split()[0]) if r.stdout.split() else None
        init = wait_for("the container's systemd starting", systemd, every=0.05)

        # Booted far enough for transient units: basic.target reached (a
        # job such as waiting for the network to be online can hold the
        # system "starting" for minutes where the host enables one).
        def booted():
            r = subprocess.run(["nsenter", "-t", str(init), "-m", "-p", "systemctl", "is-active", "basic.target"],
                               capture_output=True, text=True)
            return r.stdout.strip() == "active"
        wait_for("the container's boot", booted, every=0.1)
        cmd = ["nsenter", f"--net=/run/netns/{ns}", sys.executable, os.path.abspath(__file__), build,
               "--launches", str(args.launches), "--executor", "systemd", "--init-pid", str(init), "--work", work]
        return subprocess.run(cmd).returncode
    finally:
        nspawn.send_signal(signal.SIGTERM)
        try:
            nspawn.wait(timeout=20)
        except subprocess.TimeoutExpired:
            nspawn.kill()
        subprocess.run(["ip", "netns", "del", ns])
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def wait_api(port, within=30):
    def answers():
        try:
            return Api(port).call("GET", "/agent/v1/info")[0] == 200
        except OSError:
            return False
    wait_for("the agent API answering", answers, within=within, every=0.005)


def work_dir(args, prefix):
    """The bench's state dir: --work DIR, which must be absent or empty (the
    agent starts with no state, as on a new node), or else a new one."""
    if not args.work:
        return tempfile.mkdtemp(prefix=prefix)
    if os.path.exists(args.work) and (not os.path.isdir(args.work) or os.listdir(args.work)):
        sys.exit(f"agent.py: --work {args.work}: not an empty directory (the bench starts from no state)")
    os.makedirs(args.work, exist_ok=True)
    return args.work


def unjournaled_ext4(path):
    """True when path lies on an ext4 without a journal: there each new
    inode costs a scan for recently deleted ones, which makes launches
    slower the more earlier runs deleted (a journaled ext4 does not scan)."""
    dev = os.stat(path).st_dev
    majmin = f"{os.major(dev)}:{os.minor(dev)}"
    with open("/proc/self/mountinfo") as f:
        types = {line.split(" - ")[1].split()[0] for line in f if line.split()[2] == majmin}
    if types != {"ext4"}:
        return False
    try:
        with open(f"/sys/dev/block/{majmin}/uevent") as f:
            name = next(l.split("=", 1)[1].strip() for l in f if l.startswith("DEVNAME="))
    except (OSError, StopIteration):
        return False
    return not os.path.exists(f"/proc/fs/jbd2/{name}-8")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--launches", type=int, default=200)
    ap.add_argument("--executor", choices=["process", "systemd"], default="process")
    ap.add_argument("--init-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--work", help="the state directory, absent or empty, kept after the run (default: a new one under $TMPDIR, removed)")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if args.executor == "systemd" and not args.init_pid:
        sys.exit(in_container(build, args))
    global INIT_PID
    INIT_PID = args.init_pid
    # Inside the container (--init-pid), the dir in_container made and
    # already holds its console log.
    work = args.work if args.init_pid else work_dir(args, "dcos-bench-agent.")
    port = free_port()
    os.makedirs(os.path.join(work, "config"))
    if unjournaled_ext4(work):
        print(f"note: {work} is on an ext4 without a journal: its figures depend on what earlier runs deleted "
              "(--work DIR on a journaled file system for steady ones)")
    cluster = json.load(open(f"{SOURCE}/examples/cluster/cluster.json"))
    cluster["masters"] = ["127.0.0.1"]
    cluster["zookeeper"] = {"client_port": free_port(), "peer_port": free_port(), "election_port": free_port()}
    node = json.load(open(f"{SOURCE}/examples/cluster/node-agent-private.json"))
    node["api"] = {"listen": f"127.0.0.1:{port}"}
    node["firewall"] = {"enabled": False}
    node["modules"] = {"agent": {"resources": {"cpus": 1000, "mem": 1000000, "ports": "[31000-32000]"},
                                 "executor": args.executor}}
    json.dump(cluster, open(f"{work}/config/cluster.json", "w"))
    json.dump(node, open(f"{work}/config/node.json", "w"))
    proc = start(build, work, port)
    try:
        wait_api(port)
        api = Api(port)
        # 1. Sequential launches of a task that stays up; each killed after.
        # Back to back, each launch shares the cpus with the start of the
        # one before (its supervisor, shell and command exec'ing); spaced
        # 30 ms apart, each finds the agent idle, as a single launch does.
        # Spaced launches also time the task's own process: until the agent
        # knows its pid (the supervisor writes it once the task is in its
        # cgroups and exec'd), polled after the answer.
        def sequential(prefix, gap):
            latencies, running = [], []
            for i in range(args.launches):
                if gap:
                    time.sleep(gap)  # think time between requests, not a wait for a condition
                t0 = time.perf_counter()
                status, body = api.call("POST", "/agent/v1/tasks", {"id": f"{prefix}.{i}", "cmd": "sleep 1000", "cpus": 0.01, "mem": 8})
                latencies.append((time.perf_counter() - t0) * 1000)
                if status != 201 or body.get("state") != "TASK_RUNNING":
                    sys.exit(f"agent.py: launch {i}: {status} {body}")
                if gap:
                    wait_for(f"{prefix}.{i}'s pid", lambda: api.call("GET", f"/agent/v1/tasks/{prefix}.{i}")[1].get("pid"),
                             within=10, every=0.0005)
                    running.append((time.perf_counter() - t0) * 1000)
            # Each one runs: a launch answered and then failed counts for nothing.
            def all_up():
                _, listed = api.call("GET", "/agent/v1/tasks")
                up = [t for t in listed["tasks"] if t["id"].startswith(prefix + ".")]
                bad = [t for t in up if t["state"] != "TASK_RUNNING"]
                if bad:
                    sys.exit(f"agent.py: {bad[0]['id']} {bad[0]['state']}: {bad[0]['message']}")
                return len(up) == args.launches and all(t.get("pid") for t in up)
            wait_for(f"the {prefix} tasks running", all_up, within=60, every=0.05)
            for i in range(args.launches):
                api.call("POST", f"/agent/v1/tasks/{prefix}.{i}/kill")
            return latencies, running
        for prefix, gap, what in (("lat", 0, "one after another"), ("idle", 0.03, "30 ms apart")):
            latencies, running = sequential(prefix, gap)
            print(f"launch latency, {args.executor} executor, {args.launches} launches {what}:")
            print(f"  p50 {statistics.median(latencies):.2f} ms   p99 {pct(latencies, 99):.2f} ms   max {max(latencies):.2f} ms")
            if running:
                print(f"  until the task's own process runs (pid known): p50 {statistics.median(running):.2f} ms"
                      f"   p99 {pct(running, 99):.2f} ms")

        # 2. 200 at once, 8 clients.
        n = 200
        t0 = time.perf_counter()
        errors = []

        def launcher(k):
            c = Api(port)
            for i in range(k, n, 8):
                status, body = c.call("POST", "/agent/v1/tasks", {"id": f"many.{i}", "cmd": "sleep 1000", "cpus": 0.01, "mem": 8})
                if status != 201:
                    errors.append(body)
        threads = [threading.Thread(target=launcher, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        def many_running(client):
            _, listed = client.call("GET", "/agent/v1/tasks")
            return sum(1 for t in listed["tasks"] if t["id"].startswith("many.") and t["state"] == "TASK_RUNNING")
        wait_for(f"{n} tasks running", lambda: errors or many_running(api) == n)
        if errors:
            sys.exit(f"agent.py: {errors[0]}")
        print(f"{n} tasks launched at once (8 clients): all TASK_RUNNING after {(time.perf_counter() - t0) * 1000:.0f} ms")
        print(f"dcosd RSS with {n} tasks: {rss_kib(dcosd_pid(proc)) / 1024:.1f} MiB")

        # 3. Re-adoption after a SIGKILL.
        os.kill(dcosd_pid(proc), signal.SIGKILL)
        proc.wait()
        t0 = time.perf_counter()
        proc = start(build, work, port)
        wait_api(port)
        client = Api(port)
        wait_for(f"{n} tasks re-adopted", lambda: many_running(client) == n)
        print(f"re-adoption of {n} tasks after a dcosd SIGKILL: {(time.perf_counter() - t0) * 1000:.0f} ms "
              "from dcosd's exec to all listed running")
        api = Api(port)
        for i in range(n):
            api.call("POST", f"/agent/v1/tasks/many.{i}/kill")
        def all_ended():
            _, listed = api.call("GET", "/agent/v1/tasks")
            return all(t["state"] in ("TASK_KILLED", "TASK_FINISHED", "TASK_FAILED") for t in listed["tasks"])
        wait_for("every task ended", all_ended, within=30, every=0.05)
    finally:
        try:
            os.kill(dcosd_pid(proc), signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
