"""The app served on a real socket of 127.0.0.1 in a thread: what the socket-level tests, the
browser tests and ``bench/bench_dashboard.py`` share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """``app`` on a free port of 127.0.0.1 in a thread; yields its base URL. The server is
    shut down and its socket closed on exit."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
