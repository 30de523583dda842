"""The Batu API key: from ``BATU_API_KEY`` locally, from an SSM SecureString on AWS.

On Lambda the key is read once per container from the parameter named by
``BATU_API_KEY_SSM_PARAMETER`` and kept for the container's life; boto3 comes with the Lambda
runtime (it is not packaged) and is imported only when SSM is actually used. Error messages
never contain the key.

On Lambda the read starts at cold start (SPEC §6): ``create_app`` calls :func:`start_reading`,
which begins it in a background thread and returns at once, so it overlaps the rest of the
runtime's init. Locally (``flask run``, the CLI, the tests) nothing starts a read; there the
first fetch that needs the key starts it.

The SSM read is bounded by the fetch that needs it (SPEC §13): it runs in a background thread,
one read per parameter at a time (single flight), and a fetch takes the cached key or waits
for the read under way (the cold start's or its own) at most its time left, then gives up with
a 504. A read outlived by its request is not lost: when it finishes it fills the cache for the
next request; a failed read (the cold start's too) is forgotten, so the next request tries
again.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

from prices.base import UpstreamError, UpstreamTimeoutError
from prices.settings import ConfigError, PriceSettings

logger = logging.getLogger(__name__)

#: botocore timeouts and retries of the SSM call: at worst 3 attempts of 2 s connect + 3 s read
#: plus backoff (about 15-18 s); a fetch waits for it only until its deadline.
SSM_CONNECT_TIMEOUT_S = 2.0
SSM_READ_TIMEOUT_S = 3.0
SSM_MAX_ATTEMPTS = 3
#: What a fetch whose deadline passes during the SSM read answers (504).
READ_TOO_SLOW = "batu: the API key was still being read from SSM at the fetch deadline"

#: Guards ``_cache`` and ``_reads``.
_lock = threading.Lock()
#: Parameter name → its value, once read (for the life of the process).
_cache: dict[str, str] = {}
#: Parameter name → the read in progress (removed when it ends, whatever the outcome).
_reads: dict[str, Future[str]] = {}
#: Runs the reads (one per parameter at a time); its threads are created on first use only.
_readers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ssm-read")


def batu_api_key(settings: PriceSettings, *, timeout_s: float | None = None) -> str:
    """The Batu API key: ``settings.batu_api_key`` if set, else the decrypted value of the SSM
    parameter ``settings.batu_api_key_ssm_parameter`` (read once per process, thread-safe: the
    one key cache; a rotated key is seen by new containers).

    ``timeout_s`` is how long the caller may wait for an SSM read (its time left; ``None``: as
    long as the read takes). Raises ``ConfigError`` when neither is configured,
    ``UpstreamTimeoutError`` (504) when the read is not done within ``timeout_s`` (it goes on
    in the background and fills the cache) and ``UpstreamError`` (502) when SSM cannot be read
    or holds an empty value.
    """
    if settings.batu_api_key:
        return settings.batu_api_key
    name = settings.batu_api_key_ssm_parameter
    if not name:
        raise ConfigError("the Batu API key needs BATU_API_KEY or BATU_API_KEY_SSM_PARAMETER")
    read = _cached_or_read(name)
    if isinstance(read, str):
        return read
    # wait(), not result(timeout): a TimeoutError raised by the read itself is not the deadline.
    done, _ = wait([read], timeout=None if timeout_s is None else max(0.0, timeout_s))
    if not done:
        logger.warning("SSM parameter %s: still being read at the fetch deadline", name)
        raise UpstreamTimeoutError(READ_TOO_SLOW)
    return read.result()


def start_reading(settings: PriceSettings) -> Future[str] | None:
    """Start reading the Batu key from SSM in the background and return at once (the Lambda
    cold start; the first fetch then takes the cached key or waits for this read).

    Returns the read (the one already under way, if any), or ``None`` when there is nothing to
    read: the source is not ``batu``, ``BATU_API_KEY`` is set, no parameter is named, or the
    key is already cached. Never raises: a read that cannot start or that fails is logged with
    the parameter's name and the error's type only (never a value), and forgotten, so the first
    fetch that needs the key reads again and answers the 502 or 504 it would have anyway."""
    name = settings.batu_api_key_ssm_parameter
    if settings.source != "batu" or settings.batu_api_key or not name:
        return None
    try:
        read = _cached_or_read(name, at_cold_start=True)
    except Exception as exc:  # e.g. no thread can be started: the first fetch tries again
        logger.error(
            "SSM parameter %s: the cold-start read could not start (%s); the first fetch "
            "that needs the Batu key reads it",
            name,
            type(exc).__name__,
        )
        return None
    return None if isinstance(read, str) else read


def _cached_or_read(name: str, *, at_cold_start: bool = False) -> str | Future[str]:
    """The cached value of ``name``, else the read of it under way, else a read started now
    (single flight: at most one read per parameter at a time)."""
    with _lock:
        cached = _cache.get(name)
        if cached is not None:
            return cached
        read = _reads.get(name)
        started = read is None
        if read is None:
            read = _reads[name] = _readers.submit(_read_and_keep, name, at_cold_start)
    if started and at_cold_start:
        logger.info("SSM parameter %s: reading the Batu key at cold start", name)
    return read


def _read_and_keep(name: str, at_cold_start: bool = False) -> str:
    """One read of ``name`` (in a reader thread): its value is cached before any waiter sees
    it, and the read is forgotten (and, at cold start, its failure logged) before its error
    is seen, so the next call starts a fresh one."""
    try:
        value = _read_parameter(name)
    except BaseException as exc:
        with _lock:
            _reads.pop(name, None)
        if at_cold_start:
            # The type only: an arbitrary exception's text is not known to be free of secrets.
            logger.error(
                "SSM parameter %s: the cold-start read failed (%s); the first fetch that "
                "needs the Batu key reads it again",
                name,
                type(exc).__name__,
            )
        raise
    with _lock:
        _cache[name] = value
        _reads.pop(name, None)
    if at_cold_start:
        logger.info("SSM parameter %s: the Batu key was read at cold start", name)
    return value


def _read_parameter(name: str) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    config = Config(
        connect_timeout=SSM_CONNECT_TIMEOUT_S,
        read_timeout=SSM_READ_TIMEOUT_S,
        retries={"max_attempts": SSM_MAX_ATTEMPTS, "mode": "standard"},
    )
    try:
        # A session of its own: boto3's default session is not safe to share between threads.
        client = boto3.session.Session().client("ssm", config=config)
        response = client.get_parameter(Name=name, WithDecryption=True)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        logger.error("reading SSM parameter %s failed: %s", name, code)
        raise UpstreamError("could not read the Batu API key from SSM") from None
    except BotoCoreError as exc:
        logger.error("reading SSM parameter %s failed: %s", name, type(exc).__name__)
        raise UpstreamError("could not read the Batu API key from SSM") from None
    value = response.get("Parameter", {}).get("Value")
    if not isinstance(value, str) or not value.strip():
        logger.error("SSM parameter %s is empty", name)
        raise UpstreamError("could not read the Batu API key from SSM")
    return value.strip()
