"""requirepass through redis-py: each way of failing raises the exception class Redis's does.

Usage: python3 auth.py PORT PROTOCOL PASSWORD
"""
import sys

import redis

from common import connect

port, protocol, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def fails_with(exception, **options):
    try:
        connect(port, protocol, **options).ping()
    except exception as error:
        assert password not in str(error)
        return
    assert False, f"{options} did not fail"


fails_with(redis.AuthenticationError)
fails_with(redis.AuthenticationError, password="wrong")
fails_with(redis.AuthenticationError, username="bob", password=password)

r = connect(port, protocol, password=password)
assert r.ping() is True
assert r.set("k", "v") is True
assert r.get("k") == b"v"
assert r.config_get("requirepass") == {"requirepass": password}
try:
    r.execute_command("AUTH", "wrong")
    assert False, "expected an error"
except redis.AuthenticationError:
    pass
assert r.get("k") == b"v"

named = connect(port, protocol, username="default", password=password)
assert named.get("k") == b"v"
print("ok")
