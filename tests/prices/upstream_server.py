"""Test helpers: real CENACE prices from data/cenace/, served in Batu's and CENACE's
wire formats by a real HTTP server on 127.0.0.1, with injectable faults.

The Batu format follows docs/batu-api.md (naive local ``timestamp`` at the start of the hour; on
a fall-back day the repeated 01:00 hour appears twice, on a spring-forward day 02:00 is absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

DATA = Path(__file__).resolve().parents[2] / "data" / "cenace"
PEND_2016 = "pend_MDA_2016-01-27_2017-06-30_7zonas_jluisfgarza.csv"
PEND_2020 = "pend_MDA_MTR_2020-08_26zonas_occidental_oscarflores.csv"
PML_RAW = "swpml_raw_SIN_MDA_01PLO-115_2026-09-08_datarangermx.json"
API_KEY = "test-key-0123456789"

#: One zone-day as published: (hora, pz string) pairs in file order.
Day = list[tuple[int, str]]


@cache
def _pend_table(filename: str) -> dict[tuple[str, str, str], dict[dt.date, Day]]:
    table: dict[tuple[str, str, str], dict[dt.date, Day]] = {}
    with gzip.open(DATA / f"{filename}.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["sistema"], row["proceso"], row["zona_carga"])
            day = dt.date.fromisoformat(row["fecha"])
            table.setdefault(key, {}).setdefault(day, []).append((int(row["hora"]), row["pz"]))
    return table


def pend_days(
    filename: str, zone: str, *, system: str = "SIN", process: str = "MDA"
) -> dict[dt.date, Day]:
    """The real prices of one zone: market day → [(hora, pz as written)], hora ascending."""
    days = _pend_table(filename)[(system, process, zone)]
    return {day: sorted(hours) for day, hours in days.items()}


def expected_prices(days: dict[dt.date, Day], first: dt.date, last: dt.date) -> list[list[float]]:
    """The file's prices for ``first..last`` as the caller should see them."""
    n = (last - first).days + 1
    dates = [first + dt.timedelta(days=i) for i in range(n)]
    return [[float(pz) for _, pz in days[d]] for d in dates]


def pml_raw_bytes() -> bytes:
    with gzip.open(DATA / f"{PML_RAW}.gz") as f:
        return f.read()


# --- Batu wire format --------------------------------------------------------------------------


def batu_clock_hour(index: int, n_hours: int) -> int:
    """Clock hour (start of the hour) of the ``index``-th hour of an ``n_hours`` day."""
    if n_hours == 23:
        return index if index < 2 else index + 1
    if n_hours == 25:
        return index if index < 2 else index - 1
    return index


def batu_rows(zone: str, days: dict[dt.date, Day]) -> list[dict[str, object]]:
    """Every hour of ``days`` as Batu rows, sorted by timestamp (stable for the repeated hour)."""
    rows: list[dict[str, object]] = []
    for day in sorted(days):
        hours = days[day]
        for index, (hora, pz) in enumerate(hours):
            clock = batu_clock_hour(index, len(hours))
            stamp = dt.datetime.combine(day, dt.time(clock))
            rows.append(
                {
                    "load_zone_id": zone,
                    "timestamp": stamp.strftime("%Y-%m-%d %H:%M:%S"),
                    "date": day.isoformat(),
                    "hour": str(hora),
                    "pml": float(pz),
                    "pml_cng": 0,
                    "pml_ene": float(pz),
                    "pml_per": 0,
                }
            )
    return rows


def batu_body(rows: list[dict[str, object]]) -> dict[str, object]:
    return {"status": "success", "items": len(rows), "data": rows}


BATU_NO_DATA = {"status": "fail", "data": {"message": "No query results"}}


# --- CENACE wire format ------------------------------------------------------------------------


def cenace_body(
    zone: str, days: dict[dt.date, Day], *, system: str = "SIN", process: str = "MDA"
) -> dict[str, object]:
    """A SW-PEND answer for one zone: every value a string, zone name with spaces."""
    valores = [
        {
            "fecha": day.isoformat(),
            "hora": str(hora),
            "pz": pz,
            "pz_ene": pz,
            "pz_per": "0",
            "pz_cng": "0",
        }
        for day in sorted(days)
        for hora, pz in days[day]
    ]
    return {
        "nombre": "PEND",
        "proceso": process,
        "sistema": system,
        "area": "PÚBLICA",
        "Resultados": [{"zona_carga": zone, "Valores": valores}] if valores else [],
        "status": "OK" if valores else "ZERO_RESULTS",
    }


# --- The server --------------------------------------------------------------------------------


@dataclass
class Fault:
    """What the server does instead of (or before) answering one request."""

    status: int | None = None  # answer this status with ``body``
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep before answering (normally when status is None)
    stall_body_s: float = 0.0  # send the headers, then sleep before the body
    #: send ``body`` gzip-compressed (``Content-Encoding: gzip``); the length is the compressed one
    gzip: bool = False
    #: send ``body`` one byte every ``drip_s`` seconds, for at most ``drip_for_s`` seconds
    drip_s: float = 0.0
    drip_for_s: float = 20.0


@dataclass
class Upstream:
    """State of the fake upstream: data per zone, faults to inject, requests seen."""

    batu: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    cenace: dict[tuple[str, str, str, str], dict[dt.date, Day]] = field(default_factory=dict)
    #: SW-PML raw answers served verbatim: (system, process, node, first, last) → bytes
    cenace_raw: dict[tuple[str, str, str, dt.date, dt.date], bytes] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    latency_s: float = 0.0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def next_fault(self) -> Fault | None:
        with self.lock:
            return self.faults.pop(0) if self.faults else None

    def record(self, path: str, params: dict[str, str]) -> None:
        with self.lock:
            self.requests.append((path, params))


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _answer_batu(up: Upstream, params: dict[str, str], key: str | None) -> tuple[int, bytes]:
    if key != API_KEY:
        return 403, _json({"message": "Forbidden"})
    try:
        zone = params["load_zone_id"]
        start = dt.datetime.strptime(params["date_start"], "%Y-%m-%d %H:%M:%S")
        end = dt.datetime.strptime(params["date_end"], "%Y-%m-%d %H:%M:%S")
    except (KeyError, ValueError):
        return 400, _json({"status": "fail", "data": {"message": "Bad request"}})
    # "YYYY-MM-DD HH:MM:SS" strings sort like the times they name
    low, high = f"{start:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}"
    rows = [row for row in up.batu.get(zone, []) if low <= str(row["timestamp"]) < high]
    if not rows:
        return 400, _json(BATU_NO_DATA)
    return 200, _json(batu_body(rows))


def _answer_cenace(up: Upstream, parts: list[str]) -> tuple[int, bytes]:
    # /{SWPEND|SWPML}/SIM/{system}/{process}/{zone}/{y}/{m}/{d}/{y}/{m}/{d}/JSON
    if len(parts) != 12 or parts[1] != "SIM" or parts[11] != "JSON":
        return 404, _json({"Message": "No HTTP resource was found that matches the request URI"})
    service, _, system, process, zone = parts[:5]
    first = dt.date(int(parts[5]), int(parts[6]), int(parts[7]))
    last = dt.date(int(parts[8]), int(parts[9]), int(parts[10]))
    if service == "SWPML" and (system, process, zone, first, last) in up.cenace_raw:
        return 200, up.cenace_raw[(system, process, zone, first, last)]
    days = up.cenace.get((service, system, process, zone), {})
    wanted = {d: hours for d, hours in days.items() if first <= d <= last}
    name = zone.replace("-", " ") if service == "SWPEND" else zone
    return 200, _json(cenace_body(name, wanted, system=system, process=process))


class _Handler(BaseHTTPRequestHandler):
    upstream: Upstream  # set on the per-server subclass

    def log_message(self, format: str, *args: object) -> None:  # silence
        pass

    def do_GET(self) -> None:  # http.server API
        up = self.upstream
        split = urlsplit(self.path)
        params = {k: v[0] for k, v in parse_qs(split.query).items()}
        up.record(split.path, params)
        fault = up.next_fault()
        delay = up.latency_s + (fault.delay_s if fault else 0.0)
        if delay:
            time.sleep(delay)
        headers: dict[str, str] = {}
        if fault and fault.status is not None:
            status, body, headers = fault.status, fault.body, fault.headers
        elif split.path == "/electricity-data/pmls/zone":
            status, body = _answer_batu(up, params, self.headers.get("x-api-key"))
        else:
            parts = [unquote(p) for p in split.path.strip("/").split("/")]
            status, body = _answer_cenace(up, parts)
        if fault and fault.gzip:
            body = gzip.compress(body, compresslevel=9)
            headers = {**headers, "Content-Encoding": "gzip"}
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if fault and fault.stall_body_s:
                self.wfile.flush()
                time.sleep(fault.stall_body_s)
            if fault and fault.drip_s:
                self._drip(body, every_s=fault.drip_s, for_s=fault.drip_for_s)
            else:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def _drip(self, body: bytes, *, every_s: float, for_s: float) -> None:
        """``body`` a byte at a time, until it is all sent or ``for_s`` has passed."""
        stop = time.monotonic() + for_s
        for i in range(len(body)):
            if time.monotonic() > stop:
                break
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(every_s)


def serve(upstream: Upstream) -> Iterator[Upstream]:
    """Run a ThreadingHTTPServer on 127.0.0.1 (free port) serving ``upstream`` until closed.
    Use as a generator fixture body."""
    handler = type("Handler", (_Handler,), {"upstream": upstream})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    host, port = server.server_address[:2]
    upstream.url = f"http://{host!s}:{port}"
    try:
        yield upstream
    finally:
        if thread.is_alive():
            server.shutdown()
        server.server_close()
        thread.join(timeout=5)
