#!/usr/bin/python3
"""Prints the children of a znode (and each child's data) as JSON, read with
kazoo: a ZooKeeper client that is not ours, so tests do not only trust our
own library. Usage: zk_children.py HOSTS PATH"""
import json
import sys

from kazoo.client import KazooClient

hosts, path = sys.argv[1], sys.argv[2]
zk = KazooClient(hosts=hosts, timeout=5.0)
zk.start(timeout=10)
try:
    out = {}
    if zk.exists(path):
        for child in sorted(zk.get_children(path)):
            data, stat = zk.get(path + "/" + child)
            out[child] = {"data": data.decode(), "ephemeral": stat.ephemeralOwner != 0}
    print(json.dumps(out))
finally:
    zk.stop()
    zk.close()
