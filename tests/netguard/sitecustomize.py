"""Loaded by `python app.py` in tests/test_offline.py (via PYTHONPATH): no network but loopback.

Every attempt to reach another host is refused and written to the file named by
RMT_NETGUARD_LOG, so the test can prove the app neither needs nor tries the network at start.
"""

import os
import socket

_LOG = os.environ.get("RMT_NETGUARD_LOG", "")
_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _record(what: str) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(what + "\n")


def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else str(address)
    if self.family == socket.AF_UNIX or str(host).startswith(_LOOPBACK):
        return _connect(self, address)
    _record(f"connect {address!r}")
    raise OSError(101, f"network disabled by the test: {address!r}")


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is None or str(host).startswith(_LOOPBACK):
        return _getaddrinfo(host, *args, **kwargs)
    _record(f"resolve {host!r}")
    raise socket.gaierror(-3, f"network disabled by the test: {host!r}")


socket.socket.connect = _guarded_connect
socket.getaddrinfo = _guarded_getaddrinfo
