# SPDX-License-Identifier: MIT
"""sbx_client: Python client of sbxd, the sbx sandbox supervisor.

sbxd serves JSON lines on a Unix socket (protocol version 1, docs/protocol.md). This package
is standard library only:

- :class:`Client`: synchronous, thread-safe, one multiplexed connection;
- :class:`AsyncClient`: the same methods for asyncio;
- :class:`SbxError` and one subclass per protocol error code (:class:`DecryptFailed`,
  :class:`KeyRetired`, :class:`Busy`, ...), plus the client-side :class:`ConnectionFailed`,
  :class:`ConnectionLost`, :class:`RequestTimeout`, :class:`ProtocolError`;
- typed results and events (:class:`RunResult`, :class:`Hello`, :class:`Sealed`, :class:`Exit`, ...).
"""

from .aio import AsyncClient
from .client import Client
from .errors import *  # noqa: F401,F403
from .errors import ERRORS, SbxError, error_from_reply
from .errors import __all__ as _errors_all
from .types import (Accepted, Event, Exit, Hello, Output, Peer, RunResult, Sealed, Started,
                    Stats, TaskInfo, UnknownEvent)

__version__ = "0.1.0"
PROTOCOL_VERSION = 1

__all__ = ["Client", "AsyncClient", "Accepted", "Event", "Exit", "Hello", "Output", "Peer",
           "RunResult", "Sealed", "Started", "Stats", "TaskInfo", "UnknownEvent",
           "PROTOCOL_VERSION", *_errors_all]
