"""Bad input makes site.yml fail in its first play, naming the variable.

Each case runs the whole site.yml in check mode against this machine: a
check that came after the first change would show up as changed > 0.
"""
import re
import shutil
import subprocess

import pytest
import yaml

from helpers import BIN, ROOT, one_line, recap, run_playbook

RELEASES = yaml.safe_load((ROOT / "roles/airflow/vars/main.yml").read_text())["__airflow_releases"]
SUPPORT = {minor: row["python"] for minor, row in RELEASES.items() if minor.count(".") == 1}
HOST_PYTHON = subprocess.run(
    ["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
    capture_output=True, text=True, check=True,
).stdout.strip()


def _key(version):
    return tuple(int(part) for part in version.split("."))


def _supports(minor, python):
    return _key(SUPPORT[minor][0]) <= _key(python) <= _key(SUPPORT[minor][1])


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


# `-e name=value` gives every value as a string: the checks read them as numbers.
NUMBERS_AS_STRINGS = ["airflow_keep_versions=2", "airflow_worker_concurrency=8", "airflow_worker_stop_timeout=600",
                      "airflow_backup_keep_days=7", "airflow_tls_enabled=true", "airflow_tls_port=8443",
                      "airflow_tls_http_port=8081"]


def test_numbers_given_as_name_value_pairs_pass_the_checks():
    result = run_site({}, "--tags", "preflight", *(arg for pair in NUMBERS_AS_STRINGS for arg in ("-e", pair)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert recap(result.stdout, "preflight")["failed"] == 0


@pytest.mark.parametrize("pairs, message", [
    (["airflow_keep_versions=0"], "airflow_keep_versions must be 1 or more (the active release counts); got 0."),
    # Text "80" against the default number 80.
    (["airflow_tls_enabled=true", "airflow_tls_port=80"], "airflow_tls_port and airflow_tls_http_port must differ; both are 80."),
], ids=["keep_versions", "tls_ports"])
def test_a_number_given_as_a_name_value_pair_is_checked_as_a_number(pairs, message):
    result = run_site({}, "--tags", "preflight", *(arg for pair in pairs for arg in ("-e", pair)))
    assert result.returncode != 0
    assert message in one_line(result.stdout)


BAD_INPUTS = [
    ({"airflow_version": "2.5"}, "airflow_version must be X.Y.Z"),
    ({"airflow_version": "latest"}, "airflow_version must be X.Y.Z"),
    ({"airflow_version": "1.10.15"}, "airflow_version must be X.Y.Z for a release from 2.5, 2.6, 2.7, 2.8, 2.9, 2.10, 2.11, 3.0"),
    ({"airflow_version": "2.4.3"}, "airflow_version must be X.Y.Z for a release from"),
    ({"airflow_version": "3.4.0"}, "airflow_version must be X.Y.Z for a release from"),
    ({"airflow_version": BAD_VERSION}, f"but airflow_python (/usr/bin/python3) on preflight is Python {HOST_PYTHON}"),
    ({"airflow_version": "2.5.1"}, f"airflow_version 2.5.1 supports Python 3.7 to 3.10, but airflow_python (/usr/bin/python3) on preflight is Python {HOST_PYTHON}. Ways out:"),
    ({"airflow_admin_password": ""}, "airflow_admin_username and airflow_admin_password must not be empty"),
    ({"airflow_extras": ["celery", "post gres"]}, "airflow_extras: not a valid extra name: post gres"),
    ({"airflow_extras": "celery,amazon"}, "airflow_extras"),
    ({"airflow_executor": "CeleryExecutorr"}, "airflow_executor"),
    ({"airflow_constraints_file": "/nonexistent/constraints.txt"}, "airflow_constraints_file: no such file on the controller"),
    ({"base_ca_certificates": ["/nonexistent/ca.pem"]}, "base_ca_certificates: no such file on the controller: /nonexistent/ca.pem"),
    ({"airflow_db_password": "short"}, "postgresql_db_password (airflow_db_password in site.yml) must be at least 12 characters"),
    ({"airflow_dags_repo_subdir": "../elsewhere"}, "airflow_dags_repo_subdir must be a relative"),
    ({"airflow_service_health_timeout": "soon"}, "airflow_service_health_timeout"),
    ({"airflow_webserver_port": "abc"}, "airflow role: argument 'airflow_webserver_port' is of type str"),
    ({"base_apt_cache_valid_time": "hourly"}, "base role: argument 'base_apt_cache_valid_time' is of type str"),
    ({"airflow_keep_versions": 0}, "airflow_keep_versions must be 1 or more (the active release counts); got 0"),
    # Every wrong input of a role in one failure.
    ({"airflow_admin_password": "", "airflow_keep_versions": 0},
     "airflow_admin_username and airflow_admin_password must not be empty. airflow_keep_versions must be 1 or more"),
    ({"airflow_backup_keep_days": 0}, "airflow_backup_keep_days must be 1 or more; got 0"),
    ({"airflow_backup_enabled": "maybe"}, "airflow_backup role: argument 'airflow_backup_enabled' is of type str"),
    ({"airflow_installer": "conda"}, "airflow role: value of airflow_installer must be one of: uv, pip, got: conda"),
    ({"airflow_log_retention_days": -1}, "airflow_log_retention_days must be 0 (keep everything) or a number of days; got -1"),
    ({"airflow_db_retention_days": "quarterly"}, "airflow role: argument 'airflow_db_retention_days' is of type str"),
    ({"airflow_tls_enabled": True, "airflow_tls_certificate": "/etc/hostname"},
     "airflow_tls_certificate and airflow_tls_private_key go together; set both (files on the controller) or neither."),
    ({"airflow_tls_enabled": True, "airflow_tls_certificate": "/nonexistent.crt", "airflow_tls_private_key": "/etc/hostname"},
     "airflow_tls_certificate: no such file on the controller: /nonexistent.crt"),
    ({"airflow_tls_port": 80}, "airflow_tls_port and airflow_tls_http_port must differ; both are 80."),
]


@pytest.mark.parametrize("extra_vars, message", BAD_INPUTS, ids=[str(v) for v, _ in BAD_INPUTS])
def test_bad_input_fails_before_any_change(extra_vars, message):
    result = run_site(extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in one_line(output), output
    # One readable message, not the whole argument specification.
    assert "argument_spec_data" not in output
    counts = recap(result.stdout, "preflight")
    assert counts["failed"] == 1 and counts["changed"] == 0, counts
    # The failure is in the first play: no task of the configuring play ran.
    assert "PLAY [Configure Airflow" not in result.stdout or "TASK [base :" not in result.stdout.split("PLAY [Configure Airflow")[1]


def test_an_empty_airflow_group_fails_saying_so(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    airflow:\n      hosts: {}\n")
    result = run_playbook("site.yml", inventory, {}, "--check", timeout=300)
    assert result.returncode != 0, result.stdout + result.stderr
    assert f"The group airflow has no hosts in the inventory given ({inventory})" in one_line(result.stdout), result.stdout
    assert "PLAY [Configure Airflow" not in result.stdout


def test_an_inventory_outside_the_project_gets_the_defaults(tmp_path):
    """No group_vars beside it: the roles' own defaults generate the passwords beside the inventory."""
    inventory = tmp_path / "elsewhere/hosts.yml"
    inventory.parent.mkdir()
    inventory.write_text("airflow:\n  hosts:\n    preflight:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n")
    result = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check", "--tags", "preflight",
                          timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    credentials = tmp_path / "elsewhere/credentials/preflight"
    assert len((credentials / "airflow_db_password").read_text().strip()) == 32
    assert len((credentials / "airflow_admin_password").read_text().strip()) == 20


def test_passwords_from_the_sample_vault_replace_the_generated_ones(tmp_path):
    """The README's vault path: examples/vault.yml in group_vars, the example inventory's lines that read it."""
    group_vars = tmp_path / "group_vars/airflow"
    group_vars.mkdir(parents=True)
    shutil.copy(ROOT / "examples/vault.yml", group_vars / "vault.yml")
    example = (ROOT / "inventory/example/group_vars/airflow.yml").read_text()
    reads = [line[2:] for line in example.splitlines() if re.match(r'# airflow_\w+_password: "{{ vault_', line)]
    assert len(reads) == 2, example
    (group_vars / "vars.yml").write_text("\n".join(["---", *reads, ""]))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("airflow:\n  hosts:\n    preflight:\n      ansible_connection: local\n"
                         "      ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n")
    password_file = tmp_path / "vault-password"
    password_file.write_text("airflow-example\n")

    locked = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check", "--tags", "preflight",
                          timeout=300)
    assert locked.returncode != 0
    assert "no vault secrets" in one_line(locked.stdout + locked.stderr), locked.stdout + locked.stderr

    result = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check", "--tags", "preflight",
                          "--vault-password-file", str(password_file), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # Nothing generated: the vault's passwords were used.
    assert not (tmp_path / "credentials").exists(), list((tmp_path / "credentials").rglob("*"))
    shown = subprocess.run([str(BIN / "ansible"), "-i", str(inventory), "preflight", "-m", "debug",
                            "-a", "var=airflow_db_password", "--vault-password-file", str(password_file)],
                           capture_output=True, text=True, cwd=ROOT)
    assert "SampleDbPassw0rdFromTheVault2345" in shown.stdout, shown.stdout + shown.stderr


def test_secrets_move_once_to_the_hosts_credentials_name(tmp_path):
    """Secrets filed under the inventory name (an EC2 DNS name) move under airflow_credentials_name, kept."""
    inventory = tmp_path / "hosts.yml"
    host = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            "airflow_credentials_name": "i-0123456789abcdef0"}
    inventory.write_text(yaml.safe_dump({"airflow": {"hosts": {"ec2-198-51-100-7.example": host}}}))
    old = tmp_path / "credentials/ec2-198-51-100-7.example"
    old.mkdir(parents=True)
    (old / "airflow_db_password").write_text("kept-db-password\n")
    for run in range(2):
        result = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check",
                              "--tags", "preflight", timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert [p.name for p in (tmp_path / "credentials").iterdir()] == ["i-0123456789abcdef0"]
        moved = tmp_path / "credentials/i-0123456789abcdef0"
        assert (moved / "airflow_db_password").read_text() == "kept-db-password\n"
        assert len((moved / "airflow_admin_password").read_text().strip()) == 20


@pytest.fixture(scope="module")
def debian11_host(tmp_path_factory):
    """A Debian 11 container (Python 3.9), reached through Docker: an inventory for it."""
    image = subprocess.run([str(ROOT / "images/build.sh"), "bullseye"], capture_output=True, text=True,
                           check=True).stdout.strip()
    name = "airflow-preflight-debian11"
    subprocess.run(["docker", "rm", "--force", name], capture_output=True)
    subprocess.run(["docker", "run", "--detach", "--name", name, image, "sleep", "infinity"], check=True,
                   capture_output=True)
    inventory = tmp_path_factory.mktemp("debian11") / "hosts.yml"
    inventory.write_text(f"airflow:\n  hosts:\n    {name}:\n      ansible_connection: community.docker.docker\n")
    yield inventory
    subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def test_airflow_3_on_a_python_too_old_fails_in_the_first_play(debian11_host):
    result = run_playbook("site.yml", debian11_host, {"airflow_version": "3.3.2"}, "--check", timeout=300)
    output = one_line(result.stdout + result.stderr)
    assert result.returncode != 0, output
    assert ("airflow_version 3.3.2 supports Python 3.10 to 3.14, but airflow_python (/usr/bin/python3) on "
            "airflow-preflight-debian11 is Python 3.9. Ways out:") in output, output
    assert "airflow_python pointing at a Python 3.10-3.14 you installed" in output
    counts = recap(result.stdout, "airflow-preflight-debian11")
    assert counts["failed"] == 1 and counts["changed"] == 0, counts


@pytest.mark.parametrize("extra_vars, message", [
    ({}, "airflow_restore_file: name the backup's .pgc file"),
    ({"airflow_restore_file": ""}, "airflow_restore_file: name the backup's .pgc file"),
], ids=["missing", "empty"])
def test_restore_without_a_backup_fails_on_the_controller(extra_vars, message):
    result = run_playbook("restore.yml", ROOT / "tests/preflight-inventory.yml", extra_vars, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in one_line(output), output
    assert "PLAY [Restore Airflow" not in result.stdout, output


def cluster_inventory(path, groups, host_vars=None):
    """An inventory of local hosts in the given child groups of airflow ({group: [host, ...]})."""
    hosts = sorted({host for members in groups.values() for host in members})
    local = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    airflow = {"hosts": {host: {**local, **(host_vars or {}).get(host, {})} for host in hosts},
               "children": {group: {"hosts": {host: {} for host in members}}
                            for group, members in groups.items() if group != "outside"}}
    inventory = {"airflow": airflow}
    if "outside" in groups:
        # The child groups at the top level, one host in airflow_worker only.
        del airflow["children"]
        for host in groups["outside"]:
            del airflow["hosts"][host]
        for group, members in groups.items():
            inventory.setdefault(group if group != "outside" else "airflow_worker", {"hosts": {}})
            inventory[group if group != "outside" else "airflow_worker"]["hosts"].update(
                {host: local for host in members})
    path.write_text(yaml.safe_dump(inventory))
    return path


CLUSTER = {"airflow_database": ["db"], "airflow_broker": ["db"], "airflow_scheduler": ["main"],
           "airflow_webserver": ["main"], "airflow_worker": ["worker1", "worker2"]}

BAD_CLUSTERS = [
    ({**CLUSTER, "airflow_broker": []}, {}, "airflow_worker has hosts, so airflow_broker needs exactly one host"),
    ({**CLUSTER, "airflow_database": ["db", "main"]}, {}, "airflow_database needs exactly one host"),
    ({**CLUSTER, "airflow_webserver": []}, {}, "airflow_webserver needs a host"),
    ({**CLUSTER, "outside": ["worker3"]}, {}, "these hosts are in a child group but not in airflow: worker3"),
    (CLUSTER, {"worker1": {"airflow_worker_queues": ["default", "big one"]}}, "airflow_worker_queues a non-empty list"),
    (CLUSTER, {"worker2": {"airflow_worker_concurrency": 0}}, "airflow_worker_concurrency must be 1 or more (got 0)"),
    (CLUSTER, {"main": {"airflow_components": ["scheduler", "web"]}}, "airflow_components on main: web is not one of"),
    ({"airflow_single": ["single"]}, {"single": {"airflow_executor": "CeleryExecutor"}},
     "CeleryExecutor needs hosts in the group airflow_worker and one in airflow_broker"),
    (CLUSTER, {"worker1": {"airflow_executor": "LocalExecutor"}}, "hosts in airflow_worker need CeleryExecutor"),
    ({**CLUSTER, "other": ["stray"]}, {}, "these hosts are in airflow but in no child group: stray"),
]


@pytest.mark.parametrize("groups, host_vars, message", BAD_CLUSTERS, ids=[m for _, _, m in BAD_CLUSTERS])
def test_a_cluster_that_cannot_work_fails_in_the_first_play(tmp_path, groups, host_vars, message):
    groups = {g: h for g, h in groups.items() if g != "airflow_single"} or {}
    if not groups:  # one host, in no child group
        inventory = tmp_path / "hosts.yml"
        single = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                  **host_vars["single"]}
        inventory.write_text(yaml.safe_dump({"airflow": {"hosts": {"single": single}}}))
    else:
        inventory = cluster_inventory(tmp_path / "hosts.yml", groups, host_vars)
    result = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check", timeout=300)
    output = one_line(result.stdout + result.stderr)
    assert result.returncode != 0, output
    assert message in output, output
    assert "PLAY [Configure Airflow" not in result.stdout, output


def test_a_cluster_shares_one_set_of_secrets_named_for_its_database_host(tmp_path):
    inventory = cluster_inventory(tmp_path / "hosts.yml", CLUSTER)
    result = run_playbook("site.yml", inventory, {"airflow_version": GOOD_VERSION}, "--check", "--tags", "preflight",
                          timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "credentials").iterdir()] == ["db"]
    shared = sorted(p.name for p in (tmp_path / "credentials/db").iterdir())
    assert shared == ["airflow_admin_password", "airflow_broker_password", "airflow_db_password",
                      "airflow_fernet_key_seed", "airflow_jwt_secret", "airflow_webserver_secret_key"], shared
