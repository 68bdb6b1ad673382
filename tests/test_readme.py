"""Every command in the README's sh blocks, run as written.

Commands for this checkout's local host (make up, make down, ...) run in the
checkout. The ones for AWS and your own hosts run in a copy of it whose
inventory names the test bed's inputs (a local DAG repository and the
stand-in constraints file), as a user's inventory would, with the local EC2
API in AWS_ENDPOINT_URL and an SSH configuration that sends every host name
to a container playing the instance.
"""
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from helpers import ROOT, one_line, recap

README = (ROOT / "README.md").read_text()


def readme_commands():
    """The commands of the README's sh blocks, continuation lines joined."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```$", README, re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            line = " ".join(line.split())
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


COMMANDS = readme_commands()
RUN_BY_TESTS = set()


def readme(command):
    """COMMAND, which the README must show as written; the tests run it."""
    assert command in COMMANDS, f"the README no longer shows: {command}"
    RUN_BY_TESTS.add(command)
    return command


# The README's commands, in its order; each test below runs some of them.
MAKE_UP = readme("make up")
MAKE_UP_PORT = readme("make up PORT=8081")
UNPAUSE = readme("docker exec airflow-local sudo -iu airflow airflow dags unpause dag_v1")
TRIGGER = readme("docker exec airflow-local sudo -iu airflow airflow dags trigger dag_v1")
LIST_RUNS = readme("docker exec airflow-local sudo -iu airflow airflow dags list-runs -d dag_v1")
RERUN_LOCAL = readme(".venv/bin/ansible-playbook -i inventory/local.yml playbooks/local.yml -e airflow_webserver_workers=3")
MAKE_DOWN = readme("make down")
MAKE_CLEAN = readme("make clean")
OWN_HOSTS = readme(".venv/bin/ansible-playbook -i inventory/example/hosts.yml playbooks/site.yml")
MAKE_VENV = readme("make venv")
AWS_DEPLOY = readme(".venv/bin/ansible-playbook -i inventory/aws_ec2.yml playbooks/deploy.yml "
                    "-e aws_admin_cidr=203.0.113.10/32 -e aws_public_key_file=$HOME/.ssh/id_ed25519.pub")
AWS_GRAPH = readme(".venv/bin/ansible-inventory -i inventory/aws_ec2.yml --graph")
AWS_SITE = readme(".venv/bin/ansible-playbook -i inventory/aws_ec2.yml playbooks/site.yml")
AWS_TEARDOWN = readme(".venv/bin/ansible-playbook -i inventory/aws_ec2.yml playbooks/teardown.yml")
PRE_COMMIT_INSTALL = readme(".venv/bin/pre-commit install")
BACKUP = readme(".venv/bin/ansible-playbook -i inventory/example/hosts.yml playbooks/backup.yml -e backup_fetch_dir=backups")
RESTORE = readme(".venv/bin/ansible-playbook -i inventory/example/hosts.yml playbooks/restore.yml "
                 "-e airflow_restore_file=$(ls -t backups/*/airflow-*.pgc | head -1)")
BENCH = readme('make bench BENCH_ARGS="--versions=2.5.1 --ssh"')


# The warnings the README lists as expected, each a code span in the list
# under "Warnings a run may print".
EXPECTED_WARNINGS = re.findall(
    r"^- `` (.+?) ``$", README.split("Warnings a run may print")[1].split("\n## ")[0], re.M)


def unexpected_warnings(output):
    lines = [line for line in output.splitlines() if re.match(r"\[(DEPRECATION )?WARNING\]", line)]
    return [line for line in lines if not any(line.startswith(expected) for expected in EXPECTED_WARNINGS)]


def sh(command, cwd=ROOT, env=None, timeout=1800):
    """Run COMMAND with bash in CWD, as a user would (nothing inherited from make test)."""
    full_env = {key: value for key, value in os.environ.items()
                if key not in ("ANSIBLE_CONFIG", "MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    full_env.update(ANSIBLE_NOCOLOR="1", **(env or {}))
    result = subprocess.run(["bash", "-c", command], cwd=cwd, env=full_env, capture_output=True,
                            text=True, timeout=timeout)
    result.output = result.stdout + result.stderr
    return result


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def container_exists(name):
    return docker("container", "inspect", name, check=False).returncode == 0


def copy_checkout(dest, venv=True):
    """A copy of this checkout's files (tracked and new, as in the work tree), as a git
    repository, using this checkout's .venv unless VENV is false."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, files):
        source, target = ROOT / name, dest / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the work tree
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    subprocess.run(["git", "init", "--quiet", str(dest)], check=True)
    if venv:
        (dest / ".venv").symlink_to(ROOT / ".venv")
    return dest


# ---------------------------------------------------------------------------
# The local host: make up and what the README does with it.

LOCAL_URL = "http://127.0.0.1:8080"


def read_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def log_in(base_url, username, password):
    """Log in through the UI's form; returns the page the login lands on."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(f"{base_url}/login/", timeout=30) as response:
        form = response.read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
    with opener.open(f"{base_url}/login/", data=data, timeout=30) as response:
        return response.geturl(), response.read().decode()


@pytest.mark.xdist_group("airflow_host")
def test_local_host_commands():
    down = sh(MAKE_DOWN)
    assert down.returncode == 0, down.output
    assert not container_exists("airflow-local")

    # A taken port and a bad input both fail before the container exists.
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 8081))
        holder.listen()
        taken = sh(MAKE_UP_PORT)
    assert taken.returncode != 0, taken.output
    assert "Port 8081 on 127.0.0.1 is in use by another program" in one_line(taken.output), taken.output
    assert not container_exists("airflow-local")

    bad = sh(".venv/bin/ansible-playbook -i inventory/local.yml playbooks/local.yml -e airflow_webserver_port=abc")
    assert bad.returncode != 0, bad.output
    assert "airflow role: argument 'airflow_webserver_port' is of type str" in bad.output, bad.output
    assert "argument_spec_data" not in bad.output  # one readable line, not the whole specification
    assert max(len(line) for line in bad.output.splitlines()) < 600, bad.output
    assert not container_exists("airflow-local")

    up = sh(MAKE_UP)
    assert up.returncode == 0, up.output
    assert unexpected_warnings(up.output) == [], up.output
    assert f"Airflow is healthy at {LOCAL_URL}/" in up.output
    # The ETL examples ran once against the warehouse database.
    assert re.search(r"The ETL examples loaded 24 rows into warehouse.trips \(full refresh\) and [1-9] into "
                     r"warehouse.trips_incremental", one_line(up.output)), up.output
    password_file = ROOT / "inventory/credentials/airflow-local/airflow_admin_password"
    assert f"the password is in {password_file}" in up.output
    health = read_json(f"{LOCAL_URL}/health")
    assert health["metadatabase"]["status"] == "healthy" and health["scheduler"]["status"] == "healthy"
    landed, page = log_in(LOCAL_URL, "admin", password_file.read_text().strip())
    assert "/login" not in landed and "dag_v1" in page, landed
    assert "/login" in log_in(LOCAL_URL, "admin", "not-the-password")[0]

    # The runbook's way in, with nothing printed before the table.
    listed = docker("exec", "airflow-local", "sudo", "-iu", "airflow", "airflow", "dags", "list")
    assert listed.stderr == "", listed.stderr
    assert listed.stdout.startswith("dag_id"), listed.stdout
    assert re.search(r"^dag_v1 .*\| True\s*$", listed.stdout, re.M), listed.stdout  # starts paused

    unpause = sh(UNPAUSE)
    assert unpause.returncode == 0, unpause.output
    trigger = sh(TRIGGER)
    assert trigger.returncode == 0, trigger.output
    list_runs = LIST_RUNS
    deadline = time.monotonic() + 180
    while "| success" not in (runs := sh(list_runs)).stdout and time.monotonic() < deadline:
        assert "| failed" not in runs.stdout, runs.output
        time.sleep(5)
    assert "| success" in runs.stdout, runs.output

    rerun = sh(RERUN_LOCAL)
    assert rerun.returncode == 0, rerun.output
    assert unexpected_warnings(rerun.output) == [], rerun.output
    assert recap(rerun.stdout, "localhost")["changed"] == 0, rerun.stdout
    assert recap(rerun.stdout, "airflow-local")["changed"] > 0  # the new worker count
    assert "[webserver] workers" in rerun.stdout

    first_down = sh("make down")
    assert first_down.returncode == 0 and "Removed the container airflow-local" in first_down.output
    assert not container_exists("airflow-local")
    second_down = sh("make down")
    assert second_down.returncode == 0, second_down.output
    assert second_down.output.strip() == "No container airflow-local: nothing to remove.", second_down.output


def test_make_clean_keeps_the_credentials(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout", venv=False)
    for path in (".venv/bin/python3", ".cache/facts/host", "inventory/credentials/host/airflow_db_password"):
        (checkout / path).parent.mkdir(parents=True, exist_ok=True)
        (checkout / path).write_text("x")
    (checkout / ".venv/.installed").touch()

    clean = sh(MAKE_CLEAN, cwd=checkout)
    assert clean.returncode == 0, clean.output
    assert not (checkout / ".venv").exists() and not (checkout / ".cache").exists()
    assert (checkout / "inventory/credentials/host/airflow_db_password").read_text() == "x"
    assert "Kept inventory/credentials/" in clean.output


# ---------------------------------------------------------------------------
# AWS, through the local EC2 API, and your own hosts.

TEST_BED_VARS = """
# The test bed's inputs: a local DAG repository and the stand-in constraints
# file, both mounted into the host container; the CA bundle of this machine.
airflow_dags_repo: file:///srv/dags-fixture
airflow_constraints_url: file:///srv/constraints/constraints-{{ airflow_version }}-3.9.txt
base_ca_certificates: [/etc/ssl/certs/ca-certificates.crt]
"""


def publish_dags_repo(path):
    shutil.copytree(ROOT / "molecule/resources/dags-v1", path / "dags")
    git = ["git", "-C", str(path), "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    subprocess.run(["git", "init", "--quiet", str(path)], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--message", "dags-v1"], check=True)


@pytest.fixture
def instance(ssh_key, tmp_path):
    """The container that plays the EC2 instance and your own host; yields its address."""
    image = subprocess.run([str(ROOT / "images/build.sh"), "bullseye", "ssh"],
                           capture_output=True, text=True, check=True).stdout.strip()
    _, public_key = ssh_key
    repo = tmp_path / "dags-repo"
    publish_dags_repo(repo)
    docker("rm", "--force", "airflow-instance", check=False)
    docker("run", "--detach", "--name", "airflow-instance", "--hostname", "airflow-instance",
           "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--cgroupns", "host",
           "--tmpfs", "/run", "--tmpfs", "/run/lock", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
           "--volume", f"{public_key}:/home/ubuntu/.ssh/authorized_keys:ro",
           "--volume", f"{repo}:/srv/dags-fixture:ro",
           "--volume", f"{ROOT / 'examples'}:/srv/constraints:ro",
           # The package caches make up and molecule use.
           "--volume", f"{ROOT / '.cache/pip'}:/root/.cache/pip",
           "--volume", f"{ROOT / '.cache/uv'}:/root/.cache/uv",
           "--volume", f"{ROOT / '.cache/apt/bullseye'}:/var/cache/apt/archives",
           image, "/lib/systemd/systemd")
    yield docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", "airflow-instance").stdout.strip()
    docker("rm", "--force", "airflow-instance", check=False)


@pytest.fixture
def user_env(tmp_path, ssh_key, instance, moto_url, aws_env):
    """A user's environment: a home with the SSH key, AWS credentials and region, and an
    SSH configuration that sends every host name to the instance container."""
    # A short path: SSH's control socket under ~/.ansible/cp must fit in a
    # Unix socket's 108 bytes, which pytest's tmp_path (more so with a worker
    # folder) can exceed.
    home = Path(tempfile.mkdtemp(prefix="airflow-home-"))
    (home / ".ssh").mkdir(parents=True)
    private_key, public_key = ssh_key
    shutil.copy(private_key, home / ".ssh/id_ed25519")
    shutil.copy(public_key, home / ".ssh/id_ed25519.pub")
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host *\n  HostName {instance}\n  IdentityFile {home}/.ssh/id_ed25519\n"
                          "  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n")
    yield {**aws_env, "HOME": str(home), "AWS_ENDPOINT_URL": moto_url,
           "ANSIBLE_SSH_ARGS": f"-F {ssh_config} -o ControlMaster=auto -o ControlPersist=60s"}
    shutil.rmtree(home, ignore_errors=True)


def assert_instance_healthy(address):
    health = read_json(f"http://{address}:8080/health")
    assert health["metadatabase"]["status"] == "healthy" and health["scheduler"]["status"] == "healthy"


@pytest.mark.xdist_group("airflow_host")
def test_aws_and_own_hosts_commands(tmp_path, user_env, instance, ec2):
    checkout = copy_checkout(tmp_path / "checkout")
    (checkout / "group_vars/airflow/test_bed.yml").write_text("---" + TEST_BED_VARS)
    with open(checkout / "inventory/example/group_vars/airflow.yml", "a") as example_vars:
        example_vars.write(TEST_BED_VARS)

    venv = sh(MAKE_VENV, cwd=checkout, env=user_env)
    assert venv.returncode == 0, venv.output

    deploy = sh(AWS_DEPLOY,
                cwd=checkout, env=user_env)
    assert deploy.returncode == 0, deploy.output
    assert unexpected_warnings(deploy.output) == [], deploy.output
    [launched] = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
                  if i["State"]["Name"] == "running" and {"Key": "Environment", "Value": "dev"} in i["Tags"]]
    host = launched["PublicDnsName"]
    assert recap(deploy.stdout, host)["failed"] == 0
    [group] = ec2.describe_security_groups(GroupNames=["airflow-dev"])["SecurityGroups"]
    assert {r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]} == {"203.0.113.10/32"}
    assert_instance_healthy(instance)
    assert "Accepted publickey for ubuntu" in docker("exec", "airflow-instance", "journalctl", "--no-pager", "-u", "ssh").stdout
    # Filed under the instance id, which a stop and start keeps, and the
    # re-run below through inventory/aws_ec2.yml finds them there (changed=0).
    assert (checkout / f"inventory/credentials/{launched['InstanceId']}/airflow_admin_password").is_file()
    assert not (checkout / f"inventory/credentials/{host}").exists()

    graph = sh(AWS_GRAPH, cwd=checkout, env=user_env)
    assert graph.returncode == 0, graph.output
    assert host in graph.stdout.split("@airflow:")[1].split("@")[0], graph.stdout
    assert host in graph.stdout.split("@env_dev:")[1].split("@")[0], graph.stdout

    again = sh(AWS_SITE, cwd=checkout, env=user_env)
    assert again.returncode == 0, again.output
    assert recap(again.stdout, host)["changed"] == 0, again.stdout
    assert unexpected_warnings(again.output) == [], again.output

    own = sh(OWN_HOSTS, cwd=checkout, env=user_env)
    assert own.returncode == 0, own.output
    assert recap(own.stdout, "airflow.example.com")["failed"] == 0
    assert unexpected_warnings(own.output) == [], own.output
    assert (checkout / "inventory/example/credentials/airflow.example.com/airflow_db_password").is_file()
    assert_instance_healthy(instance)

    # "Backups and restore": a backup copied here, a variable set after it,
    # the restore, which brings the backup's state back. (Upgrades, the same
    # command with another airflow_version, are molecule's lifecycle.yml.)
    airflow_cli = ["docker", "exec", "airflow-instance", "sudo", "-iu", "airflow", "airflow"]
    subprocess.run([*airflow_cli, "variables", "set", "made_on", "2.5.1"], check=True, capture_output=True)
    backup = sh(BACKUP, cwd=checkout, env=user_env)
    assert backup.returncode == 0, backup.output
    [dump] = (checkout / "backups/airflow.example.com").glob("airflow-2.5.1-*.pgc")
    assert dump.with_suffix(".keys").is_file()
    assert "fernet_key = " in dump.with_suffix(".keys").read_text()
    subprocess.run([*airflow_cli, "variables", "set", "made_on", "after-the-backup"], check=True, capture_output=True)
    restore = sh(RESTORE, cwd=checkout, env=user_env)
    assert restore.returncode == 0, restore.output
    assert unexpected_warnings(restore.output) == [], restore.output
    made_on = subprocess.run([*airflow_cli, "variables", "get", "made_on"], capture_output=True, text=True, check=True)
    assert made_on.stdout.strip().splitlines()[-1] == "2.5.1", made_on.stdout
    assert_instance_healthy(instance)

    down = sh(AWS_TEARDOWN, cwd=checkout, env=user_env)
    assert down.returncode == 0, down.output
    assert [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
            if i["State"]["Name"] != "terminated" and {"Key": "Environment", "Value": "dev"} in i["Tags"]] == []


# ---------------------------------------------------------------------------
# The checks people run before a commit and in their CI.

BROKEN_WORKFLOW = """---
name: broken
on: push  # yamllint disable-line rule:truthy
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.no_such_property }}"
"""


def test_make_lint_runs_actionlint(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    (checkout / ".github/workflows/broken.yml").write_text(BROKEN_WORKFLOW)
    lint = sh("make lint", cwd=checkout)
    assert lint.returncode != 0, lint.output
    assert re.search(r"\.github/workflows/broken\.yml:\d+:\d+: property \"no_such_property\" is not defined", lint.output), lint.output


def test_pre_commit_hook_refuses_a_broken_yaml_file(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    git = ["git", "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    env = {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit"), "HOME": str(tmp_path)}
    subprocess.run([*git, "add", "--all"], cwd=checkout, check=True)
    subprocess.run([*git, "commit", "--quiet", "--message", "start"], cwd=checkout, check=True)

    install = sh(PRE_COMMIT_INSTALL, cwd=checkout, env=env)
    assert install.returncode == 0, install.output
    (checkout / "broken.yml").write_text("---\nkey: 1\nkey: 2\n")
    subprocess.run(["git", "add", "broken.yml"], cwd=checkout, check=True)
    commit = sh("SKIP=ansible-lint git -c user.name=tests -c user.email=tests@localhost commit -m broken",
                cwd=checkout, env=env)
    assert commit.returncode != 0, commit.output
    assert re.search(r"^yamllint\.+Failed$", commit.output, re.M), commit.output
    assert "duplication of key" in commit.output


@pytest.mark.xdist_group("bench")
def test_bench_command():
    """The figures vary with the machine (here other tests run beside it); what must hold is that
    every step ran, the re-runs changed nothing and the fan-out ran without an OOM kill."""
    result = sh(BENCH, timeout=3600)
    assert result.returncode == 0, result.output
    tables = [[cell.strip() for cell in line.strip().strip("|").split("|")]
              for line in result.stdout.splitlines() if line.startswith("| 2.5.1")]
    rows = {cells[0]: cells[1:] for cells in tables if len(cells) == 10}
    floor, cold, ratio, rerun, change, pss, peak, oom, fanout = rows["2.5.1"]
    assert all(re.fullmatch(r"\d+", figure) for figure in (floor, cold, pss, peak)), rows
    assert re.fullmatch(r"\d+\.\d\d", ratio) and re.fullmatch(r"\d+ \(0\)", rerun), rows
    assert re.fullmatch(r"\d+ \([1-9]\d*\)", change) and oom == "0", rows
    assert re.fullmatch(r"success in \d+ s", fanout), rows
    _, ssh_cold, _, ssh_rerun, *_ = rows["2.5.1 over SSH"]
    assert re.fullmatch(r"\d+", ssh_cold) and re.fullmatch(r"\d+ \(0\)", ssh_rerun), rows
    services = {cells[1]: cells[2] for cells in tables if len(cells) == 3}
    assert {"airflow-scheduler", "airflow-webserver", "airflow-triggerer"} <= set(services), result.stdout
    assert all(re.fullmatch(r"\d+", mib) for mib in services.values()), services
    assert not docker("ps", "--all", "--quiet", "--filter", "name=airflow-bench-").stdout.strip()


def test_every_readme_command_is_run_by_a_test():
    ci = (ROOT / ".ci/run").read_text()
    not_run = [command for command in COMMANDS
               if command not in RUN_BY_TESTS and not (command == "make test" and "make test" in ci)]
    assert not_run == [], f"README commands no test runs: {not_run}"
    assert EXPECTED_WARNINGS, "the README's list of expected warnings is missing"
