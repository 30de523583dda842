from __future__ import annotations

import platform

from blueprints.memory import tune_malloc


def test_tune_malloc_takes_on_glibc_and_is_a_no_op_elsewhere() -> None:
    assert tune_malloc() is (platform.libc_ver()[0] == "glibc")
