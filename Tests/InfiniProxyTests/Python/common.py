"""What the scripts share: how to connect to the proxy under test."""
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(port, protocol, **options):
    """A redis-py client for the proxy on 127.0.0.1.

    Timeouts are generous because the test run shares the machine with CPU-heavy suites; failed
    connections are not retried (redis-py's default backs off for seconds) because some tests
    expect them to fail.
    """
    return redis.Redis(host="127.0.0.1", port=port, protocol=protocol, socket_timeout=120,
                       socket_connect_timeout=120, retry=Retry(NoBackoff(), 0), **options)
