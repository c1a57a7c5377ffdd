"""TTLs through redis-py: relative and absolute deadlines, conditions, lazy and swept expiry.

Usage: python3 expiry.py PORT PROTOCOL
"""
import sys
import time

import redis

from common import connect

port, protocol = int(sys.argv[1]), int(sys.argv[2])
r = connect(port, protocol)
r.flushdb()

assert r.set("short", "v", ex=1) is True
assert r.ttl("short") in (0, 1)
assert 0 < r.pttl("short") <= 1000
assert r.set("plain", "v") is True
assert r.ttl("plain") == -1
assert r.ttl("missing") == -2
assert r.pttl("missing") == -2

# KEEPTTL keeps it, a plain SET clears it.
assert r.set("kept", "v", px=900) is True
assert r.set("kept", "w", keepttl=True) is True
assert 0 < r.pttl("kept") <= 900
assert r.set("cleared", "v", px=1200) is True
assert r.set("cleared", "w") is True
assert r.ttl("cleared") == -1

# EXPIRE's conditions.
assert r.expire("plain", 100, xx=True) is False
assert r.expire("plain", 100, nx=True) is True
assert r.expire("plain", 50, gt=True) is False
assert r.expire("plain", 200, gt=True) is True
assert r.expire("plain", 300, lt=True) is False
assert r.ttl("plain") == 200
assert r.persist("plain") is True
assert r.persist("plain") is False
assert r.ttl("plain") == -1
assert r.expire("missing", 10) is False

# GETEX sets or removes a TTL; a deadline already past deletes the key.
assert r.getex("plain", px=1300) == b"v"
assert 0 < r.pttl("plain") <= 1300
assert r.getex("plain", persist=True) == b"v"
assert r.ttl("plain") == -1
assert r.set("gone", "v") is True
assert r.pexpireat("gone", 1) is True
assert r.exists("gone") == 0
assert r.set("past", "v", exat=1) is True
assert r.get("past") is None
future = int(time.time()) + 100
assert r.set("at", "v", exat=future) is True
assert r.expiretime("at") == future

# Keys nobody reads are removed by the background sweep.
with r.pipeline(transaction=False) as pipe:
    for i in range(200):
        pipe.set(f"swept:{i}", "v", px=100)
    pipe.execute()

time.sleep(1.1)
assert r.get("short") is None
assert r.exists("short") == 0
assert r.ttl("short") == -2
assert r.get("kept") is None
deadline = time.time() + 30
while r.dbsize() > 3 and time.time() < deadline:
    time.sleep(0.05)
assert r.dbsize() == 3, r.dbsize()  # plain, cleared, at
assert r.info("stats")["expired_keys"] >= 200
assert r.info("keyspace")["db0"] == {"keys": 3, "expires": 1, "avg_ttl": 0}
print("ok")
