#!/usr/bin/python3
"""The scheduler's failover on a 3-master local cluster with real agents:

1. 100 instances of an app run on two private agents; a follower's
   /v2/events relays the leader's stream.
2. A rolling upgrade of all 100 (minimumHealthCapacity 0.5,
   maximumOverCapacity 0) is under way when the leader's dcosd is SIGKILLed.
   Another master leads (the time it took is printed, with the ZooKeeper
   session timeout it is bounded by), the killed master's port 80 (its
   admin router) still answers through the other masters, the deployment
   completes, and then
   exactly 100 tasks run, all of the new version, and the agents run exactly
   those tasks: nothing lost, nothing doubled, nothing left over.
3. Two of the three masters go (every process in their namespaces): the one
   left has no ZooKeeper quorum, says so (/v2/info not elected, 503 naming
   ZooKeeper) and changes nothing: the agents' tasks stay as they were. The
   masters come back, the scheduler resumes by itself: a new app runs, and the
   100 tasks are the same ones.

Its own cluster (name ha, 172.31.243.0/24, its own state dir), taken down at
the end. Needs root; exits 77 (skipped) without it.

Usage: scheduler_ha_test.py BUILD_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

if os.geteuid() != 0:
    print("skipped: needs root")
    sys.exit(77)

build = os.path.abspath(sys.argv[1])
dcos = os.path.join(build, "cli/dcos")
state = tempfile.mkdtemp(prefix="dcos-scheduler-ha-test.")
cluster = ["--name", "ha", "--state-dir", state]
up_args = [dcos, "cluster", "up", "--masters", "3", "--private-agents", "2", "--public-agents", "0",
           "--network", "172.31.243.0/24"] + cluster
MASTERS = ["172.31.243.11", "172.31.243.12", "172.31.243.13"]
INSTANCES = 100


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def wait_until(what, condition, within=60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):  # a 503 or a text answer mid-change
            value = None
        if value:
            return value
        time.sleep(0.1)
    fail("timed out after %ds waiting for %s" % (within, what))


def api(master, method, path, body=None, timeout=10):
    """(status, parsed JSON or text) of one call to a master's admin port."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s%s" % (master, path), method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def nodes():
    with open(os.path.join(state, "ha", "state.json")) as f:
        return {n["address"]: n for n in json.load(f)["nodes"]}


def leader_of(master):
    status, body = api(master, "GET", "/v2/leader", timeout=3)
    return body["leader"].split(":")[0] if status == 200 else None


def app_tasks(master, app):
    status, body = api(master, "GET", "/v2/apps%s/tasks" % app)
    return body["tasks"] if status == 200 else None


def agent_tasks(via_master):
    """Every task the agents run (not ended), asked from inside a master's
    namespace (masters reach the agents' node API; this host does not)."""
    ns = nodes()[via_master]["netns"]
    out = {}
    for address, n in nodes().items():
        if n["role"] != "agent-private":
            continue
        r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", "5",
                            "http://%s:61001/agent/v1/tasks" % address], capture_output=True, text=True)
        if r.returncode != 0:
            fail("the agent %s did not list its tasks: %s" % (address, r.stderr))
        for t in json.loads(r.stdout)["tasks"]:
            if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"):
                out[t["id"]] = t["state"]
    return out


def kill_namespace(address):
    ns = nodes()[address]["netns"]
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    for p in pids:
        try:
            os.kill(int(p), signal.SIGKILL)
        except ProcessLookupError:
            pass


class Events(threading.Thread):
    """A follower's /v2/events, read line by line until it ends."""

    def __init__(self, master):
        super().__init__(daemon=True)
        self.master = master
        self.events = []
        self.attached = threading.Event()

    def run(self):
        req = urllib.request.Request("http://%s/v2/events" % self.master,
                                     headers={"Accept": "text/event-stream"})
        try:
            with urllib.request.urlopen(req, timeout=600) as r:
                if r.headers.get("Content-Type") != "text/event-stream":
                    return
                kind = None
                for raw in r:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        if data.get("eventType") != kind:
                            self.events.append(("MISMATCH", data))
                        self.events.append((kind, data))
                        if kind == "event_stream_attached":
                            self.attached.set()
        except (OSError, ValueError):
            pass


up = subprocess.run(up_args, capture_output=True, text=True)
if up.returncode != 0:
    fail("cluster up: " + up.stdout + up.stderr)
try:
    leader = wait_until("a scheduler leader", lambda: leader_of(MASTERS[0]))
    wait_until("the leader answering", lambda: api(leader, "GET", "/v2/info")[1]["elected"])
    follower = next(m for m in MASTERS if m != leader)
    events = Events(follower)
    events.start()
    if not events.attached.wait(10):
        fail("the follower %s relayed no event_stream_attached" % follower)

    status, body = api(leader, "POST", "/v2/apps", {
        "id": "/big", "cmd": "exec sleep 100000", "instances": INSTANCES, "cpus": 0.01, "mem": 4,
        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}})
    if status != 201:
        fail("POST /big answered %d %s" % (status, body))
    start = time.monotonic()
    wait_until("%d tasks running" % INSTANCES,
               lambda: len([t for t in app_tasks(leader, "/big") if t["state"] == "TASK_RUNNING"]) == INSTANCES,
               within=300)
    print("ok: %d tasks running on 2 agents, %.1f s after the POST" % (INSTANCES, time.monotonic() - start))
    wait_until("the first deployment done", lambda: api(leader, "GET", "/v2/deployments")[1] == [])

    # The rolling upgrade, and the leader killed in the middle of it.
    status, body = api(follower, "PUT", "/v2/apps/big", {"cmd": "exec sleep 100001"})
    if status != 200:
        fail("PUT /big through the follower answered %d %s" % (status, body))
    version = body["version"]
    def new_running():
        return len([t for t in app_tasks(leader, "/big") if t["version"] == version and t["state"] == "TASK_RUNNING"])
    wait_until("some tasks of the new version", lambda: new_running() >= 10, within=120)
    before_kill = new_running()
    if before_kill >= INSTANCES:
        fail("the upgrade was over before the leader was killed")
    os.kill(nodes()[leader]["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    survivors = [m for m in MASTERS if m != leader]
    new_leader = wait_until("a new leader", lambda: next(
        (l for l in [leader_of(m) for m in survivors] if l and l != leader), None), within=30)
    elected = time.monotonic() - killed_at
    wait_until("the new leader answering", lambda: api(new_leader, "GET", "/v2/info")[1]["elected"])
    print("ok: leader %s SIGKILLed with %d of %d tasks upgraded; %s leads %.2f s later "
          "(ZooKeeper session timeout 5 s)" % (leader, before_kill, INSTANCES, new_leader, elected))
    # The killed master's port 80 (its admin router, which outlives its
    # dcosd) still serves, through the other masters' node APIs.
    status, body = wait_until("the killed master's port 80 answering through the others",
                              lambda: (lambda r: r if r[0] == 200 else None)(api(leader, "GET", "/v2/info")), within=20)
    if str(body.get("leader") or "").split(":")[0] == leader:
        fail("the killed master's port 80 names it leader still: %s" % body.get("leader"))
    print("ok: the killed master's port 80 still serves /v2/info, through the other masters")

    def upgraded():
        tasks = app_tasks(new_leader, "/big")
        return (len(tasks) == INSTANCES and all(t["version"] == version and t["state"] == "TASK_RUNNING" for t in tasks)
                and api(new_leader, "GET", "/v2/deployments")[1] == [])
    wait_until("the upgrade completed by the new leader", upgraded, within=300)
    scheduler_ids = {t["id"] for t in app_tasks(new_leader, "/big")}
    on_agents = wait_until("the agents running exactly the scheduler's tasks",
                           lambda: set(agent_tasks(new_leader)) == scheduler_ids and agent_tasks(new_leader),
                           within=60)
    if len(set(on_agents)) != INSTANCES:
        fail("the agents run %d tasks" % len(on_agents))
    print("ok: upgrade completed after the failover: exactly %d tasks of the new version, the same set on "
          "the agents (none lost, doubled or left over)" % INSTANCES)

    kinds = [k for k, _ in events.events]
    if "MISMATCH" in kinds:
        fail("an event's data named another type than its event line")
    posts = [i for i, (k, d) in enumerate(events.events) if k == "api_post_event" and d.get("uri") == "/v2/apps/big"]
    infos = [i for i, (k, d) in enumerate(events.events) if k == "deployment_info"]
    news = [i for i, (k, d) in enumerate(events.events) if k == "status_update_event" and d.get("version") == version]
    if not posts or not infos or not news or not posts[0] < infos[-1] < news[0]:
        fail("the relayed stream is out of order or incomplete: %s" % kinds[:20])
    print("ok: the follower relayed %d events, in order (api_post_event, deployment_info, then the new "
          "version's status updates)" % len(kinds))

    # The killed master comes back as a follower.
    up = subprocess.run(up_args, capture_output=True, text=True)
    if up.returncode != 0:
        fail("cluster up after the kill: " + up.stdout + up.stderr)
    wait_until("the restarted master following %s" % new_leader, lambda: leader_of(leader) == new_leader)
    print("ok: the killed master is back and follows %s" % new_leader)

    # No quorum: the two followers gone; the leader left alone must stop.
    left = new_leader
    gone = [m for m in MASTERS if m != left]
    for m in gone:
        kill_namespace(m)
    wait_until("the leader left saying it has no quorum",
               lambda: api(left, "GET", "/v2/info")[1]["elected"] is False and
               "ZooKeeper" in str(api(left, "POST", "/v2/apps", {"id": "/nope", "cmd": "sleep 1"})[1]),
               within=30)
    status, body = api(left, "POST", "/v2/apps", {"id": "/nope", "cmd": "sleep 1"})
    if status != 503:
        fail("without quorum a POST answered %d %s" % (status, body))
    during = agent_tasks(left)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # a window of observation: nothing may change in it
        if agent_tasks(left) != during:
            fail("tasks changed without a ZooKeeper quorum")
        time.sleep(0.5)
    if set(during) != scheduler_ids:
        fail("without quorum the agents' tasks are not the 100 they were")
    print("ok: without quorum: the leader %s no longer elected, 503 naming ZooKeeper, the agents' %d tasks "
          "unchanged for 5 s" % (left, len(during)))

    up = subprocess.run(up_args, capture_output=True, text=True)
    if up.returncode != 0:
        fail("cluster up after the quorum loss: " + up.stdout + up.stderr)
    back_at = time.monotonic()
    # A record of a session lost with the quorum may name a master for a
    # session timeout more: the leader is the master that says it is elected.
    back_leader = wait_until("a leader again", lambda: next(
        (m for m in MASTERS if api(m, "GET", "/v2/info", timeout=3)[1]["elected"]), None), within=60)
    back_after = time.monotonic() - back_at
    status, body = api(left, "POST", "/v2/apps", {"id": "/after", "cmd": "exec sleep 1000", "cpus": 0.01, "mem": 4})
    if status != 201:
        fail("after the quorum came back a POST answered %d %s" % (status, body))
    wait_until("/after running", lambda: [t for t in app_tasks(left, "/after") if t["state"] == "TASK_RUNNING"])
    if {t["id"] for t in app_tasks(left, "/big")} != scheduler_ids:
        fail("the 100 tasks changed across the quorum loss")
    print("ok: quorum back: %s leads %.1f s after the masters were started again, a new app runs, the 100 tasks "
          "are the same ones" % (back_leader, back_after))
finally:
    subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
