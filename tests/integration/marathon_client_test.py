#!/usr/bin/python3
"""A real Marathon client against a local cluster: Debian's python3-marathon
(marathon-python) drives an app through its life on the scheduler, and every
step is checked through the client's own objects and the agents' view.

Brings up a cluster of its own (name mc, 172.31.246.0/24, its own state dir)
with the dcos CLI and takes it down at the end. Needs root and
python3-marathon; exits 77 (skipped) without them.

Usage: marathon_client_test.py BUILD_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

try:
    from marathon import MarathonClient
    from marathon.exceptions import MarathonHttpError, NotFoundError
    from marathon.models import MarathonApp
except ImportError:
    print("skipped: no marathon-python (package python3-marathon)")
    sys.exit(77)

if os.geteuid() != 0:
    print("skipped: needs root")
    sys.exit(77)

build = os.path.abspath(sys.argv[1])
dcos = os.path.join(build, "cli/dcos")
state = tempfile.mkdtemp(prefix="dcos-marathon-client-test.")
cluster = ["--name", "mc", "--state-dir", state]
MASTER = "172.31.246.11"


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def wait_until(what, condition, within=30):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    fail("timed out after %ds waiting for %s" % (within, what))


def settled(client):
    """No deployment under way: a PUT without force is not refused (409)."""
    wait_until("the deployments done", lambda: not client.list_deployments())


def running(client, app_id):
    return [t for t in client.list_tasks(app_id) if t.state == "TASK_RUNNING"]


up = subprocess.run([dcos, "cluster", "up", "--network", "172.31.246.0/24"] + cluster, capture_output=True, text=True)
if up.returncode != 0:
    fail("cluster up: " + up.stdout + up.stderr)
try:
    c = MarathonClient("http://" + MASTER)
    if c.get_info().name != "marathon":
        fail("/v2/info does not say marathon")

    # Create: the client's own object, posted as the client posts it.
    app = c.create_app("/demo/web", MarathonApp(cmd="exec python3 -m http.server $PORT0", instances=2, cpus=0.1,
                                                mem=32, labels={"team": "a"}))
    if app.id != "/demo/web" or app.instances != 2:
        fail("create_app answered %s" % app)
    tasks = wait_until("2 tasks running", lambda: len(running(c, "/demo/web")) == 2 and running(c, "/demo/web"))
    for t in tasks:
        if t.host != "172.31.246.65" or not t.ports or not t.id.startswith("demo_web."):
            fail("a task in the wrong place or shape: %s" % t)
    print("ok: create_app: 2 tasks running on the private agent, ids %s" % ", ".join(t.id for t in tasks))

    # List with embedded tasks and a label filter, as marathon-lb reads it.
    apps = c.list_apps(embed_tasks=True, label="team==a")
    if [a.id for a in apps] != ["/demo/web"] or len(apps[0].tasks) != 2:
        fail("list_apps(embed_tasks, label) gave %s" % apps)
    if c.list_apps(label="team==b"):
        fail("a label filter let another app through")
    print("ok: list_apps(embed_tasks=True, label=...)")

    # Scale up and down.
    settled(c)
    c.scale_app("/demo/web", instances=3)
    wait_until("3 running after scale_app", lambda: len(running(c, "/demo/web")) == 3)
    settled(c)
    c.scale_app("/demo/web", delta=-2)
    wait_until("1 running after scaling down by 2", lambda: len(running(c, "/demo/web")) == 1 and
               len(c.list_tasks("/demo/web")) == 1)
    print("ok: scale_app to 3, then by -2: 1 task")

    # A task killed through the API is replaced; with scale, it is not.
    victim = running(c, "/demo/web")[0]
    c.kill_task("/demo/web", victim.id)
    wait_until("a replacement for the killed task",
               lambda: [t for t in running(c, "/demo/web") if t.id != victim.id])
    if len(c.list_tasks("/demo/web")) != 1:
        fail("killing a task left %d tasks" % len(c.list_tasks("/demo/web")))
    settled(c)
    survivor = running(c, "/demo/web")[0]
    c.kill_task("/demo/web", survivor.id, scale=True)
    wait_until("no task after a kill with scale", lambda: c.get_app("/demo/web").instances == 0 and
               not c.list_tasks("/demo/web"))
    print("ok: kill_task replaced the task; kill_task(scale=True) left none")

    # A new definition: every task runs the new version afterwards.
    settled(c)
    c.scale_app("/demo/web", instances=2)
    wait_until("2 running again", lambda: len(running(c, "/demo/web")) == 2)
    settled(c)
    before = c.get_app("/demo/web")
    update = c.get_app("/demo/web")
    update.cmd = "echo v2; exec python3 -m http.server $PORT0"
    c.update_app("/demo/web", update)
    def upgraded():
        a = c.get_app("/demo/web")
        ts = running(c, "/demo/web")
        return a.version != before.version and len(ts) == 2 and all(t.version == a.version for t in ts) and \
            len(c.list_tasks("/demo/web")) == 2
    wait_until("both tasks on the new version", upgraded)
    after = c.get_app("/demo/web")
    if after.version_info.last_config_change_at == before.version_info.last_config_change_at:
        fail("a changed cmd did not change versionInfo.lastConfigChangeAt")
    print("ok: update_app rolled both tasks to the new version")

    # Errors as the client sees them.
    try:
        c.create_app("/demo/web", MarathonApp(cmd="sleep 1", instances=1))
        fail("a duplicate app was accepted")
    except MarathonHttpError as e:
        if e.status_code != 409:
            fail("a duplicate app answered %d" % e.status_code)
    try:
        c.get_app("/nope")
        fail("an unknown app was found")
    except NotFoundError:
        pass
    bad = urllib.request.Request("http://%s/v2/apps" % MASTER, method="POST",
                                 data=json.dumps({"id": "/bad", "cpus": -1}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(bad, timeout=5)
        fail("an invalid app was accepted")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        paths = {d["path"] for d in body["details"]}
        if e.code != 422 or "/cpus" not in paths:
            fail("an invalid app answered %d %s" % (e.code, body))
    print("ok: 409 for a duplicate, 404 for an unknown app, 422 with details naming /cpus")

    # Gone, and its tasks with it.
    c.delete_app("/demo/web")
    wait_until("the app gone", lambda: not c.list_apps())
    wait_until("no task left", lambda: not c.list_tasks())
    print("ok: delete_app: the app and its tasks gone")
finally:
    subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
