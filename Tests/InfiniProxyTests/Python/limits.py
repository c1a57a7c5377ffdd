"""maxclients, the query buffer limit and AUTH without a password, through redis-py and raw sockets.

Usage: python3 limits.py PORT PROTOCOL MAXCLIENTS QUERY_BUFFER_LIMIT BULK_LIMIT
"""
import socket
import sys
import time

import redis

import common

port, protocol, maxclients, query_limit, bulk_limit = map(int, sys.argv[1:6])


def connect():
    return common.connect(port, protocol)


first = connect()
assert first.ping() is True

# Fill the server up to maxclients, then one more is refused with Redis's error.
held = [connect() for _ in range(maxclients - 1)]
for client in held:
    assert client.ping() is True
try:
    connect().ping()
    assert False, "expected the connection to be refused"
except redis.ConnectionError as error:
    assert "max number of clients reached" in str(error)
assert first.info("stats")["rejected_connections"] >= 1
# A refused client that sends commands before it reads (redis-py sends some as it connects)
# gets the reason, not a reset that fails its next send.
refused = socket.create_connection(("127.0.0.1", port))
for _ in range(2):
    time.sleep(0.2)
    refused.sendall(b"*1\r\n$4\r\nPING\r\n")
assert refused.recv(1024) == b"-ERR max number of clients reached\r\n"
refused.close()
for client in held:
    client.close()


def wait_for_room():
    """Closed connections are counted out asynchronously; wait until a new one is let in."""
    deadline = time.time() + 30
    while True:
        try:
            assert connect().ping() is True
            return
        except redis.ConnectionError:
            assert time.time() < deadline, "closed connections were never counted out"
            time.sleep(0.05)


wait_for_room()

# A bulk over proto-max-bulk-len is a protocol error.
with socket.create_connection(("127.0.0.1", port)) as raw:
    raw.sendall(b"*2\r\n$4\r\nECHO\r\n$%d\r\n" % (bulk_limit + 1))
    assert raw.recv(100) == b"-ERR Protocol error: invalid bulk length\r\n"

# A client that buffers more than client-query-buffer-limit of unfinished request is dropped.
with socket.create_connection(("127.0.0.1", port)) as raw:
    bulk = b"x" * bulk_limit
    request = b"*1000\r\n" + (b"$%d\r\n%s\r\n" % (bulk_limit, bulk)) * (query_limit // bulk_limit + 2)
    try:
        raw.sendall(request)
        raw.settimeout(60)
        assert raw.recv(100) == b"", "expected the connection to be closed"
    except (ConnectionResetError, BrokenPipeError):
        pass

# The server is still fine for everyone else.
wait_for_room()
assert first.ping() is True

# AUTH with no password configured: Redis's hint, which redis-py raises as an authentication error.
try:
    first.execute_command("AUTH", "anything")
    assert False, "expected an error"
except redis.AuthenticationError as error:
    assert "called without any password configured" in str(error)
print("ok")
