"""bench/bench.py reads the roles' tables; these checks fail when a role's layout drifts from what it reads."""
import importlib.util
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from helpers import ROOT

spec = importlib.util.spec_from_file_location("bench", ROOT / "bench" / "bench.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

VERSIONS = sorted(re.match(r"constraints-(.+)-[0-9.]+\.txt", path.name).group(1)
                  for path in (ROOT / "examples").glob("constraints-*.txt"))


@pytest.mark.parametrize("version", VERSIONS)
def test_every_example_constraints_file_is_a_target(version):
    target = bench.Target(version)
    assert target.major in ("2", "3")
    assert target.db_command in ("upgrade", "migrate")
    assert target.health_path.startswith("/")
    assert f"{target.suite}) tag=debian{target.debian}" in (ROOT / "images/build.sh").read_text()


def test_floor_inputs_come_from_the_roles():
    packages = bench.load("roles/postgresql/vars/main.yml")["__postgresql_packages"]
    assert packages and all(isinstance(package, str) for package in packages)
    assert bench.load("roles/base/defaults/main.yml")["base_packages"]
    assert bench.AIRFLOW_DEFAULTS["airflow_uv_package"].startswith("uv")
    for debian in ("11", "12"):
        assert bench.load(f"roles/postgresql/vars/Debian-{debian}.yml")["__postgresql_version"]


def test_report_shows_ratio_failures_and_skips():
    targets = [bench.Target("2.5.1"), bench.Target("3.3.2")]
    rows = {"2.5.1": {"floor": 100.0, "boot": 3.0, "phases": {"install": 60.0}, "cold": (130.0, 40),
                      "rerun": (12.0, 0), "change": (20.0, 2), "pss": {"airflow-scheduler": 200.0},
                      "fanout": ("success", 90.0, 1500.0, 0)},
            "3.3.2": {"floor": 120.0, "boot": 3.0, "cold": "failed"}}
    opts = SimpleNamespace(ssh=False, installer="uv", load=0.5)
    text = bench.report(targets, rows, {}, opts)
    assert "| 2.5.1 | 100 | 130 | 1.30 | 12 (0) | 20 (2) | 200 | 1500 | 0 | success in 90 s |" in text
    assert "| 3.3.2 | 120 | failed | — | skipped |" in text


def test_only_failures_make_the_run_fail():
    targets = [bench.Target("2.5.1"), bench.Target("3.3.2")]
    slow_but_right = {"floor": 10.0, "cold": (900.0, 40), "rerun": (300.0, 0), "change": (300.0, 2),
                      "fanout": ("success", 590.0, 1900.0, 0)}
    assert bench.problems(targets, {"2.5.1": slow_but_right}, {"2.5.1": {"rerun": (90.0, 0)}}) == []
    rows = {"2.5.1": {**slow_but_right, "rerun": (30.0, 3), "fanout": ("success", 90.0, 2000.0, 2)},
            "3.3.2": {"floor": 120.0, "cold": "failed", "fanout": None}}
    assert bench.problems(targets, rows, {"3.3.2": {"rerun": (20.0, 1)}}) == [
        "2.5.1: the re-run reported changed=3, not 0",
        "2.5.1: 2 OOM kills during the fan-out",
        "3.3.2: cold failed",
        "3.3.2 over SSH: the re-run reported changed=1, not 0",
    ]
    assert bench.problems(targets[:1], {"2.5.1": {"fanout": ("failed", 90.0, 900.0, 0)}}, {}) == [
        "2.5.1: the bench_fanout run ended failed"]


def test_help_names_the_options():
    result = subprocess.run([sys.executable, str(ROOT / "bench/bench.py"), "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--versions", "--ssh", "--keep", "--installer"):
        assert option in result.stdout
