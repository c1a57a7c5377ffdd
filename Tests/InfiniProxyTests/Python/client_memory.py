"""The memory large values from and to all clients share (--client-memory), through raw sockets and
redis-py: a client whose value would pass it waits until another's value is stored or sent.

Usage: python3 client_memory.py PORT PROTOCOL CLIENT_MEMORY
"""
import os
import socket
import sys
import time

import common

port, protocol, client_memory = map(int, sys.argv[1:4])
length = client_memory * 6 // 10
observer = common.connect(port, protocol)


def memory():
    return observer.info("memory")


def wait_until(condition, what):
    deadline = time.time() + 60
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.02)


def wait_until_steady(condition, what, seconds=1.0):
    """Waits until `condition` has held for `seconds` without a break."""
    deadline = time.time() + 60
    since = None
    while True:
        assert time.time() < deadline, what
        if condition():
            since = since or time.time()
            if time.time() - since >= seconds:
                return
        else:
            since = None
        time.sleep(0.02)


def set_request(key, value):
    return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)


def receive(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(1 << 20)
        assert chunk, "the proxy closed the connection"
        data += chunk
    return bytes(data)


def reply(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(100)
        assert chunk, "the proxy closed the connection"
        data += chunk
    return data


assert memory()["infinistore_client_memory"] == client_memory
first_value, second_value = os.urandom(length), os.urandom(length)
first_request, second_request = set_request(b"first", first_value), set_request(b"second", second_value)

with socket.create_connection(("127.0.0.1", port)) as first, socket.create_connection(("127.0.0.1", port)) as second:
    # The first client sends all but the end of its value: it holds its share meanwhile.
    first.sendall(first_request[:-1000])
    wait_until(lambda: memory()["infinistore_client_memory_held"] >= length, "the first value was never held")

    # The second value does not fit beside it: the second client waits, unanswered.
    second.sendall(second_request)
    wait_until(lambda: memory()["infinistore_client_memory_waits"] >= 1, "the second client never waited")
    second.settimeout(0.5)
    try:
        early = second.recv(100)
        assert False, "the second SET was answered while the first value held the memory: %r" % early
    except socket.timeout:
        pass
    second.settimeout(60)

    # Once the first value is in and stored, the second goes through.
    first.sendall(first_request[-1000:])
    assert reply(first) == b"+OK\r\n"
    assert reply(second) == b"+OK\r\n"

assert observer.get("first") == first_value
assert observer.get("second") == second_value
wait_until(lambda: memory()["infinistore_client_memory_held"] == 0, "memory was still held after both clients left")
assert memory()["infinistore_client_memory_peak"] <= client_memory

# Large values read for a client hold their share until they are sent: a client that pipelines
# GETs and does not read the replies holds it, and another client's large GET waits.
reader_request = b"*2\r\n$3\r\nGET\r\n$5\r\nfirst\r\n" * 100
with socket.create_connection(("127.0.0.1", port)) as slow, socket.create_connection(("127.0.0.1", port)) as other:
    slow.sendall(reader_request)
    # The kernel's buffers fill with replies within a few of them; from then on the proxy holds
    # the ones it could not send, for good.
    wait_until_steady(lambda: memory()["infinistore_client_memory_held"] >= length, "the slow reader's values were never held")
    waits = memory()["infinistore_client_memory_waits"]
    other.sendall(b"*2\r\n$3\r\nGET\r\n$6\r\nsecond\r\n")
    wait_until(lambda: memory()["infinistore_client_memory_waits"] > waits, "the other reader never waited")
    other.settimeout(0.5)
    try:
        early = other.recv(100)
        assert False, "the other GET was answered while the slow reader held the memory: %r" % early[:20]
    except socket.timeout:
        pass
    other.settimeout(60)

    expected = (b"$%d\r\n%s\r\n" % (length, first_value)) * 100
    assert receive(slow, len(expected)) == expected
    expected = b"$%d\r\n%s\r\n" % (length, second_value)
    assert receive(other, len(expected)) == expected
wait_until(lambda: memory()["infinistore_client_memory_held"] == 0, "memory was still held after both readers left")

# A value larger than the whole budget still goes through on its own.
large = os.urandom(client_memory + 1)
assert observer.set("large", large) is True
assert observer.get("large") == large
print("ok")
