"""The Lambda artefact itself works: ``scripts/package_lambda.py --local`` builds the zip for
this machine's CPU and Python, the zip is unzipped into a clean directory, and a fresh
interpreter that sees only that directory and the standard library (``-I -S``: no
site-packages, no PYTHON* variables) imports ``app`` and calls ``app.lambda_handler`` with real
API Gateway HTTP API (payload 2.0) events.

Needs the registry for the wheels (pip's own cache makes later runs quick)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apig_wsgi import make_lambda_handler
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app import create_app
from prices import PriceSettings
from testkit.events import make_v2_event, prd_request

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "package_lambda.py"
LOCK = REPO / "requirements.lock"
REQUIREMENTS = REPO / "requirements.txt"
REQUEST_ID = "5f0c6f0e-2b8e-4d6f-9a53-0d3c1b0e7a11"

OPTIMIZE_REQUEST = prd_request(end_date="2024-01-03T23:59:59Z")

# Runs inside the fresh interpreter: puts only the task root on sys.path (as Lambda does with
# /var/task), proves where every module came from, then calls the handler on each event.
DRIVER = r"""
import importlib.util, json, sys
task_root, events_path = sys.argv[1], sys.argv[2]
assert not any("site-packages" in p or "dist-packages" in p for p in sys.path), sys.path
sys.path.insert(0, task_root)

class Context:
    aws_request_id = "5f0c6f0e-2b8e-4d6f-9a53-0d3c1b0e7a11"
    function_name = "battery-arbitrage"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:battery-arbitrage"
    memory_limit_in_mb = 1024
    log_group_name = "/aws/lambda/battery-arbitrage"
    log_stream_name = "2026/11/24/[$LATEST]0123456789abcdef"
    def get_remaining_time_in_millis(self):
        return 25000

import app
origins = {}
for name in ("app", "flask", "apig_wsgi", "marshmallow", "numpy", "scipy", "scipy.optimize",
             "highspy", "requests", "optimizer", "prices", "blueprints", "schemas"):
    module = importlib.import_module(name) if name not in sys.modules else sys.modules[name]
    origins[name] = module.__file__
responses = [app.lambda_handler(event, Context()) for event in json.load(open(events_path))]
print(json.dumps({
    "origins": origins,
    "boto3_importable": importlib.util.find_spec("boto3") is not None,
    "boto3_loaded": "boto3" in sys.modules,
    "responses": responses,
}))
"""


def http_api_event(
    *, method: str, path: str, body: str | None = None, authorizer: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API event (payload 2.0) for a route of the deployed API."""
    headers = {
        "accept": "application/json",
        "x-amzn-trace-id": "Root=1-6743a5c0-0123456789abcdef01234567",
    }
    if body is not None:
        headers["content-type"] = "application/json"
        headers["content-length"] = str(len(body.encode()))
    return make_v2_event(
        method=method,
        path=path,
        headers=headers,
        body=body,
        request_id="CkQ3mh4LIAMEVxA=",
        route_key=f"{method} {path}",
        authorizer=authorizer,
    )


IAM_AUTHORIZER = {
    "iam": {
        "accessKey": "ASIAEXAMPLEEXAMPLE00",
        "accountId": "123456789012",
        "callerId": "AROAEXAMPLEEXAMPLE000:analyst",
        "principalOrgId": None,
        "userArn": "arn:aws:sts::123456789012:assumed-role/analyst/analyst",
        "userId": "AROAEXAMPLEEXAMPLE000:analyst",
    }
}

EVENTS = [
    http_api_event(method="GET", path="/health"),
    http_api_event(
        method="POST",
        path="/optimize",
        body=json.dumps(OPTIMIZE_REQUEST),
        authorizer=IAM_AUTHORIZER,
    ),
]


@dataclass(frozen=True)
class Built:
    zip_path: Path
    manifest: dict[str, Any]
    task_root: Path
    build_output: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    out = tmp_path_factory.mktemp("dist")
    zip_path = out / "lambda.zip"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--local", "--output", str(zip_path)],
        cwd=tmp_path_factory.getbasetemp(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    task_root = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(task_root)
    manifest = json.loads((out / "lambda.zip.json").read_text())
    return Built(zip_path, manifest, task_root, result.stdout)


@pytest.fixture(scope="module")
def invoked(built: Built, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("driver")
    (work / "driver.py").write_text(DRIVER)
    (work / "events.json").write_text(json.dumps(EVENTS))
    before = sorted(p.relative_to(built.task_root) for p in built.task_root.rglob("*"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "LAMBDA_TASK_ROOT": str(built.task_root),
        "AWS_LAMBDA_FUNCTION_NAME": "battery-arbitrage",
        "AWS_REGION": "us-east-1",
        "PRICE_SOURCE": "synthetic",
    }
    result = subprocess.run(
        # -I: isolated (no PYTHON* variables, no script or user directory on sys.path);
        # -S: no site-packages; -B: Python's own bytecode cache aside, nothing may be written.
        [
            sys.executable,
            "-I",
            "-S",
            "-B",
            str(work / "driver.py"),
            str(built.task_root),
            str(work / "events.json"),
        ],
        cwd=built.task_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    after = sorted(p.relative_to(built.task_root) for p in built.task_root.rglob("*"))
    assert after == before, "the app wrote into its code directory (read-only on Lambda)"
    output: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return output


@pytest.mark.slow
def test_manifest_describes_the_local_target_and_the_size(built: Built) -> None:
    manifest = built.manifest
    assert manifest["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert manifest["architecture"] in {"x86_64", "arm64"}
    assert manifest["zipped_bytes"] == built.zip_path.stat().st_size
    with zipfile.ZipFile(built.zip_path) as zf:
        infos = zf.infolist()
    assert manifest["unzipped_bytes"] == sum(info.file_size for info in infos)
    assert manifest["files"] == len(infos)
    assert manifest["unzipped_bytes"] < 250 * 1024 * 1024
    assert f"unzipped {manifest['unzipped_bytes'] / 2**20:.1f} MiB" in built.build_output


@pytest.mark.slow
def test_zip_has_the_app_and_runtime_deps_but_no_tests_or_dev_deps(built: Built) -> None:
    with zipfile.ZipFile(built.zip_path) as zf:
        names = zf.namelist()
        modes = {(info.external_attr >> 16) & 0o777 for info in zf.infolist()}
    tops = {name.split("/")[0] for name in names}
    assert {"app.py", "blueprints", "schemas", "optimizer", "prices"} <= tops
    assert {"flask", "apig_wsgi", "marshmallow", "apispec", "requests", "numpy", "scipy"} <= tops
    assert "highspy" in tops  # the sign search's master LPs (optimizer/chain_cap.py)
    # Dev dependencies and the runtime-provided boto3 are not packaged; nor are our tests.
    for absent in (
        "tests",
        "pytest",
        "boto3",
        "botocore",
        "moto",
        "hypothesis",
        "bench",
        "scripts",
        "terraform",
        "responses",
        "hcl2",
    ):
        assert absent not in tops, absent
    parts = {part for name in names for part in name.split("/")[:-1]}
    assert "tests" not in parts
    assert not [name for name in names if name.endswith(".pyi")]
    # Kept because scipy imports them: numpy.testing, numpy.f2py, the bundled OpenBLAS.
    assert "numpy/testing/__init__.py" in names
    assert "numpy/f2py/__init__.py" in names
    assert any(name.startswith("scipy.libs/") or name.startswith("numpy.libs/") for name in names)
    # Lambda runs the code as a non-root user: every file world-readable.
    assert modes == {0o644}


@pytest.mark.slow
def test_every_module_is_precompiled_for_the_target_python(built: Built) -> None:
    # Built with this interpreter's version, so the build precompiles with it.
    tag = sys.implementation.cache_tag
    assert built.manifest["precompiled_with"] == built.manifest["python_version"]
    with zipfile.ZipFile(built.zip_path) as zf:
        names = set(zf.namelist())
    sources = {name for name in names if name.endswith(".py")}
    expected = {importlib.util.cache_from_source(name) for name in sources}
    compiled = {name for name in names if name.endswith(".pyc")}
    assert "app.py" in sources
    assert f"__pycache__/app.{tag}.pyc" in compiled
    assert sorted(expected - compiled) == []
    assert sorted(compiled - expected) == []


@pytest.mark.slow
def test_everything_is_imported_from_the_package_only(
    invoked: dict[str, Any], built: Built
) -> None:
    root = str(built.task_root.resolve())
    outside = {
        name: origin
        for name, origin in invoked["origins"].items()
        if not str(Path(origin).resolve()).startswith(root + os.sep)
    }
    assert outside == {}
    assert invoked["boto3_importable"] is False
    assert invoked["boto3_loaded"] is False


@pytest.mark.slow
def test_health_through_the_packaged_handler(invoked: dict[str, Any]) -> None:
    # the app encodes compact JSON (orjson)
    body = json.dumps({"status": "ok", "price_source": "synthetic"}, separators=(",", ":"))
    assert invoked["responses"][0] == {
        "statusCode": 200,
        "cookies": [],
        "headers": {
            "content-type": "application/json",
            "content-length": str(len(body.encode())),
            "x-request-id": REQUEST_ID,
        },
        "isBase64Encoded": False,
        "body": body,
    }


def _without_runtimes(body: dict[str, Any]) -> dict[str, Any]:
    rows = body.get("comparison") or []
    return {**body, "comparison": [{k: v for k, v in r.items() if k != "runtime_ms"} for r in rows]}


@pytest.mark.slow
def test_optimize_through_the_packaged_handler(invoked: dict[str, Any]) -> None:
    response = invoked["responses"][1]
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["content-type"] == "application/json"
    assert response["headers"]["x-request-id"] == REQUEST_ID
    assert response["isBase64Encoded"] is False
    body = json.loads(response["body"])
    assert body["strategy"] == "optimal"
    assert body["market"]["source"] == "synthetic"
    assert body["market"]["zone"] == "APATZINGAN"
    days = body["daily_schedules"]
    assert [day["date"] for day in days] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert all(len(day["schedule"]) == 24 for day in days)
    assert body["summary"]["total_revenue"] == pytest.approx(
        sum(day["revenue"] for day in days), rel=1e-9, abs=1e-6
    )
    assert body["summary"]["total_revenue"] > 0


@pytest.mark.slow
def test_packaged_answer_equals_the_source_trees(invoked: dict[str, Any]) -> None:
    """The same events through the repository's own app give the same answers."""

    @dataclass
    class Context:
        aws_request_id: str = REQUEST_ID

    handler = make_lambda_handler(create_app({"PRICE_SETTINGS": PriceSettings()}))
    for event, packaged in zip(EVENTS, invoked["responses"], strict=True):
        local = handler(event, Context())
        assert local["statusCode"] == packaged["statusCode"]
        assert _without_runtimes(json.loads(local["body"])) == _without_runtimes(
            json.loads(packaged["body"])
        )
        drop = {"content-length"}
        assert {k: v for k, v in local["headers"].items() if k not in drop} == {
            k: v for k, v in packaged["headers"].items() if k not in drop
        }


# --- the Lambda target's build command and the size limit, without downloading ---------------


def _script() -> Any:
    """scripts/package_lambda.py as a module (registered: its dataclasses need that)."""
    if "package_lambda" not in sys.modules:
        spec = importlib.util.spec_from_file_location("package_lambda", SCRIPT)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["package_lambda"] = module
        spec.loader.exec_module(module)
    return sys.modules["package_lambda"]


@pytest.mark.parametrize(
    ("arch", "machine"), [("arm64", "aarch64"), ("x86_64", "x86_64")], ids=["arm64", "x86_64"]
)
def test_lambda_target_asks_pip_for_manylinux_wheels_of_python_313(
    arch: str, machine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _script()
    commands: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        commands.append(command)
        return subprocess.CompletedProcess(command, returncode=1)  # stop after pip

    monkeypatch.setattr(script.subprocess, "run", fake_run)
    monkeypatch.setattr(script, "find_compiler", lambda version: None)
    out = tmp_path / "lambda.zip"
    assert script.main(["--arch", arch, "--output", str(out)]) == 1
    (pip,) = commands
    assert pip[1:4] == ["-m", "pip", "install"]
    flags = " ".join(pip)
    assert (
        f"--platform manylinux_2_28_{machine} --platform manylinux2014_{machine} "
        "--only-binary=:all: --require-hashes --python-version 3.13 --implementation cp -r "
        f"{REPO / 'requirements.lock'}"
    ) in flags
    assert "--no-compile" in pip
    assert "--target" in pip
    assert not out.exists()


def test_default_target_is_arm64_python_313() -> None:
    script = _script()
    target = script.lambda_target(architecture="arm64")
    assert (target.architecture, target.python_version) == ("arm64", "3.13")
    with pytest.raises(SystemExit):
        script.main(["--arch", "ppc64le"])


def test_a_package_over_250_mb_fails_and_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    out = tmp_path / "lambda.zip"

    def fake_build(target: Any, *, output: Path, **kwargs: Any) -> Any:
        output.write_bytes(b"zip")
        output.with_name(output.name + ".json").write_text("{}")
        return script.Manifest(
            architecture=target.architecture,
            python_version=target.python_version,
            platforms=list(target.platforms),
            zipped_bytes=3,
            unzipped_bytes=script.MAX_UNZIPPED_BYTES,
            files=1,
            requirements_sha256="0" * 64,
            precompiled_with=None,
        )

    monkeypatch.setattr(script, "build", fake_build)
    monkeypatch.setattr(script, "find_compiler", lambda version: None)
    assert script.main(["--output", str(out)]) == 1
    assert "exceeds Lambda's 250 MB limit" in capsys.readouterr().err
    assert not out.exists()
    assert not out.with_name("lambda.zip.json").exists()


# --- requirements.lock: every runtime package pinned, with hashes ----------------------------


def _lock_entries() -> dict[str, tuple[str, list[str]]]:
    """requirements.lock as {normalised name: (version, sha256 hashes)}; fails on any entry
    that is not ``name==version`` followed by hashes."""
    text = LOCK.read_text(encoding="utf-8")
    entries: dict[str, tuple[str, list[str]]] = {}
    # One entry per requirement: its first line and its backslash-continued --hash lines.
    for block in re.split(r"\n(?=\S)", text):
        lines = [line.strip() for line in block.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
        if not lines:
            continue
        requirement = Requirement(lines[0].rstrip(" \\"))
        (spec,) = requirement.specifier
        assert spec.operator == "==", lines[0]
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", " ".join(lines[1:]))
        assert len(hashes) == len(lines) - 1, block
        name = canonicalize_name(requirement.name)
        assert name not in entries, name
        entries[name] = (spec.version, hashes)
    return entries


def _pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", line
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _runtime_closure(roots: set[str]) -> set[str]:
    """The installed distributions ``roots`` need, transitively (this interpreter's markers)."""
    needed, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return needed


def test_every_locked_package_is_pinned_with_hashes() -> None:
    entries = _lock_entries()
    assert len(entries) >= len(_pins(REQUIREMENTS))
    assert {name: len(hashes) > 0 for name, (_, hashes) in entries.items()} == dict.fromkeys(
        entries, True
    )
    # the ones that used to float are held too
    floating = {"blinker", "certifi", "charset-normalizer", "click", "idna", "itsdangerous"}
    assert floating | {"jinja2", "markupsafe"} <= set(entries)


def test_the_lock_pins_requirements_txt_and_nothing_it_does_not_need() -> None:
    entries = _lock_entries()
    direct = _pins(REQUIREMENTS)
    assert {name: entries[name][0] for name in direct if name in entries} == direct
    # every runtime package, transitive ones included, is locked at the version installed here
    closure = _runtime_closure(set(direct))
    assert set(entries) == closure
    installed = {name: importlib.metadata.version(name) for name in closure}
    assert {name: version for name, (version, _) in entries.items()} == installed


def test_pyproject_declares_the_runtime_set_of_requirements_txt() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        declared[canonicalize_name(requirement.name)] = spec.version
    assert declared == _pins(REQUIREMENTS)


def test_make_lock_regenerates_the_lock_with_hashes() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^lock:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert rule is not None
    recipe = rule.group(1).replace("\\\n", " ")
    assert "uv pip compile requirements.txt --output-file requirements.lock" in recipe
    assert "--generate-hashes" in recipe
    assert "--universal" in recipe
    assert LOCK.read_text(encoding="utf-8").startswith(
        "# This file was autogenerated by uv via the following command:\n#    make lock\n"
    )


def test_a_lock_that_misses_a_requirement_stops_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = _script()
    script.check_lock(LOCK)  # the committed one matches
    stale = tmp_path / "requirements.lock"
    text = LOCK.read_text(encoding="utf-8")
    stale.write_text(text.replace("\nscipy==", "\nscipy==0.0.1 \\\n    # was scipy=="), "utf-8")
    with pytest.raises(script.PackageError, match=r"scipy==1\.17\.1.*run make lock"):
        script.check_lock(stale)
