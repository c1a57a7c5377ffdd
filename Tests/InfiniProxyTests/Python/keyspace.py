"""KEYS, SCAN, INFO, CONFIG and COMMAND through redis-py.

Usage: python3 keyspace.py PORT PROTOCOL
"""
import sys

import redis

from common import connect

port, protocol = int(sys.argv[1]), int(sys.argv[2])
r = connect(port, protocol)
r.flushdb()

with r.pipeline(transaction=False) as pipe:
    for i in range(300):
        pipe.set(f"user:{i}", i)
    for i in range(50):
        pipe.set(f"order:{i}", i)
    pipe.execute()

users = {f"user:{i}".encode() for i in range(300)}
assert set(r.scan_iter(match="user:*")) == users
assert set(r.scan_iter(match="user:*", count=7)) == users
assert set(r.scan_iter(match="user:1?")) == {f"user:1{i}".encode() for i in range(10)}
assert set(r.scan_iter(_type="string", count=1000)) == users | {f"order:{i}".encode() for i in range(50)}
assert list(r.scan_iter(_type="hash")) == []
assert set(r.keys("order:[1-2]")) == {b"order:1", b"order:2"}
assert set(r.keys("order:[^0-8]")) == {b"order:9"}
assert len(r.keys()) == 350
assert r.dbsize() == 350

# Keys present for the whole scan come back even while others come and go.
seen = set()
cursor = 0
step = 0
while True:
    cursor, keys = r.scan(cursor, match="user:*", count=25)
    seen.update(keys)
    r.delete(f"order:{step}")
    r.set(f"new:{step}", "x")
    step += 1
    if cursor == 0:
        break
assert seen == users

info = r.info()
assert info["redis_version"] == "7.2.0"
assert info["connected_clients"] >= 1
assert info["db0"]["keys"] == r.dbsize()
assert info["infinistore_geometry"] == "10+2"
assert "used_memory" in r.info("memory")
assert set(r.info("keyspace")) == {"db0"}
everything = r.info("everything")
assert "total_commands_processed" in everything and "tcp_port" in everything

assert r.config_get("save") == {"save": ""}
assert r.config_get("appendonly") == {"appendonly": "no"}
assert r.config_get("maxmemory") == {"maxmemory": "0"}
assert r.config_get("databases") == {"databases": "1"}
assert r.config_get("requirepass") == {"requirepass": ""}
assert r.config_get("nothing-like-this") == {}
assert set(r.config_get("max*")) == {"maxmemory", "maxmemory-policy", "maxclients"}
assert r.config_get("client-query-buffer-limit") == {"client-query-buffer-limit": str(1 << 30)}
assert r.config_set("maxclients", 500) is True
assert r.config_get("maxclients") == {"maxclients": "500"}
try:
    r.config_set("no-such-option", "1")
    assert False, "expected an error"
except redis.ResponseError as error:
    assert str(error) == "Unknown option or number of arguments for CONFIG SET - 'no-such-option'", str(error)
try:
    r.config_set("maxclients", "lots")
    assert False, "expected an error"
except redis.ResponseError as error:
    assert "argument couldn't be parsed into an integer" in str(error)

assert r.command_count() > 30
print("ok")
