"""Headless Chromium from Debian's packages (never a downloaded browser build) driven by
selenium, and the app served on a real socket on 127.0.0.1 (``testkit.server.serve``, re-exported
here): what the browser tests and ``bench/bench_dashboard.py`` share."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from app import create_app
from prices import PriceSettings
from testkit.server import serve

#: Debian's chromium and chromium-driver packages (``.ci/run`` installs them when missing)
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BINARY", "/usr/bin/chromedriver")

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1400,1100",
)


def synthetic_app() -> Flask:
    """The app on the default synthetic price source (no network)."""
    return create_app({"PRICE_SETTINGS": PriceSettings.from_env({"PRICE_SOURCE": "synthetic"})})


@dataclass(frozen=True)
class Browser:
    driver: webdriver.Chrome
    downloads: Path


@contextmanager
def chromium() -> Iterator[Browser]:
    """A fresh headless Chromium (its own profile and download folders, removed after)."""
    workdir = Path(tempfile.mkdtemp(prefix="ui-chromium-"))
    downloads = workdir / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={workdir / 'profile'}")
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
        )
        yield Browser(driver=driver, downloads=downloads)
    finally:
        driver.quit()
        shutil.rmtree(workdir, ignore_errors=True)


__all__ = ["CHROMEDRIVER", "CHROMIUM", "Browser", "chromium", "serve", "synthetic_app"]
