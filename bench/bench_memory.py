"""Peak memory of one 366-day POST /optimize (SPEC §7: <= 300 MB), in a fresh process.

Runs ``app.lambda_handler`` in-process on an API Gateway v2 event for a whole leap year of
synthetic prices with the strategy comparison, and prints the process's peak resident set
size (``ru_maxrss``) before and after, plus the response size.

    .venv/bin/python bench/bench_memory.py
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def event(body: dict) -> dict:
    """A minimal real-shaped API Gateway HTTP API (payload 2.0) event."""
    return {
        "version": "2.0",
        "routeKey": "POST /optimize",
        "rawPath": "/optimize",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "example.com",
            "domainPrefix": "example",
            "http": {
                "method": "POST",
                "path": "/optimize",
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "bench",
            },
            "requestId": "bench-memory",
            "routeKey": "POST /optimize",
            "stage": "$default",
            "time": "24/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795521600000,
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def main() -> None:
    before_import = peak_mb()
    import app

    after_import = peak_mb()
    body = {
        "battery_params": {
            "capacity_mw": 10,
            "duration_hours": 4,
            "efficiency": 0.85,
            "min_soc": 0.1,
            "max_soc": 1.0,
        },
        "market_params": {
            "zone": "APATZINGAN",
            "start_date": "2024-01-01T00:00:00Z",
            "end_date": "2024-12-31T23:59:59Z",
        },
        "strategy": "optimal",
        "compare": True,
    }
    started = time.perf_counter()
    response = app.lambda_handler(event(body), None)
    elapsed = time.perf_counter() - started
    if response["statusCode"] != 200:
        raise SystemExit(f"unexpected status {response['statusCode']}: {response['body'][:300]}")
    days = len(json.loads(response["body"])["daily_schedules"])
    print(f"days in the response        : {days}")
    print(f"response body               : {len(response['body']) / 1e6:.2f} MB")
    print(f"request time (one call)     : {elapsed * 1e3:.0f} ms")
    print(f"peak RSS before import      : {before_import:.0f} MB")
    print(f"peak RSS after import       : {after_import:.0f} MB")
    print(f"peak RSS after the request  : {peak_mb():.0f} MB   (target <= 300 MB, SPEC §7)")


if __name__ == "__main__":
    main()
