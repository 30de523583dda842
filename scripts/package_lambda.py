"""Build the AWS Lambda package: ``dist/lambda.zip`` (+ ``dist/lambda.zip.json``, its manifest).

    python scripts/package_lambda.py                  # Lambda: CPython 3.13, arm64
    python scripts/package_lambda.py --arch x86_64    # Lambda on x86_64
    python scripts/package_lambda.py --local --output /tmp/lambda.zip
                                                      # this machine's CPU and Python (tests)

The zip holds manylinux wheels of ``requirements.lock`` for the target (never the build
machine's own packages): the runtime set of ``requirements.txt`` and everything it pulls in,
each at its locked version and checked against the lock's hashes (``make lock`` refreshes the
lock; the build refuses a lock that no longer matches ``requirements.txt``), plus the app's code
(``app.py`` and its packages with their package data; no tests, no dev dependencies). boto3 is
not packaged: the Lambda runtime provides it, and only the SSM key lookup uses it. Only what is
safe is trimmed: ``__pycache__``/``*.pyc`` (compiled for the build's Python, useless on the
target), packages' ``tests``/``test`` directories (numpy's ``testing`` and ``f2py`` and the
bundled OpenBLAS are kept: scipy imports them), type stubs and console scripts. The zip is
reproducible: sorted entries, fixed timestamps and modes.

When a CPython of the target version is at hand (this interpreter, ``python3.13`` on PATH, a
pyenv install, or ``--compile-with``), every module is precompiled into hash-checked ``.pyc``
files: Lambda's code directory is read-only, so without them each cold start compiles numpy,
scipy and flask in memory (about a second). Without one the package still works, only slower
to start.

Terraform reads the manifest to refuse a package built for another architecture or Python.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: every runtime package, transitive ones included, pinned with hashes (``make lock``)
LOCK = REPO / "requirements.lock"
#: the runtime packages the app names directly, pinned (the lock is compiled from it)
REQUIREMENTS = REPO / "requirements.txt"
LAMBDA_PYTHON = "3.13"
ARCHITECTURES = ("arm64", "x86_64")
#: Lambda's limit on the unzipped size of a function (code and layers), in bytes.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
#: The app's own code, relative to the repository.
APP_MODULES = ("app.py",)
APP_PACKAGES = ("blueprints", "schemas", "optimizer", "prices")
#: Directory names removed from installed packages (test suites, never imported at run time).
TEST_DIRS = frozenset({"tests", "test"})
#: Packages provided by the Lambda runtime that must not be bundled.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath")
#: A pinned requirement line: ``name==version`` (extras, markers and hashes may follow).
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;\\]+)")
#: Fixed timestamp of every zip entry (the zip format's epoch) for reproducible builds.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


class PackageError(Exception):
    """The package could not be built or breaks a limit."""


@dataclass(frozen=True, kw_only=True)
class Target:
    architecture: str  # Lambda's name: arm64 or x86_64
    python_version: str  # major.minor
    platforms: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Manifest:
    architecture: str
    python_version: str
    platforms: list[str]
    zipped_bytes: int
    unzipped_bytes: int
    files: int
    requirements_sha256: str
    precompiled_with: str | None


def lambda_target(*, architecture: str, python_version: str = LAMBDA_PYTHON) -> Target:
    if architecture not in ARCHITECTURES:
        raise PackageError(f"architecture must be one of {', '.join(ARCHITECTURES)}")
    machine = "aarch64" if architecture == "arm64" else "x86_64"
    return Target(
        architecture=architecture,
        python_version=python_version,
        platforms=(f"manylinux_2_28_{machine}", f"manylinux2014_{machine}"),
    )


def local_target() -> Target:
    """This machine's CPU and the running CPython (the package test runs it here)."""
    machine = platform.machine()
    architecture = {"x86_64": "x86_64", "AMD64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    if sys.platform != "linux" or machine not in architecture:
        raise PackageError(
            f"--local needs Linux on x86_64 or aarch64, not {sys.platform}/{machine}"
        )
    return lambda_target(
        architecture=architecture[machine],
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )


def find_compiler(python_version: str) -> str | None:
    """A CPython executable of ``python_version`` (major.minor), or None."""
    candidates = [sys.executable, shutil.which(f"python{python_version}")]
    pyenv_root = Path.home() / ".pyenv" / "versions"
    candidates += sorted(glob.glob(str(pyenv_root / f"{python_version}.*" / "bin" / "python3")))
    for candidate in candidates:
        if candidate and interpreter_version(candidate) == python_version:
            return candidate
    return None


def interpreter_version(executable: str) -> str | None:
    """major.minor of a CPython executable, or None if it does not run."""
    code = (
        "import sys; print(sys.implementation.name, "
        "f'{sys.version_info.major}.{sys.version_info.minor}')"
    )
    try:
        result = subprocess.run(
            [executable, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except OSError:
        return None
    name, _, version = result.stdout.strip().partition(" ")
    return version if result.returncode == 0 and name == "cpython" else None


def precompile(site: Path, *, python: str, prefix: str | None) -> None:
    """Hash-checked .pyc next to every module (valid whatever the files' mtimes)."""
    command = [python, "-I", "-m", "compileall", "-q", "-j", "0", "--invalidation-mode"]
    command += ["checked-hash", "-s", str(site)]
    if prefix is not None:
        command += ["-p", prefix]
    result = subprocess.run([*command, str(site)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageError(f"compileall failed:\n{result.stdout}{result.stderr}")


def install_requirements(target: Target, *, requirements: Path, site: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(site),
        *(arg for tag in target.platforms for arg in ("--platform", tag)),
        "--only-binary=:all:",
        "--require-hashes",
        "--python-version",
        target.python_version,
        "--implementation",
        "cp",
        "-r",
        str(requirements),
    ]
    print("$", " ".join(command), flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise PackageError(f"pip install failed with exit code {result.returncode}")


def pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file: normalised name → version."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            found[re.sub(r"[-_.]+", "-", match["name"]).lower()] = match["version"]
    return found


def check_lock(lock: Path, requirements: Path = REQUIREMENTS) -> None:
    """The lock pins every package of ``requirements.txt`` at the same version."""
    locked = pins(lock)
    stale = sorted(
        f"{name}=={version}"
        for name, version in pins(requirements).items()
        if locked.get(name) != version
    )
    if stale:
        raise PackageError(
            f"{lock.name} does not match {requirements.name} ({', '.join(stale)}): run make lock"
        )


def copy_app(*, source: Path, site: Path) -> None:
    for module in APP_MODULES:
        shutil.copy2(source / module, site / module)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for package in APP_PACKAGES:
        if (site / package).exists():
            raise PackageError(f"a dependency installed a top-level {package!r}: name clash")
        shutil.copytree(source / package, site / package, ignore=ignore)


def trim(site: Path) -> None:
    """Remove what no import needs. numpy's ``testing``/``f2py`` and ``*.libs`` stay."""
    for name in RUNTIME_PROVIDED:
        if (site / name).exists():
            raise PackageError(f"{name} would be bundled; the Lambda runtime provides it")
    shutil.rmtree(site / "bin", ignore_errors=True)
    doomed = [
        path
        for path in site.rglob("*")
        if path.is_dir()
        and (path.name == "__pycache__" or (path.name in TEST_DIRS and path.parent != site))
    ]
    for path in sorted(doomed, key=lambda p: len(p.parts)):
        if path.exists():
            shutil.rmtree(path)
    for pattern in ("*.pyc", "*.pyo", "*.pyi"):
        for path in site.rglob(pattern):
            path.unlink()


def write_zip(site: Path, output: Path) -> tuple[int, int]:
    """Zip ``site`` reproducibly; returns (files, unzipped bytes)."""
    files = sorted(path for path in site.rglob("*") if path.is_file())
    unzipped = 0
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(site).as_posix(), date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            # World-readable regular files: Lambda runs the code as a non-root user.
            info.external_attr = 0o100644 << 16
            data = path.read_bytes()
            unzipped += len(data)
            zf.writestr(info, data, compresslevel=9)
    partial.replace(output)
    return len(files), unzipped


def build(
    target: Target,
    *,
    output: Path,
    requirements: Path,
    compiler: str | None,
    code_prefix: str | None,
    source: Path = REPO,
) -> Manifest:
    with tempfile.TemporaryDirectory(prefix="lambda-package-") as tmp:
        site = Path(tmp) / "package"
        site.mkdir()
        install_requirements(target, requirements=requirements, site=site)
        copy_app(source=source, site=site)
        trim(site)
        if compiler is not None:
            precompile(site, python=compiler, prefix=code_prefix)
        files, unzipped = write_zip(site, output)
    manifest = Manifest(
        architecture=target.architecture,
        python_version=target.python_version,
        platforms=list(target.platforms),
        zipped_bytes=output.stat().st_size,
        unzipped_bytes=unzipped,
        files=files,
        requirements_sha256=hashlib.sha256(requirements.read_bytes()).hexdigest(),
        precompiled_with=None if compiler is None else target.python_version,
    )
    manifest_path = output.with_name(output.name + ".json")
    manifest_path.write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def mib(n_bytes: int) -> str:
    return f"{n_bytes / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=ARCHITECTURES, default="arm64", help="default arm64")
    parser.add_argument(
        "--python-version", default=LAMBDA_PYTHON, help=f"default {LAMBDA_PYTHON} (Lambda)"
    )
    parser.add_argument(
        "--local",
        action="store_true",
        help="build for this machine's CPU and Python instead (to run the package here)",
    )
    parser.add_argument("--output", type=Path, default=REPO / "dist" / "lambda.zip")
    parser.add_argument(
        "--requirements",
        type=Path,
        default=LOCK,
        help="hashed requirements to install (default requirements.lock, checked against "
        "requirements.txt)",
    )
    compile_group = parser.add_mutually_exclusive_group()
    compile_group.add_argument(
        "--compile-with",
        metavar="PYTHON",
        help="CPython of the target version used to precompile (default: found automatically)",
    )
    compile_group.add_argument(
        "--no-compile", action="store_true", help="do not precompile (slower cold starts)"
    )
    args = parser.parse_args(argv)

    try:
        if args.requirements.resolve() == LOCK:
            check_lock(args.requirements)
        target = (
            local_target()
            if args.local
            else lambda_target(architecture=args.arch, python_version=args.python_version)
        )
        compiler = None
        if args.compile_with:
            if interpreter_version(args.compile_with) != target.python_version:
                raise PackageError(f"{args.compile_with} is not CPython {target.python_version}")
            compiler = args.compile_with
        elif not args.no_compile:
            compiler = find_compiler(target.python_version)
            if compiler is None:
                print(
                    f"note: no CPython {target.python_version} found, so the package is not "
                    "precompiled (it works; cold starts compile in memory, about 1 s slower). "
                    "Pass --compile-with PYTHON to precompile.",
                    flush=True,
                )
        print(
            f"building {args.output} for CPython {target.python_version} on "
            f"{target.architecture} ({', '.join(target.platforms)})"
            + (f", precompiled with {compiler}" if compiler else ""),
            flush=True,
        )
        manifest = build(
            target,
            output=args.output,
            requirements=args.requirements,
            compiler=compiler,
            # Tracebacks on Lambda name the files where they are: /var/task.
            code_prefix=None if args.local else "/var/task",
        )
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"{args.output}: {manifest.files} files, zipped {mib(manifest.zipped_bytes)} "
        f"({manifest.zipped_bytes} bytes), unzipped {mib(manifest.unzipped_bytes)} "
        f"({manifest.unzipped_bytes} bytes; Lambda's limit is {mib(MAX_UNZIPPED_BYTES)})"
    )
    if manifest.unzipped_bytes >= MAX_UNZIPPED_BYTES:
        args.output.unlink()
        args.output.with_name(args.output.name + ".json").unlink()
        print("error: the unzipped package exceeds Lambda's 250 MB limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
