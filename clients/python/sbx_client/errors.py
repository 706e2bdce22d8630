# SPDX-License-Identifier: MIT
"""Exceptions: one class per sbxd error code, all under :class:`SbxError`.

sbxd answers a failed request with ``{"ok": false, "error": {"code": ..., "message": ...}}``.
``code`` is stable (docs/protocol.md, common/error.c); ``message`` is for humans. The client
raises the class registered for the code (:data:`ERRORS`); a code this client does not know
(a newer sbxd) raises :class:`SbxError` itself, with the code kept in ``.code``.

Errors that come from the client side rather than from sbxd (no socket, connection lost,
client-side timeout, a reply that is not the protocol) are subclasses of :class:`SbxError`
too, with codes that sbxd never sends (``connection_failed``, ``connection_lost``,
``client_timeout``, ``protocol_error``), and also of the matching built-in exception
(:class:`ConnectionError`, :class:`TimeoutError`), so either ``except`` works.

No exception built here ever carries a secret value: sbxd's messages name secrets, never
their values, and the client's own messages name fields and keys only.
"""

from __future__ import annotations

from typing import Any, Mapping

__all__ = [
    "SbxError",
    "BadRequest",
    "TooLarge",
    "UnknownOp",
    "Unauthorized",
    "PolicyUnknown",
    "PolicyViolation",
    "SecretNotAllowed",
    "SealedMalformed",
    "KeyUnknown",
    "KeyRetired",
    "DecryptFailed",
    "Busy",
    "AuditUnavailable",
    "SandboxSetupFailed",
    "Internal",
    "ClientError",
    "ConnectionFailed",
    "ConnectionLost",
    "RequestTimeout",
    "ProtocolError",
    "ERRORS",
    "error_from_reply",
]


class SbxError(Exception):
    """Base of every error of this package.

    Attributes:
        code: the stable error code (``"decrypt_failed"``, ...); switch on it or on the class.
        message: sbxd's human-readable message (may change between versions).
        details: any further fields of the error object (e.g. ``step``, ``errno``, ``task``
            for ``sandbox_setup_failed``), as a dict.
    """

    code: str = "error"
    #: True when the same request may succeed later (``busy``, ``audit_unavailable``).
    retryable: bool = False

    def __init__(self, message: str = "", *, code: str | None = None,
                 details: Mapping[str, Any] | None = None) -> None:
        if code is not None:
            self.code = code
        self.message = message
        self.details = dict(details or {})
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def __reduce__(self):  # picklable with its code and details
        return (_rebuild, (type(self), self.message, self.code, self.details))


def _rebuild(cls, message, code, details):
    return cls(message, code=code, details=details)


class BadRequest(SbxError):
    """The request is malformed: invalid JSON, unknown field, wrong type, reserved secret name,
    ``cancel`` of a task that is not running, ..."""

    code = "bad_request"


class TooLarge(SbxError):
    """A request line was longer than sbxd's ``limits.max_frame`` (1 MiB by default)."""

    code = "too_large"


class UnknownOp(SbxError):
    """The op is not one sbxd knows."""

    code = "unknown_op"


class Unauthorized(SbxError):
    """This uid may not use sbxd, this op, or this policy."""

    code = "unauthorized"


class PolicyUnknown(SbxError):
    """No policy of that name is loaded."""

    code = "policy_unknown"


class PolicyViolation(SbxError):
    """The request asks for more than the policy allows (an ``env`` name, a ``timeout_ms``)."""

    code = "policy_violation"


class SecretNotAllowed(SbxError):
    """The blob holds a secret name the policy does not accept."""

    code = "secret_not_allowed"


class SealedMalformed(SbxError):
    """The blob is not a well-formed ``sbx1:`` blob."""

    code = "sealed_malformed"


class KeyUnknown(SbxError):
    """The blob names a key id the keyring never held."""

    code = "key_unknown"


class KeyRetired(SbxError):
    """The blob's key is retired (or destroyed): rewrap before retiring, or seal again."""

    code = "key_retired"


class DecryptFailed(SbxError):
    """The blob does not open: another ``context`` than it was sealed with, or tampered."""

    code = "decrypt_failed"


class Busy(SbxError):
    """sbxd is at its limits (tasks and queue, or connections) or shutting down; retry later."""

    code = "busy"
    retryable = True


class AuditUnavailable(SbxError):
    """sbxd cannot write its audit log; ``run``, ``seal`` and ``rewrap`` are refused until it can."""

    code = "audit_unavailable"
    retryable = True


class SandboxSetupFailed(SbxError):
    """Building the sandbox failed after the task was accepted.

    ``step`` names the failed step (``execve``, ``chdir``, ...), ``errno`` its errno and
    ``task`` the task id.
    """

    code = "sandbox_setup_failed"

    @property
    def step(self) -> str | None:
        return self.details.get("step")

    @property
    def errno(self) -> int | None:
        return self.details.get("errno")

    @property
    def task(self) -> str | None:
        return self.details.get("task")


class Internal(SbxError):
    """sbxd ran out of memory or hit a bug; the request had no effect."""

    code = "internal"


class ClientError(SbxError):
    """Base of the errors raised by the client itself, not sent by sbxd."""

    code = "client_error"


class ConnectionFailed(ClientError, ConnectionError):
    """The socket could not be connected: it does not exist, nothing listens, or permission
    is denied."""

    code = "connection_failed"


class ConnectionLost(ClientError, ConnectionError):
    """The connection closed (sbxd stopped or died, or closed it) before the reply came.

    A ``run`` whose connection is lost was killed by sbxd (``reason: disconnected``). The
    client reconnects on the next request.
    """

    code = "connection_lost"


class RequestTimeout(ClientError, TimeoutError):
    """No reply within the client-side timeout. For a ``run``/``stream``, the client sent a
    ``cancel`` for the task (best effort)."""

    code = "client_timeout"


class ProtocolError(ClientError):
    """sbxd sent something that is not protocol version 1 (not JSON, unexpected shape)."""

    code = "protocol_error"


#: The class for each code sbxd sends (common/error.c is the table on the C side).
ERRORS: dict[str, type[SbxError]] = {
    cls.code: cls
    for cls in (BadRequest, TooLarge, UnknownOp, Unauthorized, PolicyUnknown, PolicyViolation,
                SecretNotAllowed, SealedMalformed, KeyUnknown, KeyRetired, DecryptFailed, Busy,
                AuditUnavailable, SandboxSetupFailed, Internal)
}


def error_from_reply(reply: Mapping[str, Any]) -> SbxError:
    """The exception for an error reply ``{"ok": false, "error": {...}}`` (not raised)."""
    err = reply.get("error")
    if not isinstance(err, Mapping):
        return ProtocolError("error reply without an 'error' object")
    code = err.get("code")
    message = err.get("message")
    if not isinstance(code, str):
        return ProtocolError("error reply without a string 'code'")
    details = {k: v for k, v in err.items() if k not in ("code", "message")}
    cls = ERRORS.get(code, SbxError)
    return cls(message if isinstance(message, str) else "", code=code, details=details)
