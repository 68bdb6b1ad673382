"""Bad input makes site.yml fail in its first play, naming the variable.

Each case runs the whole site.yml in check mode against this machine: a
check that came after the first change would show up as changed > 0.
"""
import subprocess

import pytest
import yaml

from helpers import ROOT, one_line, recap, run_playbook

SUPPORT = yaml.safe_load((ROOT / "roles/airflow/vars/main.yml").read_text())["__airflow_python_support"]
HOST_PYTHON = subprocess.run(
    ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    capture_output=True, text=True, check=True,
).stdout.strip()


def _key(version):
    return tuple(int(part) for part in version.split("."))


def _supports(minor, python):
    return _key(SUPPORT[minor]["min"]) <= _key(python) <= _key(SUPPORT[minor]["max"])


# An Airflow release that runs on this machine's Python, and one that does not.
GOOD_VERSION = next(f"{m}.0" for m in SUPPORT if _supports(m, HOST_PYTHON))
BAD_VERSION = next(f"{m}.0" for m in SUPPORT if not _supports(m, HOST_PYTHON))


def run_site(extra_vars, *args):
    return run_playbook("site.yml", ROOT / "tests/preflight-inventory.yml",
                        {"airflow_version": GOOD_VERSION, **extra_vars}, "--check", *args, timeout=300)


def test_good_input_passes_the_checks():
    result = run_site({}, "--tags", "preflight")
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout, "preflight")["failed"] == 0


BAD_INPUTS = [
    ({"airflow_version": "2.5"}, "airflow_version must be X.Y.Z"),
    ({"airflow_version": "latest"}, "airflow_version must be X.Y.Z"),
    ({"airflow_version": "1.10.15"}, "airflow_version must be X.Y.Z for a release from"),
    ({"airflow_version": BAD_VERSION}, f"but airflow_python (/usr/bin/python3) on preflight is Python {HOST_PYTHON}"),
    ({"airflow_admin_password": ""}, "airflow_admin_username and airflow_admin_password must not be empty"),
    ({"airflow_extras": ["celery", "post gres"]}, "airflow_extras: not a valid extra name: post gres"),
    ({"airflow_extras": "celery,amazon"}, "airflow_extras"),
    ({"airflow_executor": "CeleryExecutorr"}, "airflow_executor"),
    ({"airflow_constraints_file": "/nonexistent/constraints.txt"}, "airflow_constraints_file: no such file on the controller"),
    ({"base_ca_certificates": ["/nonexistent/ca.pem"]}, "base_ca_certificates: no such file on the controller: /nonexistent/ca.pem"),
    ({"postgresql_db_password": "short"}, "postgresql_db_password must be at least 12 characters"),
    ({"airflow_dags_repo_subdir": "../elsewhere"}, "airflow_dags_repo_subdir must be a relative"),
    ({"airflow_service_health_timeout": "soon"}, "airflow_service_health_timeout"),
]


@pytest.mark.parametrize("extra_vars, message", BAD_INPUTS, ids=[str(v) for v, _ in BAD_INPUTS])
def test_bad_input_fails_before_any_change(extra_vars, message):
    result = run_site(extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in one_line(output), output
    counts = recap(result.stdout, "preflight")
    assert counts["failed"] == 1 and counts["changed"] == 0, counts
    # The failure is in the first play: no task of the configuring play ran.
    assert "PLAY [Configure Airflow" not in result.stdout or "TASK [base :" not in result.stdout.split("PLAY [Configure Airflow")[1]
