"""The Batu API key: from ``BATU_API_KEY`` locally, from an SSM SecureString on AWS.

On Lambda the key is read once per container from the parameter named by
``BATU_API_KEY_SSM_PARAMETER`` and kept for the container's life; boto3 comes with the Lambda
runtime (it is not packaged) and is imported only when SSM is actually used. Error messages
never contain the key.
"""

from __future__ import annotations

import logging
import threading

from prices.base import UpstreamError
from prices.settings import ConfigError, PriceSettings

logger = logging.getLogger(__name__)

#: botocore timeouts and retries for the SSM call: a few seconds at most, well inside the
#: price-fetch deadline (the call happens before the first upstream request).
SSM_CONNECT_TIMEOUT_S = 2.0
SSM_READ_TIMEOUT_S = 3.0
SSM_MAX_ATTEMPTS = 3

_lock = threading.Lock()
_cache: dict[str, str] = {}


def batu_api_key(settings: PriceSettings) -> str:
    """The Batu API key: ``settings.batu_api_key`` if set, else the decrypted value of the SSM
    parameter ``settings.batu_api_key_ssm_parameter`` (read once per process, thread-safe: the
    one key cache; a rotated key is seen by new containers).

    Raises ``ConfigError`` when neither is configured and ``UpstreamError`` (502) when SSM
    cannot be read or holds an empty value.
    """
    if settings.batu_api_key:
        return settings.batu_api_key
    name = settings.batu_api_key_ssm_parameter
    if not name:
        raise ConfigError("the Batu API key needs BATU_API_KEY or BATU_API_KEY_SSM_PARAMETER")
    with _lock:
        cached = _cache.get(name)
        if cached is None:
            cached = _read_parameter(name)
            _cache[name] = cached
        return cached


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
        response = boto3.client("ssm", config=config).get_parameter(Name=name, WithDecryption=True)
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
