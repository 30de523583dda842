"""Refresh or check the browser code the dashboard serves (``blueprints/static/vendor/``).

    python scripts/vendor_frontend.py            # fetch the pinned packages with `npm pack`
    python scripts/vendor_frontend.py --check    # offline: the committed files match MANIFEST

Each package is fetched from the npm registry at the pinned version with ``npm pack`` (no
install, no build step, no lifecycle scripts), its tarball's sha512 is compared with the pinned
``integrity`` (the registry's own ``dist.integrity``), and only the files the pages load plus
the licence are copied. ``vendor.json`` next to them records versions and file hashes; the
app never fetches anything at run time. To upgrade a package, change its version and
integrity (``npm view <pkg>@<version> dist.integrity``) below and run the script.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "blueprints" / "static" / "vendor"
MANIFEST = VENDOR / "vendor.json"


@dataclass(frozen=True, kw_only=True)
class Package:
    name: str  # npm package name
    version: str
    integrity: str  # npm's dist.integrity of the tarball (sha512, base64)
    licence: str  # SPDX id
    folder: str  # under blueprints/static/vendor/
    files: tuple[str, ...]  # paths inside the tarball's package/ folder


PACKAGES = (
    Package(
        name="uplot",
        version="1.6.32",
        integrity="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        licence="MIT",
        folder="uplot",
        files=("dist/uPlot.iife.min.js", "dist/uPlot.min.css", "LICENSE"),
    ),
    Package(
        name="swagger-ui-dist",
        version="5.35.0",
        integrity="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        licence="Apache-2.0",
        folder="swagger-ui",
        files=(
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css",
            "LICENSE",
            "NOTICE",
        ),
    ),
)


class VendorError(Exception):
    """A package could not be fetched or does not match its pin."""


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def npm_pack(package: Package, workdir: Path) -> Path:
    spec = f"{package.name}@{package.version}"
    result = subprocess.run(
        ["npm", "pack", spec, "--json", "--ignore-scripts", "--pack-destination", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise VendorError(f"npm pack {spec} failed:\n{result.stderr.strip()}")
    (entry,) = json.loads(result.stdout)
    return workdir / entry["filename"]


def extract(package: Package, tarball: Path) -> dict[str, str]:
    """Copy the package's files into its folder; returns {file name: sha256}."""
    data = tarball.read_bytes()
    if sri_sha512(data) != package.integrity:
        raise VendorError(f"{package.name}@{package.version}: tarball integrity mismatch")
    target = VENDOR / package.folder
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    hashes: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for inner in package.files:
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise VendorError(f"{package.name}: {inner} is missing from the tarball")
            out = target / Path(inner).name
            out.write_bytes(member.read())
            hashes[out.name] = sha256(out)
    return hashes


def refresh() -> None:
    manifest: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="vendor-") as tmp:
        for package in PACKAGES:
            hashes = extract(package, npm_pack(package, Path(tmp)))
            manifest[package.folder] = {
                "package": package.name,
                "version": package.version,
                "integrity": package.integrity,
                "license": package.licence,
                "files": hashes,
            }
            print(f"{package.name}@{package.version} -> {VENDOR / package.folder}")
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")


def check() -> list[str]:
    """Problems with the committed files (empty when they match the pins and the manifest)."""
    manifest = json.loads(MANIFEST.read_text())
    problems = []
    for package in PACKAGES:
        entry = manifest.get(package.folder)
        if entry is None or (entry["version"], entry["integrity"]) != (
            package.version,
            package.integrity,
        ):
            problems.append(f"{package.folder}: manifest does not match the pin; run the script")
            continue
        for name, digest in entry["files"].items():
            path = VENDOR / package.folder / name
            if not path.is_file() or sha256(path) != digest:
                problems.append(f"{package.folder}/{name}: missing or modified")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify offline, change nothing")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    try:
        refresh()
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
