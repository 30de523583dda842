"""Peak memory of one 366-day POST /optimize (SPEC §7: <= 150 MB), in a fresh process.

Runs ``app.lambda_handler`` in-process on an API Gateway v2 event for a whole leap year of
synthetic prices with the strategy comparison, and prints the process's peak resident set
size (``ru_maxrss``) before and after, plus the response size.

    .venv/bin/python bench/bench_memory.py
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# one log line per request would drown the figures
os.environ.setdefault("LOG_LEVEL", "WARNING")

from testkit.events import make_v2_event, prd_request


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    before_import = peak_mb()
    import app

    after_import = peak_mb()
    body = {**prd_request(end_date="2024-12-31T23:59:59Z"), "compare": True}
    event = make_v2_event(
        method="POST",
        path="/optimize",
        headers={"content-type": "application/json"},
        body=json.dumps(body),
        request_id="bench-memory",
    )
    started = time.perf_counter()
    response = app.lambda_handler(event, None)
    elapsed = time.perf_counter() - started
    if response["statusCode"] != 200:
        raise SystemExit(f"unexpected status {response['statusCode']}: {response['body'][:300]}")
    days = len(json.loads(response["body"])["daily_schedules"])
    print(f"days in the response        : {days}")
    print(f"response body               : {len(response['body']) / 1e6:.2f} MB")
    print(f"request time (one call)     : {elapsed * 1e3:.0f} ms")
    print(f"peak RSS before import      : {before_import:.0f} MB")
    print(f"peak RSS after import       : {after_import:.0f} MB")
    print(f"peak RSS after the request  : {peak_mb():.0f} MB   (target <= 150 MB, SPEC §7)")


if __name__ == "__main__":
    main()
