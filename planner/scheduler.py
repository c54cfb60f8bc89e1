"""Whether a Dask scheduler address answers, checked in a moment and without importing Dask.

The what-if commands check ``--scheduler`` before they load or solve anything, so
a wrong address fails at once (the Dask client would retry a refused connection
until its timeout).
"""

from __future__ import annotations

import socket

__all__ = ["PROBE_TIMEOUT_S", "check_scheduler"]

PROBE_TIMEOUT_S = 3.0
"""How long to wait for a scheduler's TCP port to answer before giving up, s."""


def check_scheduler(address: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Raise :class:`ConnectionError` at once when nothing listens at a ``tcp://HOST:PORT`` scheduler address.

    A refused connection fails immediately, an address that does not answer after
    ``timeout_s``; the Dask client would retry either until its own timeout. Other
    schemes (``tls://``, ``ucx://``...) are left to the client.

    Examples
    --------
    >>> check_scheduler("tcp://127.0.0.1:1")
    Traceback (most recent call last):
    ...
    ConnectionError: cannot connect to the Dask scheduler at tcp://127.0.0.1:1: connection refused
    """
    text = address.strip()
    if "://" in text and not text.startswith("tcp://"):
        return
    hostport = text.removeprefix("tcp://").rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        msg = f"{address!r} is not a scheduler address tcp://HOST:PORT"
        raise ConnectionError(msg)
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except ConnectionRefusedError:
        msg = f"cannot connect to the Dask scheduler at {address}: connection refused"
        raise ConnectionError(msg) from None
    except TimeoutError:
        msg = f"cannot connect to the Dask scheduler at {address}: no answer in {timeout_s:g} s"
        raise ConnectionError(msg) from None
    except OSError as exc:
        msg = f"cannot connect to the Dask scheduler at {address}: {exc.strerror or exc}"
        raise ConnectionError(msg) from None
