"""Create or refresh ``.venv-checkov``: checkov in its own virtual environment.

    python scripts/checkov_venv.py        # prints the checkov executable's path

checkov pins dependencies that clash with the project's, so it never goes into ``.venv``. The
environment is rebuilt only when ``scripts/requirements-checkov.txt`` changed since it was
built (a stamp file inside the environment records what it was built from). Needs the
package registry the first time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".venv-checkov"
REQUIREMENTS = REPO / "scripts" / "requirements-checkov.txt"
STAMP = VENV / "requirements-checkov.txt"
CHECKOV = VENV / "bin" / "checkov"


def is_current() -> bool:
    return CHECKOV.exists() and STAMP.exists() and STAMP.read_bytes() == REQUIREMENTS.read_bytes()


def ensure() -> Path:
    """The checkov executable, (re)building the environment when needed."""
    if is_current():
        return CHECKOV
    if VENV.exists():
        shutil.rmtree(VENV)
    venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    python = VENV / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(REQUIREMENTS),
        ],
        check=True,
    )
    shutil.copyfile(REQUIREMENTS, STAMP)
    return CHECKOV


def main() -> int:
    try:
        print(ensure())
    except subprocess.CalledProcessError as exc:
        print(f"error: installing checkov failed ({exc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
