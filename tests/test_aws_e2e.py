"""deploy.yml end to end: provision through the local EC2 API, then configure
the "instance" over real SSH, as the ubuntu user with sudo, to a healthy
Airflow. A container from images/build.sh (flavor ssh) plays the instance;
the test maps the instance's address to it with the extra variable
ansible_host.
"""
import json
import shutil
import subprocess
import urllib.request

import pytest

from helpers import ROOT, recap, run_playbook
from test_aws import instances, provision_vars

CONTAINER = "airflow-e2e"


def docker(*args, check=True):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def publish_dags_repo(path):
    shutil.copytree(ROOT / "molecule/resources/dags-v1", path / "dags")
    git = ["git", "-C", str(path), "-c", "user.name=tests", "-c", "user.email=tests@localhost"]
    subprocess.run(["git", "init", "--quiet", str(path)], check=True)
    subprocess.run([*git, "add", "--all"], check=True)
    subprocess.run([*git, "commit", "--quiet", "--message", "dags-v1"], check=True)


@pytest.fixture
def instance_container(ssh_key, tmp_path):
    """The container that plays the EC2 instance: (its address, the DAG repository path in it)."""
    image = subprocess.run([str(ROOT / "images/build.sh"), "bullseye", "ssh"],
                           capture_output=True, text=True, check=True).stdout.strip()
    _, public_key = ssh_key
    repo = tmp_path / "dags-repo"
    publish_dags_repo(repo)
    docker("rm", "--force", CONTAINER, check=False)
    docker("run", "--detach", "--name", CONTAINER, "--hostname", CONTAINER,
           "--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--cgroupns", "host",
           "--tmpfs", "/run", "--tmpfs", "/run/lock", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
           "--volume", f"{public_key}:/home/ubuntu/.ssh/authorized_keys:ro",
           "--volume", f"{repo}:/srv/dags-fixture:ro",
           "--volume", f"{ROOT / 'examples/constraints-2.5.1-3.9.txt'}:/srv/constraints.txt:ro",
           image, "/lib/systemd/systemd")
    address = docker("inspect", "--format", "{{.NetworkSettings.IPAddress}}", CONTAINER).stdout.strip()
    yield address
    docker("rm", "--force", CONTAINER, check=False)


def test_deploy_over_ssh(moto_url, aws_env, ec2, ssh_key, instance_container, tmp_path):
    private_key, public_key = ssh_key
    extra = provision_vars(
        moto_url, "e2e",
        aws_public_key_file=str(public_key), aws_private_key_file=str(private_key), aws_wait_for_ssh=True,
        # The instance's address is the container's; its host key is new every run.
        ansible_host=instance_container,
        ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
        airflow_credentials_dir=str(tmp_path / "credentials") + "/{{ inventory_hostname }}",
        airflow_dags_repo="file:///srv/dags-fixture",
        # The URL path of the airflow role (the molecule scenario takes the file path).
        airflow_constraints_url="file:///srv/constraints.txt",
        base_ca_certificates=["/etc/ssl/certs/ca-certificates.crt"],
    )
    env = {**aws_env, "AWS_URL": moto_url}
    inventory = ROOT / "inventory/aws_ec2.yml"

    first = run_playbook("deploy.yml", inventory, extra, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    [instance] = instances(ec2, "e2e")
    host = instance["PublicDnsName"]
    assert recap(first.stdout, host)["failed"] == 0

    with urllib.request.urlopen(f"http://{instance_container}:8080/health", timeout=10) as response:
        health = json.load(response)
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"
    sshd_log = docker("exec", CONTAINER, "journalctl", "--no-pager", "-u", "ssh").stdout
    assert "Accepted publickey for ubuntu" in sshd_log
    whoami = docker("exec", CONTAINER, "sudo", "-iu", "airflow", "airflow", "dags", "list", "--output", "json").stdout
    assert "dag_v1" in {dag["dag_id"] for dag in json.loads(whoami)}

    second = run_playbook("deploy.yml", inventory, extra, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout, host)["changed"] == 0, second.stdout
    assert recap(second.stdout, "localhost")["changed"] == 0, second.stdout
    assert len(instances(ec2, "e2e")) == 1

    down = run_playbook("teardown.yml", ROOT / "tests/localhost-inventory.yml", extra, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert instances(ec2, "e2e") == []
