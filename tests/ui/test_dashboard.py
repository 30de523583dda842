"""The dashboard in a real browser: Debian's headless Chromium driven by selenium against the app
on a real socket (synthetic prices). Screenshots of the main views go to tests/ui/artifacts/
(git-ignored)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import request
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from blueprints.ui import DEFAULT_VIEW
from optimizer import STRATEGIES
from testkit.browser import Browser, chromium, serve, synthetic_app

ARTIFACTS = Path(__file__).with_name("artifacts")
CSV_HEADER = "date,hour,price_mxn_per_mwh,action,power_mw,soc,revenue_mxn"

#: counts, per canvas of a chart panel, its painted pixels, its distinct colours and the
#: pixels near each colour of arguments[1] (a list of "#rrggbb")
PIXELS_JS = """
const panel = document.getElementById(arguments[0]);
const wanted = (arguments[1] || [])
  .map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
const out = [];
for (const canvas of panel.querySelectorAll("canvas")) {
  if (!canvas.width || !canvas.height) continue;
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  const colours = new Set();
  const near = wanted.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    painted += 1;
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    wanted.forEach((c, k) => {
      if ([0, 1, 2].every((j) => Math.abs(data[i + j] - c[j]) < 12)) near[k] += 1;
    });
  }
  out.push({painted, colours: colours.size, near, size: canvas.width * canvas.height});
}
return out;
"""


class Spy:
    """What the test server saw, and a switch that makes the next POST slow (to watch the
    spinner)."""

    def __init__(self) -> None:
        self.slow = threading.Event()
        #: while set, every POST /optimize without compare (the other strategies the page
        #: fetches for its cumulative chart) takes a second
        self.slow_others = threading.Event()
        self.authorizations: list[str | None] = []

    def before_request(self) -> None:
        if request.method == "POST":
            self.authorizations.append(request.headers.get("Authorization"))
            if self.slow.is_set():  # only the next POST
                self.slow.clear()
                time.sleep(2.0)
            body = request.get_json(silent=True)
            other = isinstance(body, dict) and body.get("compare") is False
            if self.slow_others.is_set() and other:
                time.sleep(1.0)


SPY = Spy()


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    app = synthetic_app()
    app.before_request(SPY.before_request)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as opened:
        yield opened


@pytest.fixture
def driver(browser: Browser) -> WebDriver:
    browser.driver.get_log("browser")  # drop what earlier tests logged
    for leftover in browser.downloads.iterdir():
        leftover.unlink()
    return browser.driver


# --- helpers ---------------------------------------------------------------------------------


def wait_state(driver: WebDriver, *states: str, timeout: float = 45) -> str:
    wanted = states or ("ready",)
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(
        lambda d: d.execute_script("return document.body.dataset.state") in wanted
    )
    state: str = driver.execute_script("return document.body.dataset.state")
    return state


def open_page(driver: WebDriver, url: str, *states: str) -> str:
    driver.get(url)
    return wait_state(driver, *(states or ("ready",)))


def click_and_wait(driver: WebDriver, element_id: str, *states: str) -> str:
    driver.execute_script("document.body.dataset.state = 'clicked'")
    driver.find_element(By.ID, element_id).click()
    return wait_state(driver, *(states or ("ready",)))


def console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def screenshot(driver: WebDriver, name: str) -> None:
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    (ARTIFACTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))


def post(base_url: str, path: str, body: Any, accept: str = "application/json") -> tuple[int, str]:
    request = urllib.request.Request(
        base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Accept": accept},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def optimize_body(view: dict[str, str]) -> dict[str, Any]:
    """The POST /optimize body for a page view, built here independently of the page."""
    battery = {
        name: float(view[name])
        for name in ("capacity_mw", "duration_hours", "efficiency", "min_soc", "max_soc")
    }
    return {
        "battery_params": battery,
        "market_params": {
            "zone": view["zone"],
            "system": view["system"],
            "process": view["process"],
            "start_date": view["start"],
            "end_date": view["end"],
        },
        "strategy": view["strategy"],
        "horizon": view["horizon"],
        "compare": True,
    }


def expected_tiles(result: dict[str, Any]) -> dict[str, float | None]:
    summary = result["summary"]
    keys = ("total_revenue", "revenue_per_mw_year", "cycles", "captured_spread", "pct_of_tb")
    tiles: dict[str, float | None] = {key: summary.get(key) for key in keys}
    for row in result["comparison"]:
        if row["strategy"] in ("forecast", "learned"):
            tiles[f"pct_of_optimal_{row['strategy']}"] = row["pct_of_optimal"]
    return tiles


def page_tiles(driver: WebDriver) -> dict[str, str | None]:
    tiles: dict[str, str | None] = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('.kpi'))"
        ".map((t) => [t.dataset.key, t.hidden ? null : t.dataset.value]))"
    )
    return tiles


def field_values(driver: WebDriver) -> dict[str, str]:
    values: dict[str, str] = driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#inputs [name]'))"
        ".map((i) => [i.name, i.value]))"
    )
    return values


def set_field(driver: WebDriver, name: str, value: str) -> None:
    """Type ``value`` into a field (date pickers, whose typing is locale-bound, are set)."""
    element = driver.find_element(By.CSS_SELECTOR, f"#inputs [name='{name}']")
    if element.get_attribute("type") == "date":
        driver.execute_script(
            "arguments[0].value = arguments[1];"
            "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
            element,
            value,
        )
        return
    element.clear()
    element.send_keys(value)


def query(driver: WebDriver) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(driver.current_url).query).items()}


def wait_download(folder: Path, suffix: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file downloaded into {folder}: {list(folder.iterdir())}")


def cumulative_lines(driver: WebDriver) -> set[str]:
    """The strategies in the cumulative chart's legend."""
    labels = driver.find_elements(By.CSS_SELECTOR, "#chart-cumulative .u-legend .u-label")
    return {label.text for label in labels}


def assert_charts_drawn(driver: WebDriver) -> None:
    palette = driver.execute_script("return BatteryCharts.palette")
    expectations = {
        "chart-day": [palette["price"], palette["charge"], palette["discharge"]],
        "chart-cumulative": [palette["strategies"]["optimal"]],
        "chart-monthly": [palette["bars"]],
        "chart-heatmap-dispatch": [palette["charge"], palette["discharge"]],
        "chart-heatmap-price": [],
    }
    for chart, colours in expectations.items():
        canvases = driver.execute_script(PIXELS_JS, chart, colours)
        assert canvases, f"{chart} has no canvas"
        main = max(canvases, key=lambda c: c["painted"])
        assert main["painted"] > 0.02 * main["size"], (chart, main)
        assert main["colours"] >= 3, (chart, main)
        assert all(count > 0 for count in main["near"]), (chart, colours, main)
    # the other strategies' lines (equal lines hide one another, so any of their colours)
    others = [c for name, c in palette["strategies"].items() if name != "optimal"]
    canvases = driver.execute_script(PIXELS_JS, "chart-cumulative", others)
    assert any(max(canvases, key=lambda c: c["painted"])["near"]), canvases


# --- tests -----------------------------------------------------------------------------------


def test_the_page_shows_the_prd_example_with_no_console_errors(
    driver: WebDriver, base_url: str
) -> None:
    assert open_page(driver, base_url + "/") == "ready"
    assert console_errors(driver) == []
    values = field_values(driver)
    assert {k: values[k] for k in ("zone", "start", "end", "capacity_mw", "duration_hours")} == {
        "zone": "APATZINGAN",
        "start": "2024-01-01",
        "end": "2024-01-31",
        "capacity_mw": "10",
        "duration_hours": "4",
    }
    meta = driver.find_element(By.ID, "results-meta").text
    assert "APATZINGAN" in meta
    assert "2024-01-01 .. 2024-01-31" in meta
    assert_charts_drawn(driver)
    # every strategy's cumulative revenue is drawn
    assert cumulative_lines(driver) == set(STRATEGIES)
    rows = driver.find_elements(By.CSS_SELECTOR, "#comparison tbody tr")
    assert len(rows) == len(STRATEGIES)
    # hovering a heatmap cell names its day, hour and value
    cells = driver.find_element(By.CSS_SELECTOR, "#chart-heatmap-price canvas")
    ActionChains(driver).move_to_element(cells).perform()
    title = cells.get_attribute("title") or ""
    assert re.fullmatch(r"2024-01-\d\d hour \d+: [\d,]+\.\d\d MXN/MWh", title), title
    screenshot(driver, "dashboard")


def test_a_url_query_reproduces_its_view_and_kpis_equal_the_api(
    driver: WebDriver, base_url: str
) -> None:
    view = {
        **DEFAULT_VIEW,
        "zone": "MONTERREY",
        "start": "2024-03-01",
        "end": "2024-03-10",
        "capacity_mw": "5",
        "duration_hours": "2",
        "strategy": "dp",
    }
    url = (
        f"{base_url}/?zone=MONTERREY&start=2024-03-01&end=2024-03-10&capacity_mw=5"
        "&duration_hours=2&strategy=dp&day=2024-03-04"
    )
    assert open_page(driver, url) == "ready"
    assert console_errors(driver) == []
    values = field_values(driver)
    assert {k: values[k] for k in ("zone", "start", "end", "capacity_mw", "strategy")} == {
        "zone": "MONTERREY",
        "start": "2024-03-01",
        "end": "2024-03-10",
        "capacity_mw": "5",
        "strategy": "dp",
    }
    assert Select(driver.find_element(By.ID, "day-select")).first_selected_option.text == (
        "2024-03-04"
    )
    status, text = post(base_url, "/optimize", optimize_body(view))
    assert status == 200
    api = json.loads(text)
    assert api["strategy"] == "dp"
    expected = expected_tiles(api)
    shown = page_tiles(driver)
    assert set(shown) == set(expected)
    for key, value in expected.items():
        if value is None:
            assert shown[key] is None, key
        else:
            assert shown[key] is not None, key
            assert float(shown[key]) == value, (key, shown[key], value)


def test_changing_an_input_and_running_updates_the_url(driver: WebDriver, base_url: str) -> None:
    open_page(driver, base_url + "/?start=2024-02-01&end=2024-02-07")
    before = page_tiles(driver)["total_revenue"]
    set_field(driver, "capacity_mw", "7")
    assert click_and_wait(driver, "run") == "ready"
    after = page_tiles(driver)["total_revenue"]
    assert query(driver)["capacity_mw"] == "7"
    assert query(driver)["start"] == "2024-02-01"
    assert before is not None
    assert after is not None
    assert float(after) == pytest.approx(float(before) * 0.7, rel=1e-6)
    Select(driver.find_element(By.ID, "day-select")).select_by_visible_text("2024-02-05")
    assert query(driver)["day"] == "2024-02-05"
    # the new URL opened afresh shows the same view
    open_page(driver, driver.current_url)
    assert field_values(driver)["capacity_mw"] == "7"
    assert page_tiles(driver)["total_revenue"] == after
    assert Select(driver.find_element(By.ID, "day-select")).first_selected_option.text == (
        "2024-02-05"
    )
    # zone keys are upper case whatever is typed
    set_field(driver, "zone", "monterrey")
    assert click_and_wait(driver, "run") == "ready"
    assert query(driver)["zone"] == "MONTERREY"
    assert driver.find_element(By.ID, "results-meta").text.startswith("MONTERREY (SIN")


def test_a_bad_value_shows_the_422_message_at_its_field(driver: WebDriver, base_url: str) -> None:
    open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02")
    set_field(driver, "capacity_mw", "-5")
    set_field(driver, "end", "2023-12-01")
    assert click_and_wait(driver, "run", "error") == "error"
    view = {**DEFAULT_VIEW, "capacity_mw": "-5", "start": "2024-01-01", "end": "2023-12-01"}
    status, text = post(base_url, "/optimize", optimize_body(view))
    assert status == 422
    errors = json.loads(text)["errors"]
    assert {"battery_params.capacity_mw", "market_params.end_date"} <= set(errors)
    for path in ("battery_params.capacity_mw", "market_params.end_date"):
        slot = driver.find_element(By.CSS_SELECTOR, f"[data-error-for='{path}']")
        assert slot.text == " ".join(errors[path])
        field = slot.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, "[name]")
        assert field.get_attribute("aria-invalid") == "true"
    assert "422" in driver.find_element(By.ID, "problem").text
    screenshot(driver, "validation-error")


def test_the_csv_download_is_the_apis_csv(
    driver: WebDriver, browser: Browser, base_url: str
) -> None:
    view = {**DEFAULT_VIEW, "start": "2024-01-01", "end": "2024-01-03"}
    open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-03")
    assert click_and_wait(driver, "download-csv") == "ready"
    downloaded = wait_download(browser.downloads, ".csv").read_text(encoding="utf-8")
    status, expected = post(
        base_url, "/optimize", {**optimize_body(view), "compare": False}, accept="text/csv"
    )
    assert status == 200
    lines = downloaded.splitlines()
    assert lines[0] == CSV_HEADER
    assert len(lines) == 1 + 3 * 24
    assert downloaded == expected


def test_the_report_download_renders_offline(
    driver: WebDriver, browser: Browser, base_url: str
) -> None:
    open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-14")
    tiles = page_tiles(driver)
    driver.find_element(By.ID, "download-report").click()
    report = wait_download(browser.downloads, ".html")
    html = report.read_text(encoding="utf-8")
    assert "@@" not in html
    assert '<script src="' not in html
    assert '<link rel="stylesheet"' not in html
    assert open_page(driver, report.as_uri()) == "ready"
    assert console_errors(driver) == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert page_tiles(driver) == tiles
    assert_charts_drawn(driver)
    screenshot(driver, "report")


def test_sizing_and_siting_tabs(driver: WebDriver, base_url: str) -> None:
    open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-07")
    assert click_and_wait(driver, "tab-sizing") == "ready"
    assert query(driver)["tab"] == "sizing"
    rows = driver.find_elements(By.CSS_SELECTOR, "#sizing-table tbody tr")
    assert len(rows) == len(DEFAULT_VIEW["durations"].split(","))
    sizing = driver.execute_script(PIXELS_JS, "chart-sizing", ["#0b6e4f", "#e07b00"])
    assert sizing
    assert all(n > 0 for n in max(sizing, key=lambda c: c["painted"])["near"])
    screenshot(driver, "sizing")
    assert click_and_wait(driver, "tab-siting") == "ready"
    assert query(driver)["tab"] == "siting"
    ranked = [
        row.find_elements(By.TAG_NAME, "td")[1].text
        for row in driver.find_elements(By.CSS_SELECTOR, "#siting-table tbody tr")
    ]
    assert sorted(ranked) == sorted(DEFAULT_VIEW["zones"].split(","))
    siting = driver.execute_script(PIXELS_JS, "chart-siting", ["#0b6e4f"])
    assert siting
    assert siting[0]["near"][0] > 0
    screenshot(driver, "siting")
    # the siting URL opened afresh lands on the same tab
    open_page(driver, driver.current_url)
    assert driver.find_element(By.ID, "tab-siting").get_attribute("aria-selected") == "true"
    assert console_errors(driver) == []


def test_the_api_reference_renders_the_openapi_document(driver: WebDriver, base_url: str) -> None:
    driver.get(base_url + "/docs")
    WebDriverWait(driver, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    paths = {e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/optimize", "/health", "/strategies"} <= {p.replace("\u200b", "") for p in paths}
    resources = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert resources
    assert all(name.startswith(base_url + "/") for name in resources)
    assert console_errors(driver) == []


def test_the_cli_report_renders_offline(driver: WebDriver, tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    runner = synthetic_app().test_cli_runner()
    args = ["optimize", "--zone", "APATZINGAN", "--start", "2024-01-01", "--end", "2024-01-10"]
    result = runner.invoke(args=[*args, "--json", "--html", str(report)])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert open_page(driver, report.as_uri()) == "ready"
    assert console_errors(driver) == []
    assert driver.execute_script("return performance.getEntriesByType('resource').length") == 0
    shown = page_tiles(driver)
    for key, value in expected_tiles(body).items():
        assert (shown[key] is None) if value is None else float(shown[key] or "nan") == value, key
    assert_charts_drawn(driver)
    assert cumulative_lines(driver) == set(STRATEGIES)


def test_a_long_request_shows_a_spinner_with_the_elapsed_time(
    driver: WebDriver, base_url: str
) -> None:
    SPY.slow.set()
    try:
        driver.get(base_url + "/?start=2024-01-01&end=2024-01-02")
        readings = []
        for _ in range(200):
            if driver.execute_script("return document.body.dataset.state") != "running":
                time.sleep(0.02)
                continue
            text = driver.find_element(By.ID, "status").text
            assert driver.find_elements(By.CSS_SELECTOR, "#status .spinner")
            match = re.fullmatch(r"Optimising\u2026 (\d+\.\d) s", text)
            assert match, text
            # the live region announces the label; the ticking clock is hidden from readers
            clock = driver.find_element(By.CSS_SELECTOR, "#status [aria-hidden='true']")
            assert re.fullmatch(r" ?\d+\.\d s", clock.text), clock.text
            readings.append(float(match[1]))
            if len(set(readings)) >= 2:
                break
            time.sleep(0.15)
        assert len(set(readings)) >= 2, readings
        assert readings == sorted(readings), readings
    finally:
        SPY.slow.clear()
    assert wait_state(driver) == "ready"
    assert not driver.find_elements(By.CSS_SELECTOR, "#status .spinner")


def test_a_pasted_token_is_sent_as_a_bearer_token_and_kept_in_the_tab_only(
    driver: WebDriver, base_url: str
) -> None:
    open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02")
    driver.find_element(By.CSS_SELECTOR, "#token-box summary").click()
    token = driver.find_element(By.ID, "api-token")
    token.send_keys("tok-123\n")
    del SPY.authorizations[:]
    try:
        assert click_and_wait(driver, "run") == "ready"
        assert SPY.authorizations
        assert set(SPY.authorizations) == {"Bearer tok-123"}
        stored = driver.execute_script(
            "return [JSON.stringify(sessionStorage), JSON.stringify(localStorage)]"
        )
        assert "tok-123" in stored[0]
        assert "tok-123" not in stored[1]
    finally:
        driver.execute_script("sessionStorage.clear()")


def test_a_bad_duration_list_shows_the_422_at_the_sizing_field(
    driver: WebDriver, base_url: str
) -> None:
    open_page(driver, base_url + "/?tab=sizing&start=2024-01-01&end=2024-01-03")
    set_field(driver, "durations", "0,abc")
    assert click_and_wait(driver, "run", "error") == "error"
    assert query(driver)["durations"] == "0,abc"
    body = {
        "battery_params": {"capacity_mw": 10.0, "efficiency": 0.85, "min_soc": 0.1, "max_soc": 1.0},
        "market_params": {
            "zone": "APATZINGAN",
            "system": "SIN",
            "process": "MDA",
            "start_date": "2024-01-01",
            "end_date": "2024-01-03",
        },
        "durations_hours": [0, "abc"],
        "strategy": "optimal",
        "horizon": "daily",
    }
    status, text = post(base_url, "/sizing", body)
    assert status == 422
    errors = json.loads(text)["errors"]
    expected = " ".join(
        " ".join(messages)
        for path, messages in errors.items()
        if path.split(".")[0] == "durations_hours"
    )
    assert expected
    assert driver.find_element(By.CSS_SELECTOR, "[data-error-for='durations_hours']").text == (
        expected
    )


@pytest.fixture
def phone(driver: WebDriver) -> Iterator[WebDriver]:
    """The driver at a phone's viewport (390 x 844), restored afterwards."""
    size = driver.get_window_size()
    driver.set_window_size(390, 844)
    try:
        yield driver
    finally:
        driver.set_window_size(size["width"], size["height"])


def page_overflow(driver: WebDriver) -> int:
    """How many CSS pixels the page is wider than its viewport (0: no sideways scrolling)."""
    wider: int = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return wider


def test_every_tab_fits_a_phone_screen(phone: WebDriver, base_url: str) -> None:
    """At 390 px the page was 756-988 px wide (the narrow layout's column grew to its widest
    table): a user-level tour."""
    assert open_page(phone, base_url + "/?start=2024-01-01&end=2024-01-07") == "ready"
    assert page_overflow(phone) <= 0
    for tab in ("tab-sizing", "tab-siting"):
        assert click_and_wait(phone, tab) == "ready"
        assert page_overflow(phone) <= 0, tab
    assert console_errors(phone) == []
    screenshot(phone, "phone-siting")


CHART_FITS_JS = """
const canvas = document.querySelector(`#${arguments[0]} canvas`);
const box = document.getElementById(arguments[0]);
return [canvas.getBoundingClientRect().width, box.clientWidth];
"""


def test_sizing_and_siting_charts_are_redrawn_when_the_window_narrows(
    driver: WebDriver, base_url: str
) -> None:
    """Only the Optimize tab's charts followed a resize; a narrowed window left the others at
    their old width (a user-level tour)."""
    size = driver.get_window_size()
    try:
        driver.set_window_size(1400, 900)
        for tab, chart in (("sizing", "chart-sizing"), ("siting", "chart-siting")):
            url = f"{base_url}/?start=2024-01-01&end=2024-01-07&tab={tab}"
            assert open_page(driver, url) == "ready"
            wide, _ = driver.execute_script(CHART_FITS_JS, chart)
            driver.set_window_size(800, 900)
            WebDriverWait(driver, 10, poll_frequency=0.1).until(
                lambda d, c=chart: (
                    d.execute_script(CHART_FITS_JS, c)[0]
                    <= d.execute_script(CHART_FITS_JS, c)[1] + 1
                )
            )
            narrow, box = driver.execute_script(CHART_FITS_JS, chart)
            assert narrow < wide, (tab, narrow, wide)
            assert narrow <= box + 1, (tab, narrow, box)
            driver.set_window_size(1400, 900)
    finally:
        driver.set_window_size(size["width"], size["height"])


def test_a_number_the_browser_cannot_read_is_an_error_not_an_omitted_field(
    driver: WebDriver, base_url: str
) -> None:
    """'1e' in a number field reads as '' and the run went ahead without it (no cycle cap):
    now the field says so and nothing is sent (a user-level tour)."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    field = driver.find_element(By.CSS_SELECTOR, "#inputs [name='max_cycles_per_day']")
    field.clear()
    field.send_keys("1e")
    assert driver.execute_script("return arguments[0].validity.badInput", field) is True
    posts = len(SPY.authorizations)
    assert click_and_wait(driver, "run", "error") == "error"
    path = "battery_params.max_cycles_per_day"
    slot = driver.find_element(By.CSS_SELECTOR, f"[data-error-for='{path}']")
    assert slot.text == "Not a number."
    assert field.get_attribute("aria-invalid") == "true"
    assert len(SPY.authorizations) == posts  # no request went out


def test_the_csv_is_the_schedule_on_screen_not_unrun_edits(
    driver: WebDriver, browser: Browser, base_url: str
) -> None:
    """The CSV was built from the form as edited, so a power typed but not run gave a 3 MW
    file beside a 10 MW page under the same name (a user-level tour)."""
    view = {**DEFAULT_VIEW, "start": "2024-01-01", "end": "2024-01-02"}
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    set_field(driver, "capacity_mw", "3")  # edited, not run
    assert click_and_wait(driver, "download-csv") == "ready"
    downloaded = wait_download(browser.downloads, ".csv").read_text(encoding="utf-8")
    status, expected = post(
        base_url, "/optimize", {**optimize_body(view), "compare": False}, accept="text/csv"
    )
    assert status == 200
    assert downloaded == expected
    edited = {**optimize_body({**view, "capacity_mw": "3"}), "compare": False}
    assert downloaded != post(base_url, "/optimize", edited, accept="text/csv")[1]


def test_leaving_optimize_while_the_other_strategies_run_redraws_them_on_return(
    driver: WebDriver, base_url: str
) -> None:
    """A tab switched while the other strategies were being fetched left the cumulative chart
    with one line for good: the view counted as drawn before they came back (a user-level
    tour)."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    set_field(driver, "capacity_mw", "7")
    SPY.slow_others.set()
    try:
        driver.execute_script("document.body.dataset.state = 'clicked'")
        driver.find_element(By.ID, "run").click()
        WebDriverWait(driver, 30, poll_frequency=0.05).until(
            lambda d: d.find_element(By.ID, "status").text.startswith("Running the other")
        )
        assert click_and_wait(driver, "tab-sizing") == "ready"
    finally:
        SPY.slow_others.clear()
    assert click_and_wait(driver, "tab-optimize") == "ready"
    assert cumulative_lines(driver) == set(STRATEGIES)
    assert console_errors(driver) == []


def test_a_linked_zone_without_its_system_runs_in_the_catalogue_s_system(
    driver: WebDriver, base_url: str
) -> None:
    """/?zone=MEXICALI answered 404 'ask for system BCA' though the page had the zone list:
    the system came from the catalogue only when the zone field changed (a user-level tour)."""
    url = base_url + "/?zone=MEXICALI&start=2024-01-01&end=2024-01-02"
    assert open_page(driver, url, "ready", "error") == "ready"
    assert field_values(driver)["system"] == "BCA"
    assert "MEXICALI" in driver.find_element(By.ID, "results-meta").text
    assert console_errors(driver) == []


def test_a_linked_select_value_is_read_regardless_of_case_and_an_unknown_one_is_named(
    driver: WebDriver, base_url: str
) -> None:
    """/?process=mtr left the select blank and ran MDA unseen (a user-level tour): it reads
    as MTR now, and a value no option has goes to the API, whose 422 is shown at the field."""
    dates = "start=2024-01-01&end=2024-01-02"
    assert open_page(driver, f"{base_url}/?process=mtr&{dates}") == "ready"
    assert field_values(driver)["process"] == "MTR"
    assert "MTR" in driver.find_element(By.ID, "results-meta").text
    assert open_page(driver, f"{base_url}/?process=XYZ&{dates}", "ready", "error") == "error"
    slot = driver.find_element(By.CSS_SELECTOR, "[data-error-for='market_params.process']")
    assert slot.text.startswith("Must be one of")
    assert field_values(driver)["process"] == "XYZ"


def test_fields_a_tab_does_not_send_are_hidden_there(driver: WebDriver, base_url: str) -> None:
    """Siting ranks its own zones, each in its catalogue system; sizing sends durations, not
    a duration: their fields were shown but ignored (a user-level tour)."""

    def shown() -> set[str]:
        names: list[str] = driver.execute_script(
            "return Array.from(document.querySelectorAll('#inputs [name]'))"
            ".filter((i) => i.offsetParent !== null).map((i) => i.name)"
        )
        return set(names)

    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    assert {"zone", "system", "duration_hours"} <= shown()
    assert click_and_wait(driver, "tab-sizing") == "ready"
    assert "duration_hours" not in shown()
    assert {"zone", "system", "durations"} <= shown()
    assert click_and_wait(driver, "tab-siting") == "ready"
    assert not {"zone", "system"} & shown()
    assert {"zones", "duration_hours", "process"} <= shown()


def test_a_422_focuses_the_first_wrong_field_whose_message_describes_it(
    driver: WebDriver, base_url: str
) -> None:
    """Field messages were not tied to their inputs and the focus stayed on the page after a
    run (a user-level tour): each slot is its field's description, the first wrong field takes
    the focus, and the tabs control labelled panels."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    for field in driver.find_elements(By.CSS_SELECTOR, "#inputs [name]"):
        described = field.get_attribute("aria-describedby")
        slot = driver.find_element(By.ID, described)
        assert "field-error" in (slot.get_attribute("class") or ""), field.get_attribute("name")
    set_field(driver, "min_soc", "0.9")
    set_field(driver, "max_soc", "0.5")
    assert click_and_wait(driver, "run", "error") == "error"
    focused = driver.switch_to.active_element
    assert focused.get_attribute("name") == "min_soc"
    description = driver.find_element(By.ID, focused.get_attribute("aria-describedby"))
    assert description.text == "Must be less than max_soc."
    for tab in ("optimize", "sizing", "siting"):
        button = driver.find_element(By.ID, f"tab-{tab}")
        panel = driver.find_element(By.ID, button.get_attribute("aria-controls"))
        assert panel.get_attribute("role") == "tabpanel"
        assert panel.get_attribute("aria-labelledby") == f"tab-{tab}"


def test_a_day_the_new_dates_drop_leaves_the_url(driver: WebDriver, base_url: str) -> None:
    """The URL kept day= after the dates moved past it (a user-level tour)."""
    url = base_url + "/?start=2024-01-01&end=2024-01-07&day=2024-01-04"
    assert open_page(driver, url) == "ready"
    assert query(driver)["day"] == "2024-01-04"
    set_field(driver, "start", "2024-02-01")
    set_field(driver, "end", "2024-02-03")
    assert click_and_wait(driver, "run") == "ready"
    assert query(driver).get("day") != "2024-01-04"
    assert query(driver)["start"] == "2024-02-01"


def test_every_chart_is_a_figure_named_by_its_heading(driver: WebDriver, base_url: str) -> None:
    """The chart canvases had no text alternative (a user-level tour)."""
    for url in ("/?start=2024-01-01&end=2024-01-02", "/?start=2024-01-01&end=2024-01-02&tab=sizing",
                "/?start=2024-01-01&end=2024-01-02&tab=siting"):  # fmt: skip
        assert open_page(driver, base_url + url) == "ready"
        charts = [c for c in driver.find_elements(By.CSS_SELECTOR, ".chart") if c.is_displayed()]
        assert charts, url
        for chart in charts:
            assert chart.get_attribute("role") == "figure"
            heading = driver.find_element(By.ID, chart.get_attribute("aria-labelledby"))
            assert heading.tag_name == "h2"
            assert heading.text.strip(), chart.get_attribute("id")


def test_a_report_saved_beside_a_422_says_it_is_of_the_results_on_screen(
    driver: WebDriver, browser: Browser, base_url: str
) -> None:
    """'Report downloaded' beside an error box read as a report of the failed request (a
    user-level tour); the report is of the results on screen and now says so."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    driver.find_element(By.ID, "download-report").click()
    wait_download(browser.downloads, ".html").unlink()
    assert driver.find_element(By.ID, "status").text == "Report downloaded"
    set_field(driver, "capacity_mw", "-5")
    assert click_and_wait(driver, "run", "error") == "error"
    driver.find_element(By.ID, "download-report").click()
    report = wait_download(browser.downloads, ".html")
    assert report.name == "battery-APATZINGAN-2024-01-01-2024-01-02-optimal.html"
    assert driver.find_element(By.ID, "status").text == (
        "Report downloaded: the results on screen (APATZINGAN, 2024-01-01 .. 2024-01-02), not "
        "the request that failed"
    )


LABEL_ROWS_JS = """
const canvas = document.querySelector(`#${arguments[0]} canvas.heatmap`);
const ctx = canvas.getContext("2d");
const scale = canvas.width / canvas.clientWidth;
const strip = (y0, y1) => {
  const data = ctx.getImageData(0, Math.round(y0 * scale), Math.round(60 * scale),
                                Math.max(1, Math.round((y1 - y0) * scale))).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
  return inked;
};
return [strip(0, 1), strip(1, 16)];
"""


def test_a_year_s_heatmaps_show_their_first_date_label_whole(
    driver: WebDriver, base_url: str
) -> None:
    """Over 366 days the first row is 1.1 px tall, and its date label, centred on it, was cut
    in half at the canvas's top (a user-level tour): no ink in the top pixel row, the label
    below it."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-12-31", "ready") == "ready"
    for chart in ("chart-heatmap-dispatch", "chart-heatmap-price"):
        top_row, label = driver.execute_script(LABEL_ROWS_JS, chart)
        assert top_row == 0, chart
        assert label > 0, chart


def test_an_unreadable_number_in_a_field_the_tab_hides_does_not_stop_it(
    driver: WebDriver, base_url: str
) -> None:
    """Sizing hides and does not send the duration, so '1e' left there does not stop a sizing
    run, while Optimize, which sends it, refuses to run."""
    assert open_page(driver, base_url + "/?start=2024-01-01&end=2024-01-02") == "ready"
    field = driver.find_element(By.CSS_SELECTOR, "#inputs [name='duration_hours']")
    field.clear()
    field.send_keys("1e")
    assert click_and_wait(driver, "tab-sizing") == "ready"
    assert driver.find_elements(By.CSS_SELECTOR, "#sizing-table tbody tr")
    assert click_and_wait(driver, "tab-optimize", "error") == "error"
    slot = driver.find_element(By.CSS_SELECTOR, "[data-error-for='battery_params.duration_hours']")
    assert slot.text == "Not a number."
