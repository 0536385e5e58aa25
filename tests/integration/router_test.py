#!/usr/bin/python3
"""The routers on a local cluster (1 master, 1 private agent, 1 public
agent), with real HAProxy, asked from the operators' host:

- the admin router on the master's port 80: /marathon/, /v2/, /mesos/,
  /mesos_dns/, /exhibitor/, /system/health/v1/ and /health reach the node
  API; /service/<app>/ reaches the app's tasks, the prefix taken off; a body
  over the limit gets a 413, headers that never end a 408, a client with too
  many connections a 429; port 443 serves the same with a certificate from
  the master's own CA (the masters' CAs served at /ca/dcos-ca.crt), verified for the master's
  address by Python's ssl and by the CLI (--ca-cert, DCOS_CA_CERT), kept
  across a dcosd restart, and replaced by the operator's own pair named in
  cluster.json;

- an app in group external with HAPROXY_0_VHOST is served on the public
  agent's port 80 by its Host header, its 3 tasks in turn, and on 443 (the
  node's self-signed certificate); an unknown host gets a 503 at once; an
  app with HAPROXY_0_REDIRECT_TO_HTTPS gets http sent to https;
- its service port is bound and opened in the public agent's zone
  firewall, and closed again when the app goes;
- a private app (on the private agent) is reached through the edge, never
  directly from the host;
- labels with bad values (a port index the app lacks, an unknown mode) are
  logged with the app and the label, and the rest is still served;
- while a bounded load runs from the host through the edge: scale 3 -> 6 ->
  2, a rolling upgrade, a task killed through the API, and the public
  agent's dcosd SIGKILLed and started again (HAProxy, the same process, goes
  on serving), a new app whose service port makes HAProxy reload: zero
  failed requests.

Its own cluster (name router, 172.31.244.0/24), taken down at the end.
Needs root; exits 77 (skipped) without it.

Usage: router_test.py BUILD_DIR
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

if os.geteuid() != 0:
    print("skipped: needs root")
    sys.exit(77)
if not os.path.exists("/usr/sbin/haproxy"):
    print("FAIL: /usr/sbin/haproxy is missing (scripts/install-deps.sh installs it)", file=sys.stderr)
    sys.exit(1)

build = os.path.abspath(sys.argv[1])
dcos = os.path.join(build, "cli/dcos")
state = tempfile.mkdtemp(prefix="dcos-router-test.")
os.chmod(state, 0o755)
NET = "172.31.244."
MASTER = NET + "11"
PRIVATE = NET + "65"
PUBLIC = NET + "129"
cluster = ["--name", "router", "--state-dir", state]
up_args = [dcos, "cluster", "up", "--masters", "1", "--private-agents", "1", "--public-agents", "1",
           "--network", NET + "0/24"] + cluster
PUBLIC_NS = "dcos-router-p1"
PUBLIC_DIR = os.path.join(state, "router", "p1")
MASTER_DIR = os.path.join(state, "router", "m1")


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def wait_until(what, condition, within=60):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (OSError, ValueError, KeyError, TypeError, http.client.HTTPException):
            last = None
        if last:
            return last
        time.sleep(0.05)
    fail("timed out after %ds waiting for %s" % (within, what))


def api(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s%s" % (MASTER, path), method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
        return r.status, json.loads(text) if text else None


def running(app_id):
    _, body = api("GET", "/v2/apps%s/tasks" % app_id)
    return [t for t in body["tasks"] if t["state"] == "TASK_RUNNING"]


def request(address, port, path, method="GET", headers=None, cafile=None, timeout=10):
    """(status, headers, body, the server's certificate in DER or None) of
    one request from the operators' host; over https, verified against
    CAFILE for ADDRESS, when CAFILE is given."""
    if cafile:
        c = http.client.HTTPSConnection(address, port, timeout=timeout,
                                        context=ssl.create_default_context(cafile=cafile))
    else:
        c = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return (r.status, dict(r.getheaders()), r.read().decode(),
                c.sock.getpeercert(binary_form=True) if cafile else None)
    finally:
        c.close()


def edge_https(host_header, path="/id"):
    """(status, body) over the edge's port 443, its certificate verified
    against the public agent's own (self-signed) CA for its address."""
    status, _, body, _ = request(PUBLIC, 443, path, headers={"Host": host_header}, timeout=5,
                                 cafile=os.path.join(PUBLIC_DIR, "state", "router", "tls", "ca.crt"))
    return status, body


def edge(host_header, path="/id", address=PUBLIC, port=80, timeout=5):
    """(status, body) of one request from the operators' host."""
    status, _, body, _ = request(address, port, path, headers={"Host": host_header}, timeout=timeout)
    return status, body


def app(app_id, vhost, instances, role="slave_public", extra_labels=None, env=None):
    labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": vhost}
    labels.update(extra_labels or {})
    return {"id": app_id, "instances": instances, "cpus": 0.05, "mem": 32, "labels": labels, "env": env or {},
            "acceptedResourceRoles": [role],
            # Each task says who it is at /id.
            "cmd": "echo -n $MESOS_TASK_ID > id; exec python3 -m http.server --bind 0.0.0.0 $PORT0",
            "healthChecks": [{"protocol": "HTTP", "path": "/id", "portIndex": 0, "gracePeriodSeconds": 30,
                              "intervalSeconds": 1, "timeoutSeconds": 2, "maxConsecutiveFailures": 3}],
            "portDefinitions": [{"port": 0}]}


def served_ids(vhost, n):
    ids = []
    for _ in range(n):
        status, body = edge(vhost)
        if status != 200:
            return []
        ids.append(body)
    return ids


def healthy_ids(app_id):
    return sorted(t["id"] for t in running(app_id)
                  if t.get("healthCheckResults") and all(h["alive"] for h in t["healthCheckResults"]))


class Load(threading.Thread):
    """Requests from the host through the edge, two at a time, until stopped."""

    def __init__(self, vhost):
        super().__init__(daemon=True)
        self.vhost, self.stop, self.ok, self.failed, self.errors = vhost, threading.Event(), 0, 0, []
        self.lock = threading.Lock()

    def one(self):
        while not self.stop.is_set():
            try:
                status, body = edge(self.vhost, timeout=10)
                good = status == 200
                why = "status %d: %s" % (status, body.strip()[:80])
            except (OSError, http.client.HTTPException) as e:
                good, why = False, repr(e)
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.failed += 1
                    self.errors.append(why)

    def run(self):
        workers = [threading.Thread(target=self.one, daemon=True) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()


def nft_ports():
    r = subprocess.run(["ip", "netns", "exec", PUBLIC_NS, "nft", "list", "ruleset"], capture_output=True, text=True)
    return r.stdout


def log_text():
    with open(os.path.join(PUBLIC_DIR, "dcosd.log")) as f:
        return f.read()


# The admin router's routes to the node API, and a part of each answer.
ADMIN_ROUTES = (("/marathon/v2/info", '"name"'), ("/v2/info", '"name"'), ("/mesos/master/state", '"frameworks"'),
                ("/mesos_dns/v1/version", '"Service"'), ("/exhibitor/v1/cluster/status", '"hostname"'),
                ("/system/health/v1/nodes", '"nodes"'), ("/health", '"status"'))


def admin(path, method="GET", headers=None):
    """(status, headers, body) of one request to the master's port 80."""
    return request(MASTER, 80, path, method, headers)[:3]


def raw(data, address=MASTER, port=80, within=15):
    """What the master's port 80 answers to DATA sent raw, until it closes
    (or WITHIN seconds pass), and how long that took."""
    t0 = time.monotonic()
    s = socket.create_connection((address, port), timeout=within)
    out = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    finally:
        s.close()
    return out.decode(errors="replace"), time.monotonic() - t0


def admin_router(private_task):
    """The master's port 80: HAProxy, the node API's paths behind it, the
    apps at /service/<app>/, and the limits."""
    r = subprocess.run(["ip", "netns", "exec", "dcos-router-m1", "ss", "-Hltnp", "sport = :80"],
                       capture_output=True, text=True)
    check("haproxy" in r.stdout, "the master's port 80 is not HAProxy's: %s" % r.stdout)
    for path, part in ADMIN_ROUTES:
        status, headers, body = admin(path)
        check(status == 200 and part in body, "admin router %s: %d %s" % (path, status, body[:200]))
    print("admin router: /marathon/, /v2/, /mesos/, /mesos_dns/, /exhibitor/, /system/health/v1/ through port 80")
    # Apps at /service/<app>/: the prefix taken off, the query kept.
    wait_until("/private at /service/private/", lambda: admin("/service/private/id?x=1")[2] == private_task, 30)
    # An id of two segments: both taken off.
    check(api("POST", "/v2/apps", app("/grp/deep", "deep.test", 1, role="*"))[0] == 201, "POST /grp/deep")
    wait_until("/grp/deep healthy", lambda: len(healthy_ids("/grp/deep")) == 1, 90)
    deep = healthy_ids("/grp/deep")[0]
    wait_until("/grp/deep at /service/grp/deep/", lambda: admin("/service/grp/deep/id")[2] == deep, 30)
    status, headers, _ = admin("/service/grp/deep?a=b")
    check(status == 307 and headers.get("location") == "/service/grp/deep/?a=b", "/service/grp/deep?a=b: %d %s" % (status, headers))
    wait_until("/web at /service/web/", lambda: admin("/service/web/id")[2] in healthy_ids("/web"), 30)
    status, headers, _ = admin("/service/web")
    check(status == 307 and headers.get("location") == "/service/web/", "/service/web: %d %s" % (status, headers))
    status, _, _ = admin("/service/nothing/id")
    check(status == 404, "/service/nothing/id: %d" % status)
    print("admin router: /service/private/ and /service/web/ reach their tasks")
    # Limits: a body over 1 MiB refused before it is sent; a request whose
    # headers never end cut; connections per client address capped.
    out, took = raw(b"POST /v2/apps HTTP/1.1\r\nHost: m\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2000000\r\n\r\n")
    check(out.startswith("HTTP/1.1 413") and '"message"' in out, "an oversized body: %r" % out[:200])
    out, took = raw(b"GET /v2/info HTTP/1.1\r\nHost: m\r\n", within=30)
    check(out.startswith("HTTP/1.1 408") and took < 20, "unfinished headers: %r after %.1f s" % (out[:100], took))
    print("admin router: an oversized body 413, unfinished headers 408 after %.1f s" % took)
    idle = [socket.create_connection((MASTER, 80), timeout=10) for _ in range(256)]
    try:
        def refused():
            status, _, body = admin("/v2/info")
            return status == 429 and '"message"' in body
        wait_until("a 257th connection refused with 429", refused, 10)
    finally:
        for s in idle:
            s.close()
    wait_until("served again once the connections are gone", lambda: admin("/v2/info")[0] == 200, 10)
    print("admin router: 256 connections from one address, the next gets 429")
    admin_https()


def https(path, cafile, port=443):
    """(status, body, the server's certificate in DER) of a GET over https,
    verified against CAFILE for the master's address."""
    status, _, body, cert = request(MASTER, port, path, cafile=cafile)
    return status, body, cert


def admin_https():
    """Port 443 with the master's own CA: the masters' CAs at
    /ca/dcos-ca.crt, the master's certificate verified for its address, the
    CLI over https."""
    status, _, ca = admin("/ca/dcos-ca.crt")  # the masters' CAs: this one's
    check(status == 200 and "BEGIN CERTIFICATE" in ca, "/ca/dcos-ca.crt: %d %s" % (status, ca[:100]))
    with open(os.path.join(MASTER_DIR, "state", "router", "tls", "ca.crt")) as f:
        check(ca == f.read(), "/ca/dcos-ca.crt is not the one master's CA certificate")
    cafile = os.path.join(state, "dcos-ca.crt")
    with open(cafile, "w") as f:
        f.write(ca)
    status, body, _ = wait_until("https on port 443", lambda: https("/v2/info", cafile), 30)
    check(status == 200 and '"name"' in body, "https /v2/info: %d %s" % (status, body[:200]))
    for path, part in ADMIN_ROUTES:
        status, body, _ = https(path, cafile)
        check(status == 200 and part in body, "admin router https %s: %d %s" % (path, status, body[:200]))
    status, body, _ = https("/service/web/id", cafile)
    check(status == 200 and body in healthy_ids("/web"), "https /service/web/id: %d %s" % (status, body))
    # Another CA's client refuses it.
    other = os.path.join(state, "other-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=other", "-keyout", other + ".key", "-out", other + ".crt", "-days", "2"],
                   check=True, capture_output=True)
    try:
        https("/v2/info", other + ".crt")
        fail("a client of another CA accepted the master's certificate")
    except ssl.SSLCertVerificationError:
        pass
    # The CLI, given the CA by option and by environment; without it, the
    # system's CAs do not know the cluster's.
    cli = [dcos, "marathon", "app", "list", "--json", "--url", "https://" + MASTER]
    r = subprocess.run(cli + ["--ca-cert", cafile], capture_output=True, text=True)
    check(r.returncode == 0 and "/web" in r.stdout, "dcos marathon app list over https: %s%s" % (r.stdout, r.stderr))
    r = subprocess.run(cli, capture_output=True, text=True, env=dict(os.environ, DCOS_CA_CERT=cafile))
    check(r.returncode == 0 and "/web" in r.stdout, "DCOS_CA_CERT: %s%s" % (r.stdout, r.stderr))
    r = subprocess.run(cli, capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "DCOS_CA_CERT"})
    check(r.returncode == 3 and "--ca-cert" in r.stderr, "the CLI without the cluster's CA: %d %s" % (r.returncode, r.stderr))
    r = subprocess.run(cli + ["--ca-cert", "/nonexistent.crt"], capture_output=True, text=True)
    check(r.returncode == 2 and "--ca-cert: cannot read /nonexistent.crt" in r.stderr, "an unreadable --ca-cert: %s" % r.stderr)
    print("admin router: https on 443 from the master's CA, verified for %s, every route; the CLI over https"
          " (--ca-cert, DCOS_CA_CERT)" % MASTER)
    with open(os.path.join(MASTER_DIR, "dcosd.log")) as f:
        warned = [line for line in f if "warning: router: " in line and ": health " not in line]
    check(not warned, "the master's router warned: %s" % warned[:5])


def restart_master():
    with open(os.path.join(state, "router", "state.json")) as f:
        node = next(n for n in json.load(f)["nodes"] if n["address"] == MASTER)
    os.kill(node["pid"], signal.SIGKILL)
    wait_until("the master's dcosd gone", lambda: not os.path.exists("/proc/%d" % node["pid"]), 20)
    r = subprocess.run(up_args, capture_output=True, text=True)
    check(r.returncode == 0, "cluster up after the master's kill: %s%s" % (r.stdout, r.stderr))


def master_restart_tls():
    """The master's certificate is made once and kept across a dcosd
    restart; the operator's pair named in cluster.json replaces it."""
    cafile = os.path.join(state, "dcos-ca.crt")
    _, _, before = https("/v2/info", cafile)
    restart_master()
    _, _, after = wait_until("https after the master's restart", lambda: https("/v2/info", cafile), 30)
    check(after == before, "the master's certificate changed across a dcosd restart")
    print("admin router: the same certificate after the master's dcosd restart")
    # The operator's own certificate, for the master's address.
    op = os.path.join(state, "operator")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=operator", "-addext", "subjectAltName=IP:" + MASTER, "-keyout", op + ".key",
                    "-out", op + ".crt", "-days", "2"], check=True, capture_output=True)
    cluster_json = os.path.join(MASTER_DIR, "etc", "cluster.json")
    with open(cluster_json) as f:
        c = json.load(f)
    c["tls"] = {"cert": op + ".crt", "key": op + ".key"}
    with open(cluster_json, "w") as f:
        json.dump(c, f)
    restart_master()
    status, body, _ = wait_until("the operator's certificate served",
                                 lambda: https("/v2/info", op + ".crt"), 30)
    check(status == 200, "https with the operator's certificate: %d" % status)
    try:
        https("/v2/info", cafile)
        fail("the cluster CA's certificate is still served beside the operator's")
    except ssl.SSLCertVerificationError:
        pass
    print("admin router: the operator's certificate from cluster.json's tls")
    # Renewed in place: served after a reload, with no restart.
    _, _, first = https("/v2/info", op + ".crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=operator renewed", "-addext", "subjectAltName=IP:" + MASTER, "-keyout", op + ".key.new",
                    "-out", op + ".crt.new", "-days", "2"], check=True, capture_output=True)
    os.replace(op + ".key.new", op + ".key")
    os.replace(op + ".crt.new", op + ".crt")
    wait_until("the renewed certificate served", lambda: https("/v2/info", op + ".crt")[2] != first, 30)
    print("admin router: the operator's certificate renewed in place, served without a restart")


def main():
    r = subprocess.run(up_args, capture_output=True, text=True)
    if r.returncode != 0:
        fail("cluster up: %s%s" % (r.stdout, r.stderr))

    # An unknown host: 503 at once, before any app.
    t0 = time.monotonic()
    status, _ = edge("nobody.test", timeout=3)
    check(status == 503, "an unknown virtual host got %d" % status)
    print("unknown host: 503 in %.1f ms" % ((time.monotonic() - t0) * 1000))

    status, body = api("POST", "/v2/apps", app("/web", "web.test", 3,
                                                extra_labels={"HAPROXY_5_VHOST": "five.test",
                                                              "HAPROXY_0_BALANCE": "roundrobin"}))
    check(status == 201, "POST /web: %s %s" % (status, body))
    service_port = body["portDefinitions"][0]["port"]
    check(service_port >= 10000, "a service port picked for /web: %s" % body["portDefinitions"])
    wait_until("3 healthy web tasks", lambda: len(healthy_ids("/web")) == 3, 90)
    ids = healthy_ids("/web")
    wait_until("the 3 web tasks served through the edge in turn", lambda: sorted(served_ids("web.test", 3)) == ids, 30)
    print("web.test: 3 tasks in turn: %s" % served_ids("web.test", 3))
    status, body = wait_until("web.test over the edge's https", lambda: edge_https("web.test"), 30)
    check(status == 200 and body in ids, "https web.test: %d %s" % (status, body))
    print("web.test over https (the public agent's self-signed certificate): %s" % body)

    # The service port: bound, and open in the zone firewall.
    wait_until("web on its service port %d" % service_port,
               lambda: edge("any", address=PUBLIC, port=service_port)[1] in ids, 30)
    check("%d" % service_port in nft_ports(), "service port %d not in the public agent's ruleset" % service_port)

    # Bad labels: logged with the app and the label; the rest served.
    bad = app("/bad", "bad.test", 1, extra_labels={"HAPROXY_0_MODE": "carrier-pigeon"})
    bad["labels"]["HAPROXY_7_PATH"] = "/x"
    check(api("POST", "/v2/apps", bad)[0] == 201, "POST /bad")
    wait_until("the bad labels logged", lambda: "app /bad: label HAPROXY_7_PATH" in log_text() and
               "app /bad: label HAPROXY_0_MODE: unknown mode \"carrier-pigeon\"" in log_text(), 60)
    wait_until("/bad served over http all the same", lambda: edge("bad.test")[0] == 200, 90)
    check(edge("web.test")[0] == 200, "web.test beside /bad's bad labels")

    # A private app: through the edge, never directly.
    check(api("POST", "/v2/apps", app("/private", "private.test", 1, role="*"))[0] == 201, "POST /private")
    wait_until("/private healthy", lambda: len(healthy_ids("/private")) == 1, 90)
    task = running("/private")[0]
    check(task["host"] == PRIVATE, "/private runs on the private agent: %s" % task["host"])
    wait_until("/private through the edge", lambda: edge("private.test")[1] == task["id"], 30)
    try:
        socket.create_connection((PRIVATE, task["ports"][0]), timeout=2).close()
        fail("the host reached the private task directly at %s:%d" % (PRIVATE, task["ports"][0]))
    except OSError:
        pass

    admin_router(task["id"])

    # Changes under load: zero failed requests.
    load = Load("web.test")
    load.start()

    def phase(name, action, done, within=120):
        before = load.ok
        action()
        wait_until(name, done, within)
        wait_until("requests after " + name, lambda: load.ok > before + 20, 30)
        print("%s: %d requests so far, %d failed" % (name, load.ok, load.failed))

    def served_exactly(expected):
        return sorted(set(served_ids("web.test", 3 * len(expected)))) == sorted(expected)

    phase("scaled to 6", lambda: api("PUT", "/v2/apps/web?force=true", {"instances": 6}),
          lambda: len(healthy_ids("/web")) == 6 and served_exactly(healthy_ids("/web")))
    phase("scaled to 2", lambda: api("PUT", "/v2/apps/web?force=true", {"instances": 2}),
          lambda: len(running("/web")) == 2 and served_exactly(healthy_ids("/web")))
    old = set(healthy_ids("/web"))
    phase("upgraded", lambda: api("PUT", "/v2/apps/web?force=true", {"env": {"VERSION": "2"}}),
          lambda: not (set(t["id"] for t in running("/web")) & old) and len(healthy_ids("/web")) == 2 and
          served_exactly(healthy_ids("/web")) and not api("GET", "/v2/deployments")[1])
    # A new app: routed by its host at once, and its service port bound by
    # a reload of HAProxy, under the load on web.test.
    status, other = api("POST", "/v2/apps", app("/other", "other.test", 1,
                                                 extra_labels={"HAPROXY_0_REDIRECT_TO_HTTPS": "true"}))
    check(status == 201, "POST /other: %s" % status)
    other_port = other["portDefinitions"][0]["port"]
    phase("a new app (a reload)", lambda: None,
          lambda: edge_https("other.test")[0] == 200 and edge("x", port=other_port)[0] == 200, 90)
    # It asks for https: plain http on port 80 is sent there.
    c = http.client.HTTPConnection(PUBLIC, 80, timeout=5)
    c.request("GET", "/id?x=1", headers={"Host": "other.test"})
    r = c.getresponse()
    check(r.status == 301 and r.getheader("location") == "https://other.test/id?x=1",
          "http to /other: %d %s" % (r.status, r.getheader("location")))
    c.close()
    print("edge: /other (HAPROXY_0_REDIRECT_TO_HTTPS) served on 443, port 80 redirects there")
    victim = healthy_ids("/web")[0]
    phase("a task killed", lambda: api("DELETE", "/v2/apps/web/tasks/%s" % victim),
          lambda: victim not in [t["id"] for t in running("/web")] and len(healthy_ids("/web")) == 2 and
          served_exactly(healthy_ids("/web")))

    # The public agent's dcosd killed and started again: HAProxy serves on.
    with open(os.path.join(PUBLIC_DIR, "state", "router", "haproxy.pid")) as f:
        haproxy = int(f.read().strip())
    with open(os.path.join(state, "router", "state.json")) as f:
        node = next(n for n in json.load(f)["nodes"] if n["address"] == PUBLIC)

    def restart():
        os.kill(node["pid"], signal.SIGKILL)
        wait_until("the public agent's dcosd gone", lambda: not os.path.exists("/proc/%d" % node["pid"]), 20)
        r = subprocess.run(up_args, capture_output=True, text=True)
        check(r.returncode == 0, "cluster up after the kill: %s%s" % (r.stdout, r.stderr))

    phase("dcosd restarted", restart, lambda: "adopted the running HAProxy" in log_text())
    with open(os.path.join(PUBLIC_DIR, "state", "router", "haproxy.pid")) as f:
        check(int(f.read().strip()) == haproxy, "HAProxy was restarted with dcosd")
    phase("scaled to 3 after the restart", lambda: api("PUT", "/v2/apps/web?force=true", {"instances": 3}),
          lambda: len(healthy_ids("/web")) == 3 and served_exactly(healthy_ids("/web")))
    load.stop.set()
    load.join()
    print("load: %d requests, %d failed" % (load.ok, load.failed))
    check(load.failed == 0, "%d failed requests through the edge: %s" % (load.failed, load.errors[:10]))

    # The app gone: its service port closed. Without force, once the scale's
    # deployment has ended (the tasks can be healthy a round of the
    # scheduler before it says so; meanwhile Marathon answers 409).
    wait_until("no deployment of /web", lambda: not any("/web" in d.get("affectedApps", [])
                                                         for d in api("GET", "/v2/deployments")[1]), 30)
    check(api("DELETE", "/v2/apps/web")[0] == 200, "DELETE /web")
    wait_until("web.test gone (503)", lambda: edge("web.test")[0] == 503, 60)
    wait_until("service port %d closed in the firewall" % service_port,
               lambda: ("%d" % service_port) not in nft_ports(), 30)
    master_restart_tls()
    print("router test: ok")


try:
    main()
finally:
    if os.environ.get("DCOS_TEST_KEEP_CLUSTER") != "1":
        subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
