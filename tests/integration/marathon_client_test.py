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
import threading
import time
import urllib.request

try:
    from marathon import MarathonClient
    from marathon.exceptions import MarathonHttpError, NotFoundError
    from marathon.models import MarathonApp
    from marathon.models.group import MarathonGroup
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

    # The client's own event stream reader, filtered as marathon-lb asks,
    # every event built into the client's objects (it refuses one it cannot).
    seen = []
    attached = threading.Event()
    def listen():
        try:
            for e in MarathonClient("http://" + MASTER).event_stream(
                    event_types=["event_stream_attached", "api_post_event", "status_update_event",
                                 "deployment_info", "deployment_success"]):
                seen.append(e)
                if e.event_type == "event_stream_attached":
                    attached.set()
        except Exception as e:  # the client's parse errors end the stream: the test sees it
            seen.append(e)
    threading.Thread(target=listen, daemon=True).start()
    if not attached.wait(15):
        fail("no event_stream_attached from /v2/events: %s" % seen)

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
    # The killed task lives on for the kill drain (out of the routers first)
    # and its grace period; then one task is left.
    wait_until("the killed task gone, one task left", lambda: len(c.list_tasks("/demo/web")) == 1)
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

    # Versions: the client lists them and reads the first one back.
    versions = c.list_versions("/demo/web")
    if len(versions) < 2 or versions[0] != after.version:
        fail("list_versions gave %s (current %s)" % (versions, after.version))
    first = c.get_version("/demo/web", versions[-1])
    if first.cmd != "exec python3 -m http.server $PORT0":
        fail("the first version reads back as %s" % first.cmd)
    print("ok: list_versions (%d, newest first), get_version of the first" % len(versions))

    # A deployment that cannot finish (its tasks fail), rolled back.
    settled(c)
    broken = c.get_app("/demo/web")
    broken.cmd = "exit 3"
    dep = c.update_app("/demo/web", broken)["deploymentId"]
    deployments = wait_until("the broken deployment listed", lambda: [d for d in c.list_deployments() if d.id == dep])
    if deployments[0].affected_apps != ["/demo/web"] or not deployments[0].current_actions:
        fail("the deployment reads as %s" % deployments[0])
    wait_until("a failed task delaying the app", lambda: [q for q in c.list_queue() if q.app.id == "/demo/web"])
    c.reset_delay("/demo/web")
    back = c.delete_deployment(dep)
    if "deploymentId" not in back:
        fail("a rollback answered %s" % back)
    wait_until("the app back on its command", lambda: c.get_app("/demo/web").cmd == after.cmd and
               len(running(c, "/demo/web")) == 2)
    settled(c)
    print("ok: a failing deployment rolled back with delete_deployment; reset_delay accepted")

    # Groups, as the client builds them.
    group = MarathonGroup(id="/shop", apps=[MarathonApp(id="db", cmd="exec sleep 1000", cpus=0.05, mem=16),
                                           MarathonApp(id="web", cmd="exec sleep 1000", cpus=0.05, mem=16,
                                                       dependencies=["/shop/db"])])
    made = c.create_group(group)
    if "deploymentId" not in made:
        fail("create_group answered %s" % made)
    wait_until("both apps of the group running", lambda: len(running(c, "/shop/db")) == 1 and
               len(running(c, "/shop/web")) == 1)
    shop = c.get_group("/shop")
    if sorted(a.id for a in shop.apps) != ["/shop/db", "/shop/web"]:
        fail("get_group gave %s" % shop)
    if "/shop" not in [g.id for g in c.list_groups()]:
        fail("list_groups does not list /shop")
    settled(c)
    c.scale_group("/shop", 2)
    wait_until("the group scaled by 2", lambda: len(running(c, "/shop/db")) == 2 and len(running(c, "/shop/web")) == 2)
    settled(c)
    c.delete_group("/shop")
    wait_until("the group gone", lambda: not [a for a in c.list_apps() if a.id.startswith("/shop/")] and
               not [t for t in c.list_tasks() if t.app_id.startswith("/shop/")])
    print("ok: create_group with a dependency, get_group, list_groups, scale_group, delete_group")

    # The events seen meanwhile, as the client's objects.
    errors = [e for e in seen if isinstance(e, Exception)]
    if errors:
        fail("the client could not read an event: %s" % errors[0])
    kinds = {e.event_type for e in seen}
    for kind in ("api_post_event", "status_update_event", "deployment_info", "deployment_success"):
        if kind not in kinds:
            fail("no %s in the stream (got %s)" % (kind, sorted(kinds)))
    print("ok: event_stream: %d events read by the client, filtered to %s" % (len(seen), sorted(kinds)))

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
