#!/usr/bin/python3
"""The scheduler's placement and healing on a local cluster of real agents
(1 master, 2 private agents, 1 public agent), through Marathon's API:

- acceptedResourceRoles: slave_public lands only on the public agent, the
  default never does;
- each constraint operator on hostname (UNIQUE, CLUSTER, GROUP_BY, LIKE,
  UNLIKE, MAX_PER, IS), and an unmet one waiting in /v2/queue with its reason;
- a task failing its health check maxConsecutiveFailures times killed and
  replaced;
- a crashing app backed off, the delay visible in /v2/queue;
- a rolling upgrade with minimumHealthCapacity 0.5 and maximumOverCapacity 0
  watched step by step: never fewer than half the instances healthy, never
  more tasks than instances;
- an agent's dcosd killed: its task unreachable and replaced; the agent back
  (its task re-adopted): the surplus killed, exactly the count again, the
  agents agreeing.

Its own cluster (name sc, 172.31.242.0/24, its own state dir), taken down at
the end. Needs root; exits 77 (skipped) without it.

Usage: scheduler_scenarios_test.py BUILD_DIR
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

if os.geteuid() != 0:
    print("skipped: needs root")
    sys.exit(77)

build = os.path.abspath(sys.argv[1])
dcos = os.path.join(build, "cli/dcos")
state = tempfile.mkdtemp(prefix="dcos-scheduler-scenarios-test.")
os.chmod(state, 0o755)  # the tasks' sandboxes are inside, and their user must reach them
cluster = ["--name", "sc", "--state-dir", state]
up_args = [dcos, "cluster", "up", "--masters", "1", "--private-agents", "2", "--public-agents", "1",
           "--network", "172.31.242.0/24"] + cluster
MASTER = "172.31.242.11"
PRIVATE = {"172.31.242.65", "172.31.242.66"}
PUBLIC = "172.31.242.129"
SMALL = {"cpus": 0.01, "mem": 8}  # enough for sleep; python needs more cpu to start within a second
# An HTTP server on $PORT0 that starts at once (http.server's own main looks
# its host name up, which waits out DNS timeouts in a cluster without DNS),
# on a port an earlier task's connections may still hold in TIME_WAIT.
SERVE = ("exec python3 -c 'import http.server as h, socketserver as s, os; s.TCPServer.allow_reuse_address = True; "
         "s.ThreadingTCPServer((\"\", int(os.environ[\"PORT0\"])), h.SimpleHTTPRequestHandler).serve_forever()'")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def wait_until(what, condition, within=60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, ValueError, KeyError, TypeError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    fail("timed out after %ds waiting for %s" % (within, what))


def wait_until_or_none(condition, within):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (OSError, ValueError, KeyError, TypeError):
            pass
        time.sleep(0.1)
    return False


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s%s" % (MASTER, path), method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return r.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def create(app):
    definition = dict(SMALL)
    definition.update(app)
    status, body = api("POST", "/v2/apps", definition)
    if status != 201:
        fail("POST %s answered %d %s" % (app["id"], status, body))


def tasks(app_id):
    status, body = api("GET", "/v2/apps%s/tasks" % app_id)
    return body["tasks"] if status == 200 else []


def running(app_id):
    return [t for t in tasks(app_id) if t["state"] == "TASK_RUNNING"]


def hosts(app_id, count):
    """The hosts of the app's tasks once exactly `count` run."""
    ts = wait_until("%d tasks of %s running" % (count, app_id),
                    lambda: len(running(app_id)) == count and len(tasks(app_id)) == count and running(app_id))
    return sorted(t["host"] for t in ts)


def remove(app_id):
    """The app deleted and every task of it ended."""
    api("DELETE", "/v2/apps%s?force=true" % app_id)
    wait_until("%s gone" % app_id, lambda: api("GET", "/v2/apps%s" % app_id)[0] == 404 and not [
        t for t in api("GET", "/v2/tasks")[1]["tasks"] if t["appId"] == app_id])


def nodes():
    with open(os.path.join(state, "sc", "state.json")) as f:
        return {n["address"]: n for n in json.load(f)["nodes"]}


def agent_task_ids(address):
    ns = nodes()[MASTER]["netns"]
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-m", "5",
                        "http://%s:61001/agent/v1/tasks" % address], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    return {t["id"] for t in json.loads(r.stdout)["tasks"]
            if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")}


up = subprocess.run(up_args, capture_output=True, text=True)
if up.returncode != 0:
    fail("cluster up: " + up.stdout + up.stderr)
try:
    wait_until("the scheduler leading", lambda: api("GET", "/v2/info")[1]["elected"])

    # Resource roles.
    create({"id": "/pub", "cmd": "exec sleep 1000", "instances": 2, "acceptedResourceRoles": ["slave_public"]})
    create({"id": "/priv", "cmd": "exec sleep 1000", "instances": 4})
    if set(hosts("/pub", 2)) != {PUBLIC}:
        fail("slave_public tasks off the public agent: %s" % hosts("/pub", 2))
    if not set(hosts("/priv", 4)) <= PRIVATE:
        fail("default-role tasks on the public agent: %s" % hosts("/priv", 4))
    print("ok: acceptedResourceRoles [slave_public] only on the public agent; the default only on private ones")
    remove("/pub")
    remove("/priv")

    # Constraints, each operator.
    cases = [
        ("/c-unique", [["hostname", "UNIQUE"]], 2, lambda h: sorted(h) == sorted(PRIVATE)),
        ("/c-cluster", [["hostname", "CLUSTER", "agent-private-2"]], 3, lambda h: set(h) == {"172.31.242.66"}),
        ("/c-groupby", [["hostname", "GROUP_BY"]], 4, lambda h: sorted(h) == sorted(list(PRIVATE) * 2)),
        ("/c-like", [["hostname", "LIKE", "agent-private-1"]], 2, lambda h: set(h) == {"172.31.242.65"}),
        ("/c-unlike", [["hostname", "UNLIKE", "agent-private-1"]], 2, lambda h: set(h) == {"172.31.242.66"}),
        ("/c-maxper", [["hostname", "MAX_PER", "1"]], 2, lambda h: sorted(h) == sorted(PRIVATE)),
        ("/c-is", [["hostname", "IS", "agent-private-2"]], 2, lambda h: set(h) == {"172.31.242.66"}),
    ]
    for app_id, constraints, count, placed in cases:
        create({"id": app_id, "cmd": "exec sleep 1000", "instances": count, "constraints": constraints})
    for app_id, constraints, count, placed in cases:
        h = hosts(app_id, count)
        if not placed(h):
            fail("%s %s placed on %s" % (app_id, constraints, h))
    print("ok: constraints UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS each placed as they say")
    # One more than UNIQUE allows: two run, the third waits with the reason.
    status, _ = api("PUT", "/v2/apps/c-unique?force=true", {"instances": 3})
    if status != 200:
        fail("scaling /c-unique answered %d" % status)
    reason = wait_until("/c-unique waiting in the queue", lambda: next(
        (q["processedOffersSummary"]["reason"] for q in api("GET", "/v2/queue")[1]["queue"]
         if q["app"]["id"] == "/c-unique"), None))
    if "hostname:UNIQUE" not in reason or len(running("/c-unique")) != 2:
        fail("an unmet UNIQUE: reason %r, %d running" % (reason, len(running("/c-unique"))))
    print("ok: a third UNIQUE instance waits in /v2/queue: %s" % reason)
    for app_id, _, _, _ in cases:
        remove(app_id)

    # Health checks: failing maxConsecutiveFailures times, killed and replaced.
    create({"id": "/sick", "cmd": SERVE, "instances": 1, "mem": 64, "cpus": 0.2,
            "healthChecks": [{"protocol": "HTTP", "path": "/no-such-page", "portIndex": 0, "gracePeriodSeconds": 0,
                              "intervalSeconds": 1, "timeoutSeconds": 1, "maxConsecutiveFailures": 2}]})
    first = wait_until("a /sick task", lambda: running("/sick"))[0]["id"]
    wait_until("/sick reported unhealthy", lambda: any(
        r.get("alive") is False for t in tasks("/sick") for r in t["healthCheckResults"]), within=30)
    replacement = wait_until("the unhealthy task replaced", lambda: next(
        (t["id"] for t in tasks("/sick") if t["id"] != first), None), within=60)
    wait_until("the unhealthy task gone", lambda: first not in {t["id"] for t in tasks("/sick")}, within=30)
    print("ok: a task failing its HTTP health check twice was killed and replaced (%s -> %s)" % (first, replacement))
    remove("/sick")

    # Backoff in the queue.
    create({"id": "/crash", "cmd": "exit 1", "instances": 1, "backoffSeconds": 30, "backoffFactor": 1})
    delay = wait_until("/crash delayed in the queue", lambda: next(
        (q["delay"] for q in api("GET", "/v2/queue")[1]["queue"]
         if q["app"]["id"] == "/crash" and not q["delay"]["overdue"]), None), within=60)
    failure = api("GET", "/v2/apps/crash")[1]["app"].get("lastTaskFailure")
    if delay["timeLeftSeconds"] <= 0 or not failure:
        fail("backoff: delay %s, lastTaskFailure %s" % (delay, failure))
    print("ok: a crashing app backed off: /v2/queue delay %ds left, lastTaskFailure %r"
          % (delay["timeLeftSeconds"], failure["message"]))
    remove("/crash")

    # A rolling upgrade, watched.
    # Grace as Marathon's default: python starting under a cpu quota on a busy
    # machine may take long, and is not what is tested here.
    check = {"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 300, "intervalSeconds": 1,
             "timeoutSeconds": 1, "maxConsecutiveFailures": 3}
    create({"id": "/roll", "cmd": SERVE, "instances": 4, "mem": 64, "cpus": 0.2,
            "healthChecks": [check],
            "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0}})

    def healthy(ts):
        return [t for t in ts if t["state"] == "TASK_RUNNING" and any(r.get("alive") for r in t["healthCheckResults"])]
    if not wait_until_or_none(lambda: len(healthy(tasks("/roll"))) == 4, within=float(os.environ.get("DCOS_TEST_ROLL_WAIT", "240"))):
        fail("no 4 healthy /roll tasks: %s, last failure %s" % (
            [(t["state"], t["healthCheckResults"]) for t in tasks("/roll")],
            api("GET", "/v2/apps/roll")[1]["app"].get("lastTaskFailure")))
    wait_until("the /roll deployment done", lambda: api("GET", "/v2/deployments")[1] == [])
    status, body = api("PUT", "/v2/apps/roll", {"cmd": "echo v2; " + SERVE})
    if status != 200:
        fail("the upgrade answered %d %s" % (status, body))
    version = body["version"]
    fewest, most, samples = 4, 0, 0
    deadline = time.monotonic() + 180
    while True:
        ts = tasks("/roll")
        live = [t for t in ts if t["state"] in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING")]
        fewest = min(fewest, len(healthy(ts)))
        most = max(most, len(live))
        samples += 1
        if len(healthy(ts)) == 4 and all(t["version"] == version for t in ts) and len(ts) == 4 and \
                api("GET", "/v2/deployments")[1] == []:
            break
        if time.monotonic() > deadline:
            fail("the rolling upgrade did not finish: %s" % [(t["version"] == version, t["state"]) for t in ts])
        time.sleep(0.05)
    if fewest < 2:
        fail("the upgrade went down to %d healthy tasks (minimumHealthCapacity 0.5 of 4)" % fewest)
    if most > 4:
        fail("the upgrade ran %d tasks at once (maximumOverCapacity 0 of 4)" % most)
    print("ok: rolling upgrade 0.5/0 of 4, %d samples: never fewer than %d healthy, never more than %d tasks"
          % (samples, fewest, most))
    remove("/roll")

    # An agent away and back: replaced, then the surplus killed (never
    # expunged: the stranded task counts again once its agent re-adopts it).
    create({"id": "/steady", "cmd": "exec sleep 1000", "instances": 2,
            "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 0}})
    if sorted(hosts("/steady", 2)) != sorted(PRIVATE):
        fail("/steady not spread over both agents")
    wait_until("the /steady deployment done", lambda: api("GET", "/v2/deployments")[1] == [])
    away = "172.31.242.66"
    stranded = next(t["id"] for t in tasks("/steady") if t["host"] == away)
    os.kill(nodes()[away]["pid"], signal.SIGKILL)  # its dcosd only: the task runs on
    wait_until("the stranded task unreachable", lambda: any(
        t["id"] == stranded and t["state"] == "TASK_UNREACHABLE" for t in tasks("/steady")), within=60)
    wait_until("a replacement on the other agent", lambda: len(
        [t for t in running("/steady") if t["host"] != away]) == 2, within=60)
    print("ok: an agent's dcosd killed: its task unreachable, replaced on the other agent")
    up = subprocess.run(up_args, capture_output=True, text=True)
    if up.returncode != 0:
        fail("cluster up after the agent kill: " + up.stdout + up.stderr)

    def exact():
        ts = tasks("/steady")
        if len(ts) != 2 or len(running("/steady")) != 2:
            return None
        on_agents = set()
        for a in PRIVATE:
            ids = agent_task_ids(a)
            if ids is None:
                return None
            on_agents |= {i for i in ids if i.startswith("steady.")}
        return on_agents == {t["id"] for t in ts} and ts
    final = wait_until("exactly 2 /steady tasks again, as the agents say", exact, within=90)
    print("ok: the agent back: exactly 2 tasks (%s), the agents agreeing" % ", ".join(
        "%s on %s" % (t["id"], t["host"]) for t in final))
finally:
    if not os.environ.get("DCOS_TEST_KEEP_CLUSTER"):  # set it to look at a failure's cluster
        subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
