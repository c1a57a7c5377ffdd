"""String commands through redis-py: pipelines, binary values, missing keys, ranges.

Usage: python3 strings.py PORT PROTOCOL
"""
import sys

import redis

from common import connect

port, protocol = int(sys.argv[1]), int(sys.argv[2])
r = connect(port, protocol)
assert r.ping() is True

# A pipeline of 1000 commands, answered in order.
with r.pipeline(transaction=False) as pipe:
    for i in range(500):
        pipe.set(f"p:{i}", f"value-{i}")
    for i in range(500):
        pipe.get(f"p:{i}")
    results = pipe.execute()
assert results[:500] == [True] * 500
assert results[500:] == [f"value-{i}".encode() for i in range(500)]

# Runs of plain SETs and GETs in a pipeline go to the store together; each command keeps its
# place and its reply, a key set twice in a run ends with its last value, and a SET with an
# option runs on its own.
with r.pipeline(transaction=False) as pipe:
    pipe.set("run:a", "1")
    pipe.set("run:b", "x")
    pipe.set("run:a", "2")
    pipe.get("run:a")
    pipe.get("run:b")
    pipe.get("run:none")
    pipe.set("run:a", "3", nx=True)
    pipe.set("run:c", "c1")
    pipe.set("run:c", "c2")
    pipe.get("run:c")
    pipe.getdel("run:c")
    pipe.get("run:c")
    pipe.get("run:a")
    results = pipe.execute()
assert results == [True, True, True, b"2", b"x", None, None, True, True, b"c2", b"c2", None, b"2"], results

# A pipeline whose replies pass the proxy's 1 MiB reply buffer: written out as they come, in order.
large = bytes(range(256)) * 400
assert r.set("large", large) is True
with r.pipeline(transaction=False) as pipe:
    for i in range(40):
        pipe.get("large")
    for i in range(40):
        pipe.set(f"after:{i}", str(i))
    results = pipe.execute()
assert results == [large] * 40 + [True] * 40
assert r.get("after:39") == b"39"

# A run of GETs is read about 1 MiB of values at a time: large, small and missing values mixed
# still come back in order.
with r.pipeline(transaction=False) as pipe:
    for i in range(30):
        pipe.get("large")
        pipe.get(f"after:{i}")
        pipe.get(f"nothing:{i}")
    results = pipe.execute()
assert results == [value for i in range(30) for value in (large, str(i).encode(), None)]

# Binary-safe values, from empty to several stripes.
def sample(size):
    return bytes((i * 31 + size) % 251 for i in range(size))


for size in (0, 1, 255, 4096, 100_000, 300_000):
    value = sample(size)
    assert r.set(f"bin:{size}", value) is True
    assert r.get(f"bin:{size}") == value
    assert r.strlen(f"bin:{size}") == size
assert r.set(b"\x00key\r\n", b"\xff\x00") is True
assert r.get(b"\x00key\r\n") == b"\xff\x00"

# Missing keys read as None everywhere.
assert r.get("missing") is None
assert r.mget("p:1", "missing", "p:2") == [b"value-1", None, b"value-2"]
assert r.getdel("missing") is None
assert r.getex("missing", ex=10) is None
assert r.strlen("missing") == 0
assert r.getrange("missing", 0, -1) == b""


def redis_range(value, start, end):
    """GETRANGE's semantics, written out in Python."""
    n = len(value)
    if (start < 0 and end < 0 and start > end) or n == 0:
        return b""
    start = max(0, n + start if start < 0 else start)
    end = max(0, n + end if end < 0 else end)
    end = min(end, n - 1)
    return b"" if start > end else value[start : end + 1]


value = sample(300_000)
for start, end in [(0, -1), (0, 0), (-1, -1), (5, 3), (-3, -5), (-100, 10), (0, -100_000_000), (123_456, 234_567),
                   (299_990, 400_000), (400_000, 500_000), (-5, -1), (40_959, 40_960), (81_919, 163_840)]:
    got = r.getrange("bin:300000", start, end)
    assert got == redis_range(value, start, end), (start, end, len(got))

# SET options, SETNX, GETDEL, APPEND.
assert r.set("k", "1", nx=True) is True
assert r.set("k", "2", nx=True) is None
assert r.set("k", "3", xx=True, get=True) == b"1"
assert r.set("absent", "x", xx=True) is None
assert r.set("absent", "x", nx=True, get=True) is None
assert r.get("absent") == b"x"
assert r.setnx("k", "4") is False
assert r.setnx("fresh", "5") is True
assert r.getdel("fresh") == b"5"
assert r.exists("fresh") == 0
assert r.append("log", "hello") == 5
assert r.append("log", " world") == 11
assert r.get("log") == b"hello world"
assert r.append("bin:300000", b"!") == 300_001
assert r.getrange("bin:300000", -2, -1) == value[-1:] + b"!"
assert r.mset({"a": "1", "b": "2"}) is True
assert r.mget(["a", "b"]) == [b"1", b"2"]
assert r.type("a") in (b"string", "string")
assert r.type("missing") in (b"none", "none")

# Errors come back as redis-py exceptions, and the connection goes on.
for call in (lambda: r.execute_command("SET", "k", "v", "EX", "0"),
             lambda: r.execute_command("SET", "k", "v", "NX", "XX"),
             lambda: r.execute_command("GETRANGE", "k", "a", "1"),
             lambda: r.execute_command("NOSUCHCOMMAND")):
    try:
        call()
        assert False, "expected an error"
    except redis.ResponseError:
        pass
assert r.ping() is True
print("ok")
