#!/usr/bin/python3
"""The masters' DNS on a local cluster (3 masters, 1 private agent, 1 public
agent), asked with dig from inside the cluster:

- every kind of name Mesos-DNS answers: a task's A (L.marathon.mesos and
  under marathon.slave.mesos), its canonical name, SRV for tcp and udp
  ports, a named port, the agents' SRV; leader, master, master<i>, slave,
  agent, marathon.mesos and its _framework SRV, _leader SRV, ns1, SOA, NS;
- NXDOMAIN with the SOA in authority; NOERROR and empty for another type;
- an answer too large for 512 bytes: TC over UDP without EDNS0, the whole
  answer over TCP, and over UDP with a large enough EDNS0 buffer (OPT only
  to clients that sent one);
- forwarding: names outside the zone go to an upstream this test starts on
  the cluster's host link (NSD), a large upstream answer included;
- fresh: records appear once tasks run and vanish once they end; every
  master answers the same, also with one master's dcosd stopped;
- the HTTP API (/v1/hosts, /v1/services, /v1/version, /v1/config, under
  /mesos_dns too);
- a task reaches another app by http://<app>.marathon.mesos:<port>;
- the operators' host does not reach a master's port 53;
- IPv6: a master answers on ::1.

Its own cluster (name dns, 172.31.241.0/24), taken down at the end. Needs
root; exits 77 (skipped) without it.

Usage: dns_test.py BUILD_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

if os.geteuid() != 0:
    print("skipped: needs root")
    sys.exit(77)
for tool in ("dig", "nsd"):
    if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
        print("FAIL: %s is missing (scripts/install-deps.sh installs it)" % tool, file=sys.stderr)
        sys.exit(1)

build = os.path.abspath(sys.argv[1])
dcos = os.path.join(build, "cli/dcos")
state = tempfile.mkdtemp(prefix="dcos-dns-test.")
os.chmod(state, 0o755)
NET = "172.31.241."
MASTERS = [NET + "11", NET + "12", NET + "13"]
PRIVATE = NET + "65"
PUBLIC = NET + "129"
HOST = NET + "254"
cluster = ["--name", "dns", "--state-dir", state]
up_args = [dcos, "cluster", "up", "--masters", "3", "--private-agents", "1", "--public-agents", "1",
           "--network", NET + "0/24", "--resolvers", HOST] + cluster
AGENT_NS = "dcos-dns-a1"
upstream = None


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def wait_until(what, condition, within=60):
    deadline = time.monotonic() + within
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
            last = None
        if last:
            return last
        time.sleep(0.05)
    fail("timed out after %ds waiting for %s" % (within, what))


def dig(name, qtype="A", server=MASTERS[0], *options, netns=AGENT_NS):
    """dig from inside the cluster (an agent's namespace): the whole output."""
    argv = ["dig", "@" + server, name, qtype, "+time=2", "+tries=1"] + list(options)
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout


def short(name, qtype="A", server=MASTERS[0]):
    return sorted(line for line in dig(name, qtype, server, "+short").splitlines() if line)


def status_of(out):
    for line in out.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].strip()
    return None


def section(out, name):
    lines, inside = [], False
    for line in out.splitlines():
        if line.startswith(";; %s SECTION:" % name):
            inside = True
            continue
        if inside:
            if not line.strip():
                break
            lines.append(line)
    return lines


def api(method, path, body=None, host=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://%s%s" % (host or MASTERS[0], path), method=method, data=data,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        text = r.read().decode()
        return r.status, json.loads(text) if text else None


def running(app_id):
    _, body = api("GET", "/v2/apps%s/tasks" % app_id)
    return [t for t in body["tasks"] if t["state"] == "TASK_RUNNING"]


def start_upstream():
    """NSD on the host's end of the cluster link, for example.test."""
    d = os.path.join(state, "upstream")
    os.makedirs(d)
    big = " ".join('"%s"' % (chr(ord("a") + i) * 200) for i in range(8))  # 1.6 KB: more than UDP's 512
    with open(os.path.join(d, "example.test.zone"), "w") as f:
        f.write("$ORIGIN example.test.\n$TTL 300\n"
                "@ IN SOA ns.example.test. admin.example.test. 1 3600 600 86400 300\n"
                "@ IN NS ns.example.test.\nns IN A %s\nwww IN A 192.0.2.10\nbig IN TXT %s\n" % (HOST, big))
    with open(os.path.join(d, "nsd.conf"), "w") as f:
        f.write("server:\n  ip-address: %s\n  port: 53\n  username: \"\"\n  zonesdir: \"%s\"\n"
                "  database: \"\"\n  pidfile: \"%s/nsd.pid\"\n  xfrdfile: \"%s/xfrd.state\"\n"
                "  zonelistfile: \"%s/zone.list\"\n  logfile: \"%s/nsd.log\"\n  server-count: 1\n"
                "  hide-version: yes\nremote-control:\n  control-enable: no\n"
                "zone:\n  name: example.test\n  zonefile: example.test.zone\n" % (HOST, d, d, d, d, d))
    nsd = shutil.which("nsd") or "/usr/sbin/nsd"
    proc = subprocess.Popen([nsd, "-d", "-c", os.path.join(d, "nsd.conf")], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(d, "nsd.stderr"), "w"))
    wait_until("the upstream NSD answering", lambda: short("www.example.test", "A", HOST) == ["192.0.2.10"], 20)
    return proc


def main():
    global upstream
    r = subprocess.run(up_args, capture_output=True, text=True)
    if r.returncode != 0:
        fail("cluster up: %s%s" % (r.stdout, r.stderr))
    upstream = start_upstream()

    # Apps: web (2 tasks, a named tcp port and a udp,tcp one), wide (12
    # tasks, for an SRV answer larger than 512 bytes).
    web = {"id": "/prod/web", "cmd": "exec python3 -m http.server $PORT0", "cpus": 0.05, "mem": 32, "instances": 2,
           "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0, "protocol": "udp,tcp"}]}
    wide = {"id": "/wide", "cmd": "sleep 1000", "cpus": 0.01, "mem": 8, "instances": 12,
            "portDefinitions": [{"port": 0}]}
    for app in (web, wide):
        status, body = api("POST", "/v2/apps", app)
        check(status == 201, "POST %s: %s %s" % (app["id"], status, body))
    wait_until("2 web tasks running", lambda: len(running("/prod/web")) == 2)
    wait_until("12 wide tasks running", lambda: len(running("/wide")) == 12, 90)
    tasks = running("/prod/web")
    t0 = time.monotonic()
    wait_until("web's A records", lambda: short("web-prod.marathon.mesos") == [PRIVATE])
    print("web's records answered %.2f s after both tasks were seen running" % (time.monotonic() - t0))

    # Task names: A, canonical, slave, SRV.
    check(short("web-prod.marathon.slave.mesos") == [PRIVATE], "web-prod.marathon.slave.mesos")
    srv = dig("_web-prod._tcp.marathon.mesos", "SRV")
    answers = section(srv, "ANSWER")
    check(len(answers) == 4, "_web-prod._tcp: 2 tasks x 2 tcp ports, got %s" % answers)
    ports = {int(line.split()[6]) for line in answers}
    check(ports == {p for t in tasks for p in t["ports"]}, "SRV ports %s against the tasks' %s" % (ports, tasks))
    targets = {line.split()[7] for line in answers}
    check(all(t.startswith("web-prod-") and t.endswith(".marathon.mesos.") for t in targets), "SRV targets %s" % targets)
    check(len(section(srv, "ADDITIONAL")) >= 2, "the targets' A records in additional:\n" + srv)
    for target in targets:
        check(short(target.rstrip(".")) == [PRIVATE], "canonical name %s" % target)
    udp = section(dig("_web-prod._udp.marathon.mesos", "SRV"), "ANSWER")
    check(len(udp) == 2, "_web-prod._udp: the udp,tcp port of each task, got %s" % udp)
    named = section(dig("_http._web-prod._tcp.marathon.mesos", "SRV"), "ANSWER")
    check({int(line.split()[6]) for line in named} == {t["ports"][0] for t in tasks}, "named port: %s" % named)
    check(len(section(dig("_web-prod._tcp.marathon.slave.mesos", "SRV"), "ANSWER")) == 4, "slave SRV")

    # Cluster names.
    _, leader = api("GET", "/v2/leader")
    leader_ip = leader["leader"].rsplit(":", 1)[0]
    check(short("leader.mesos") == [leader_ip], "leader.mesos: %s, /v2/leader %s" % (short("leader.mesos"), leader))
    check(short("master.mesos") == sorted(MASTERS), "master.mesos: %s" % short("master.mesos"))
    for i, m in enumerate(MASTERS):
        check(short("master%d.mesos" % i) == [m], "master%d.mesos" % i)
    check(short("slave.mesos") == sorted([PRIVATE, PUBLIC]), "slave.mesos: %s" % short("slave.mesos"))
    check(short("agent.mesos") == sorted([PRIVATE, PUBLIC]), "agent.mesos")
    check(short("marathon.mesos") == [leader_ip], "marathon.mesos")
    check(len(short("_framework._tcp.marathon.mesos", "SRV")) == 1, "_framework._tcp.marathon.mesos")
    check(len(short("_leader._tcp.mesos", "SRV")) == 1 and len(short("_leader._udp.mesos", "SRV")) == 1, "_leader SRV")
    check(len(short("_slave._tcp.mesos", "SRV")) >= 1, "_slave._tcp.mesos")
    check(short("ns1.mesos") == [MASTERS[0]], "ns1.mesos: the master asked")
    check(short("ns1.mesos", server=MASTERS[1]) == [MASTERS[1]], "ns1.mesos on the second master")
    soa = short("mesos", "SOA")
    check(len(soa) == 1 and soa[0].startswith("ns1.mesos. root.ns1.mesos."), "SOA: %s" % soa)
    check(short("mesos", "NS") == ["ns1.mesos."], "NS: %s" % short("mesos", "NS"))

    # Negative answers.
    nx = dig("nosuch.marathon.mesos")
    check(status_of(nx) == "NXDOMAIN", "nosuch: " + nx)
    check(any("SOA" in line for line in section(nx, "AUTHORITY")), "NXDOMAIN carries the SOA:\n" + nx)
    nodata = dig("web-prod.marathon.mesos", "AAAA")
    check(status_of(nodata) == "NOERROR" and not section(nodata, "ANSWER"), "AAAA: NOERROR and empty:\n" + nodata)
    check("flags: qr aa" in nx, "authoritative answers:\n" + nx)
    # Case: kept from the question.
    mixed = section(dig("Web-Prod.Marathon.MESOS"), "ANSWER")
    check(mixed and mixed[0].startswith("Web-Prod.Marathon.MESOS."), "case kept: %s" % mixed)

    # Size: 12 tasks x tcp+udp on the slave SRV name, over 512 bytes.
    name = "_wide._tcp.marathon.slave.mesos"
    plain = dig(name, "SRV", MASTERS[0], "+noedns", "+ignore")
    check(" tc" in plain.split("flags:")[1].split(";")[0], "TC over UDP without EDNS0:\n" + plain)
    check("OPT PSEUDOSECTION" not in plain, "no OPT to a client that sent none:\n" + plain)
    whole = dig(name, "SRV", MASTERS[0], "+tcp")
    check(len(section(whole, "ANSWER")) == 12, "the whole answer over TCP:\n" + whole)
    retried = dig(name, "SRV", MASTERS[0], "+noedns")  # dig retries over TCP on TC
    check(len(section(retried, "ANSWER")) == 12, "dig's TCP retry:\n" + retried)
    edns = dig(name, "SRV", MASTERS[0], "+bufsize=4096")
    check(" tc" not in edns.split("flags:")[1].split(";")[0] and len(section(edns, "ANSWER")) == 12,
          "the whole answer over UDP within the client's EDNS0 buffer:\n" + edns)
    check("OPT PSEUDOSECTION" in edns, "OPT back to an EDNS0 client:\n" + edns)
    small = dig(name, "SRV", MASTERS[0], "+bufsize=512", "+ignore")
    check(" tc" in small.split("flags:")[1].split(";")[0], "TC within a 512-byte EDNS0 buffer:\n" + small)

    # Forwarding to the upstream, its large answer too.
    check(short("www.example.test") == ["192.0.2.10"], "forwarded: %s" % short("www.example.test"))
    fwd = dig("www.example.test")
    check("ra" in fwd.split("flags:")[1].split(";")[0], "RA on a master that forwards:\n" + fwd)
    check(status_of(dig("nosuch.example.test")) == "NXDOMAIN", "the upstream's NXDOMAIN")
    big_udp = dig("big.example.test", "TXT", MASTERS[0], "+noedns", "+ignore")
    check(" tc" in big_udp.split("flags:")[1].split(";")[0], "a large upstream answer: TC to a 512-byte client:\n" + big_udp)
    big = dig("big.example.test", "TXT", MASTERS[0], "+noedns")
    check(len(section(big, "ANSWER")) == 1 and "hhhh" in big, "the large upstream answer over TCP:\n" + big)
    big_edns = dig("big.example.test", "TXT", MASTERS[0], "+bufsize=4096", "+ignore")
    check("hhhh" in big_edns, "the large upstream answer over UDP with EDNS0:\n" + big_edns)

    # IPv6: the master's own ::1 listener (the cluster's network is IPv4).
    v6 = dig("leader.mesos", "A", "::1", "+short", netns="dcos-dns-m1").split()
    check(v6 == [leader_ip], "leader.mesos over IPv6: %s" % v6)

    # Every master answers the same.
    for m in MASTERS[1:]:
        for n, t in (("web-prod.marathon.mesos", "A"), ("_web-prod._tcp.marathon.mesos", "SRV"), ("leader.mesos", "A")):
            check(short(n, t, m) == short(n, t, MASTERS[0]), "%s %s differs on %s" % (n, t, m))

    # HTTP API, on the masters' admin port.
    _, hosts = api("GET", "/v1/hosts/web-prod.marathon.mesos")
    check(hosts == [{"host": "web-prod.marathon.mesos.", "ip": PRIVATE}], "/v1/hosts: %s" % hosts)
    _, services = api("GET", "/mesos_dns/v1/services/_web-prod._tcp.marathon.mesos.")
    check(len(services) == 4 and all(s["ip"] == PRIVATE for s in services), "/v1/services: %s" % services)
    check({int(s["port"]) for s in services} == ports, "/v1/services ports")
    _, version = api("GET", "/v1/version")
    check(version["Service"] == "Mesos-DNS", "/v1/version: %s" % version)
    _, config = api("GET", "/mesos_dns/v1/config")
    check(config["Domain"] == "mesos" and config["Resolvers"] == [HOST], "/v1/config: %s" % config)
    _, unknown = api("GET", "/v1/hosts/nosuch.mesos")
    check(unknown == [{"host": "", "ip": ""}], "/v1/hosts of an unknown name: %s" % unknown)

    # A task reaches web by name.
    port = tasks[0]["ports"][0]
    client = {"id": "/client", "cpus": 0.1, "mem": 32,
              "cmd": "until curl -sf -o /dev/null http://web-prod.marathon.mesos:%d/; do sleep 0.2; done; "
                     "echo reached; exec sleep 1000" % port}
    status, _ = api("POST", "/v2/apps", client)
    check(status == 201, "POST /client")

    def reached():
        for root, _, files in os.walk(os.path.join(state, "dns")):
            if "client" in root and "stdout" in files:
                with open(os.path.join(root, "stdout")) as f:
                    if "reached" in f.read():
                        return True
        return False
    wait_until("the client task reaching http://web-prod.marathon.mesos:%d/" % port, reached, 60)

    # Fresh: scaled down, the records go; one master stopped, the others
    # answer the same.
    status, _ = api("PUT", "/v2/apps/prod/web?force=true", {"instances": 1})
    check(status == 200, "scale web to 1")
    wait_until("one web task's SRV records left",
               lambda: len(section(dig("_web-prod._tcp.marathon.mesos", "SRV"), "ANSWER")) == 2, 30)
    with open(os.path.join(state, "dns", "state.json")) as f:
        nodes = json.load(f)["nodes"]
    # A master that does not lead the scheduler: the others keep a quorum
    # and the leader, and go on following the state.
    gone = next(m for m in reversed(MASTERS) if m != leader_ip)  # never the first: the one this test asks
    live = [m for m in MASTERS if m != gone]
    node = next(n for n in nodes if n["address"] == gone)
    os.kill(node["pid"], signal.SIGKILL)
    # (A 503 while ZooKeeper elects a new leader of its own, if the master
    # was that.)
    wait_until("scaling web to 3 accepted",
               lambda: api("PUT", "/v2/apps/prod/web?force=true", {"instances": 3}, host=live[0])[0] == 200, 60)
    wait_until("3 web tasks running after a master went", lambda: len(running("/prod/web")) == 3, 90)
    t0 = time.monotonic()
    wait_until("3 tasks' records on the live masters",
               lambda: all(len(section(dig("_web-prod._tcp.marathon.mesos", "SRV", m), "ANSWER")) == 6
                           for m in live), 30)
    print("3 tasks' records on both live masters %.2f s after the API said running" % (time.monotonic() - t0))
    check(short("_web-prod._tcp.marathon.mesos", "SRV", live[0]) ==
          short("_web-prod._tcp.marathon.mesos", "SRV", live[1]), "the live masters answer the same")
    check(short("master.mesos", "A", live[1]) == sorted(MASTERS), "master.mesos still lists every master")

    # The operators' host: no DNS on a master.
    r = subprocess.run(["dig", "@" + MASTERS[0], "leader.mesos", "+time=1", "+tries=1"], capture_output=True, text=True)
    check("ANSWER SECTION" not in r.stdout, "the host reached a master's DNS:\n" + r.stdout)
    print("dns test: ok")


try:
    main()
finally:
    if upstream is not None:
        upstream.kill()
        upstream.wait()
    if os.environ.get("DCOS_TEST_KEEP_CLUSTER") != "1":
        subprocess.run([dcos, "cluster", "down"] + cluster, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)
