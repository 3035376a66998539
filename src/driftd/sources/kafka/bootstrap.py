"""The bootstrap watch: a rejected password or certificate raised at once, and said clearly."""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

from kafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    SaslAuthenticationFailedError,
    UnsupportedSaslMechanismError,
)

from driftd.config import KafkaSecurityConfig
from driftd.sources.kafka.options import KafkaSetupError, KafkaUnreachable, describe_error


class _BootstrapWatch(logging.Handler):
    """Reads the bootstrap failures kafka-python logs (``kafka.net.manager``) and retries.

    A rejected password or an unverifiable certificate is retried until the bootstrap
    timeout and then raised as "Unable to bootstrap", which sends the operator to the
    network; once every bootstrap server failed so, ``fatal`` says why and ``done`` is set.
    """

    def __init__(self, bootstrap: str, security: KafkaSecurityConfig,
                 done: threading.Event) -> None:
        super().__init__(logging.DEBUG)
        self._bootstrap, self._security, self._done = bootstrap, security, done
        self._servers = len(bootstrap.split(","))
        self._failed: dict[str, str] = {}  # bootstrap node id -> why
        # Node id -> whether its last request was the SASL credentials: a broker under load
        # may drop the connection instead of answering them with an error.
        self._authenticating: dict[str, bool] = {}
        self.last: str | None = None  # the last failure of any kind, for a timeout
        self.fatal: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if record.levelno < logging.WARNING:
            if record.msg == "%s Request %d: %s" and len(args) == 3:  # kafka.net.connection
                node = str(getattr(args[0], "node_id", ""))
                self._authenticating[node] = type(args[2]).__name__.startswith(
                    "SaslAuthenticate")
            return
        nodes = [a for a in args if isinstance(a, str) and a.startswith("bootstrap-")]
        errors = [a for a in args if isinstance(a, Exception)]
        if not nodes or not errors:
            return
        self.last = describe_error(errors[0])
        why = self._cause(errors[0])
        if why is None and self._authenticating.get(nodes[0]) and isinstance(
                errors[0], KafkaConnectionError):
            why = self._credentials(
                "closed the connection in answer to the credentials instead of accepting "
                "them")
        if why is None:
            self._failed.pop(nodes[0], None)
            return
        self._failed[nodes[0]] = why
        if len(self._failed) >= self._servers:
            self.fatal = why
            self._done.set()

    def _cause(self, error: Exception) -> str | None:
        """What to tell the operator about a failure that no retry can mend, or None."""
        security, text = self._security, str(error)
        if isinstance(error, SaslAuthenticationFailedError):
            detail = re.sub(r"^(\[Error \d+\] )?(SaslAuthenticationFailedError: )*", "", text)
            return self._credentials(f"rejected the credentials: SASL authentication failed "
                                     f"for user {security.sasl_username!r}, mechanism "
                                     f"{security.sasl_mechanism} ({detail})")
        if isinstance(error, UnsupportedSaslMechanismError):
            return f"Kafka at {self._bootstrap} refused security.sasl_mechanism: {text}"
        verify = re.search(r"certificate verify failed: ([^(]+)", text)
        if verify:
            cafile = security.ssl_cafile or "not set, so the system's CAs"
            return (f"the TLS certificate of Kafka at {self._bootstrap} could not be "
                    f"verified: {verify.group(1).strip()}. Check security.ssl_cafile "
                    f"({cafile}): it must hold the CA that signed the broker's certificate, "
                    "and the certificate must name the host in bootstrap_servers "
                    "(security.ssl_check_hostname).")
        handshake = re.search(r"Handshake failed: (\[SSL[^\]]*\][^(]*)", text)
        if handshake:
            return (f"the TLS handshake with Kafka at {self._bootstrap} failed: "
                    f"{handshake.group(1).strip()}. Check security.protocol against the "
                    "listener on that port, and ssl_certfile/ssl_keyfile if the broker "
                    "asks for a client certificate.")
        return None


    def _credentials(self, what: str) -> str:
        if "user " not in what:
            what += (f" (SASL user {self._security.sasl_username!r}, mechanism "
                     f"{self._security.sasl_mechanism}): most likely they were rejected")
        return (f"Kafka at {self._bootstrap} {what}. Check security.sasl_username and the "
                "password (sasl_password, sasl_password_file or DRIFTD_KAFKA_SASL_PASSWORD).")


class _Closable(Protocol):
    def close(self) -> None: ...


_Client = TypeVar("_Client", bound=_Closable)


def bootstrapped(build: Callable[[], _Client], bootstrap: str,
                 security: KafkaSecurityConfig) -> _Client:
    """``build()`` a kafka-python client (which bootstraps), but raise KafkaSetupError as
    soon as kafka-python logs that the broker rejects the credentials or the TLS setup.

    ``build`` runs on a helper thread so that such a failure can end the wait at once;
    an abandoned build finishes (or times out) on its own and is closed.
    """
    done, lock = threading.Event(), threading.Lock()
    watch = _BootstrapWatch(bootstrap, security, done)
    outcome: list[_Client | Exception] = []
    abandoned = False

    def run() -> None:
        try:
            result: _Client | Exception = build()
        except Exception as error:  # handed to the caller's thread
            result = error
        with lock:
            outcome.append(result)
            if abandoned and not isinstance(result, Exception):
                result.close()
        done.set()

    with _listening(watch):
        threading.Thread(target=run, name="kafka-bootstrap", daemon=True).start()
        done.wait()
    with lock:
        if watch.fatal is not None:
            abandoned = True
            if outcome and not isinstance(outcome[0], Exception):
                outcome[0].close()
            raise KafkaSetupError(watch.fatal)
        result = outcome[0]
    if isinstance(result, Exception):
        error = KafkaUnreachable if isinstance(result, KafkaTimeoutError) else KafkaSetupError
        last = (f" (last connection error: {watch.last})"
                if watch.last is not None and watch.last not in str(result) else "")
        raise error(f"cannot connect to Kafka at {bootstrap}: {describe_error(result)}"
                    f"{last}") from result
    return result


@contextlib.contextmanager
def _listening(handler: logging.Handler) -> Iterator[None]:
    """``handler`` on kafka-python's network loggers; silenced ones stay silent."""
    net = logging.getLogger("kafka.net")
    level, propagate = net.level, net.propagate
    if net.getEffectiveLevel() > logging.DEBUG:  # the watch reads requests; nobody else may
        net.setLevel(logging.DEBUG)
        net.propagate = False
    net.addHandler(handler)
    try:
        yield
    finally:
        net.removeHandler(handler)
        net.setLevel(level)
        net.propagate = propagate
