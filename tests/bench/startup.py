#!/usr/bin/env python3
"""Time from exec to READY=1 and idle RSS of dcosd, per stock role.

Usage: tests/bench/startup.py [BUILD_DIR] [--runs N]

Each run starts dcosd from the example cluster config (node API on a free
loopback port, firewall off) with a fake NOTIFY_SOCKET, measures the time
until READY=1 arrives, reads VmRSS once /health answers, then stops it with
SIGTERM and checks the exit status.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def one_run(build, example, work):
    cfg = os.path.join(work, "config")
    os.makedirs(cfg, exist_ok=True)
    with open(os.path.join(ROOT, "examples/cluster/cluster.json")) as f:
        cluster = json.load(f)
    with open(os.path.join(ROOT, "examples/cluster", example)) as f:
        node = json.load(f)
    # The ensemble on loopback: a master runs it there, agents find none
    # (and run degraded); no traffic leaves the machine.
    cluster["masters"] = ["127.0.0.1"]
    cluster["zookeeper"] = {"client_port": free_port(), "peer_port": free_port(), "election_port": free_port()}
    if node["role"] == "master":
        node["address"] = "127.0.0.1"
    with open(os.path.join(cfg, "cluster.json"), "w") as f:
        json.dump(cluster, f)
    port = free_port()
    node["api"] = {"listen": "127.0.0.1:%d" % port}
    node["firewall"] = {"enabled": False}
    # The roles with a router (master, agent-public): HAProxy on a loopback
    # port of the bench's own, and gone with the run (it outlives dcosd).
    node.setdefault("modules", {})["router"] = {"bind": "127.0.0.1", "http_port": free_port()}
    with open(os.path.join(cfg, "node.json"), "w") as f:
        json.dump(node, f)
    sock_path = os.path.join(work, "notify")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path)
    env.pop("JOURNAL_STREAM", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [os.path.join(build, "dcosd/dcosd"), "--config-dir", cfg, "--plugin-dir", os.path.join(build, "plugins"),
         "--state-dir", os.path.join(work, "state")],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            msg = sock.recv(4096).decode()
            if "READY=1" in msg:
                ready_ms = (time.perf_counter() - t0) * 1000
                break
        urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read()
        rss_kib = 0
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=10)
        if status != 0:
            raise SystemExit("dcosd exited %d" % status)
        return ready_ms, rss_kib
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
        try:
            with open(os.path.join(work, "state", "router", "haproxy.pid")) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
            os.unlink(os.path.join(work, "state", "router", "haproxy.pid"))
        except (OSError, ValueError):
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    print("dcosd startup, %d runs per role (goal without ZooKeeper: READY=1 within 50 ms, RSS under 10 MB;"
          " a master's READY=1 waits for its ZooKeeper server to serve)" % args.runs)
    print("%-14s %12s %12s %12s %12s" % ("role", "ready p50 ms", "ready p90 ms", "ready max ms", "RSS KiB"))
    for role, example in (("master", "node-master.json"), ("agent-private", "node-agent-private.json"),
                          ("agent-public", "node-agent-public.json")):
        times, rss = [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="dcos-bench-") as work:
                t, r = one_run(args.build, example, work)
                times.append(t)
                rss.append(r)
        times.sort()
        print("%-14s %12.1f %12.1f %12.1f %12d" % (role, statistics.median(times), times[int(len(times) * 0.9) - 1],
                                                  times[-1], max(rss)))


if __name__ == "__main__":
    main()
