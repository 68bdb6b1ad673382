"""provision.yml, the aws_ec2 inventory and teardown.yml against a local EC2 API."""
import json
import os
import stat
import subprocess

import pytest

from conftest import REGION
from helpers import BIN, ROOT, one_line, recap, run_playbook

LOCALHOST = ROOT / "tests/localhost-inventory.yml"
NEWEST_FOCAL = "ami-00000000000001002"
ADMIN_CIDR = "203.0.113.0/24"


def provision_vars(moto_url, environment, **extra):
    return {"aws_endpoint_url": moto_url, "aws_region": REGION, "aws_admin_cidr": ADMIN_CIDR,
            "aws_environment": environment, "aws_key_name": f"airflow-{environment}",
            "aws_wait_for_ssh": False, **extra}


def instances(ec2, environment, states=("pending", "running", "stopping", "stopped")):
    reservations = ec2.describe_instances(Filters=[
        {"Name": "tag:Project", "Values": ["airflow"]},
        {"Name": "tag:Environment", "Values": [environment]},
        {"Name": "instance-state-name", "Values": list(states)},
    ])["Reservations"]
    return [instance for reservation in reservations for instance in reservation["Instances"]]


def security_groups(ec2, name):
    return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"]


def test_provision_inventory_teardown(moto_url, aws_env, ec2, ssh_key):
    _, public_key = ssh_key
    extra = provision_vars(moto_url, "cycle", aws_public_key_file=str(public_key))

    first = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert first.returncode == 0, first.stdout + first.stderr

    [instance] = instances(ec2, "cycle")
    assert instance["InstanceType"] == "t3.small"
    assert instance["ImageId"] == NEWEST_FOCAL
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["KeyName"] == "airflow-cycle"
    tags = {tag["Key"]: tag["Value"] for tag in instance["Tags"]}
    assert tags == {"Name": "airflow-cycle", "Project": "airflow", "Environment": "cycle"}
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])["Volumes"]
    assert [(v["Encrypted"], v["VolumeType"], v["Size"]) for v in volumes] == [(True, "gp3", 30)]

    [group] = security_groups(ec2, "airflow-cycle")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    rules = sorted((p["IpProtocol"], p["FromPort"], p["ToPort"], tuple(r["CidrIp"] for r in p["IpRanges"]))
                   for p in group["IpPermissions"])
    assert rules == [("tcp", 22, 22, (ADMIN_CIDR,)), ("tcp", 8080, 8080, (ADMIN_CIDR,))]
    assert ec2.describe_key_pairs(KeyNames=["airflow-cycle"])["KeyPairs"]
    assert f"ssh -i {str(public_key)[:-4]} ubuntu@" in first.stdout

    second = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert recap(second.stdout, "localhost")["changed"] == 0, second.stdout
    assert len(instances(ec2, "cycle")) == 1

    graph = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(ROOT / "inventory/aws_ec2.yml"), "--graph"],
                           capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, **aws_env, AWS_ENDPOINT_URL=moto_url, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")))
    assert graph.returncode == 0, graph.stderr
    airflow_group = graph.stdout.split("@airflow:")[1].split("@")[0]
    assert instance["PublicDnsName"] in airflow_group, graph.stdout

    down = run_playbook("teardown.yml", LOCALHOST, extra, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert instances(ec2, "cycle") == []
    assert security_groups(ec2, "airflow-cycle") == []
    again = run_playbook("teardown.yml", LOCALHOST, extra, env=aws_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout, "localhost")["changed"] == 0, again.stdout


def test_created_key_pair_is_saved_private(moto_url, aws_env, ec2, tmp_path):
    key_file = tmp_path / "airflow-created.pem"
    extra = provision_vars(moto_url, "created", aws_private_key_file=str(key_file), aws_admin_cidr="198.51.100.23/32")
    result = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    [group] = security_groups(ec2, "airflow-created")
    assert {r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]} == {"198.51.100.23/32"}
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().startswith("-----BEGIN")
    assert "BEGIN" not in result.stdout  # the key never shows in the output

    down = run_playbook("teardown.yml", LOCALHOST, {**extra, "aws_delete_key_pair": True}, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["airflow-created"]}])["KeyPairs"] == []


NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                  "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}

BAD_INPUTS = [
    ({"aws_admin_cidr": ""}, {}, "aws_admin_cidr must be the IPv4 network in CIDR form"),
    ({"aws_admin_cidr": "300.1.2.3/24"}, {}, "aws_admin_cidr must be the IPv4 network in CIDR form"),
    ({"aws_admin_cidr": "203.0.113.7"}, {}, "aws_admin_cidr must be the IPv4 network in CIDR form"),
    ({"aws_admin_cidr": "203.0.113.7/24"}, {}, "aws_admin_cidr must be the IPv4 network in CIDR form"),
    ({"aws_admin_cidr": "0.0.0.0/0"}, {}, "set aws_allow_world to true"),
    ({"aws_region": ""}, {"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, "aws_region is required"),
    ({"aws_instance_type": "t3.micro"}, {}, "aws_instance_type t3.micro has less than 2 GiB"),
    ({"aws_ubuntu_release": "bionic"}, {}, "aws role: value of aws_ubuntu_release must be one of: focal, jammy, noble"),
    ({}, NO_CREDENTIALS, "No usable AWS credentials for region us-east-1"),
]


@pytest.mark.parametrize("case", range(len(BAD_INPUTS)), ids=[m for _, _, m in BAD_INPUTS])
def test_bad_input_creates_nothing(moto_url, aws_env, ec2, case):
    bad_vars, bad_env, message = BAD_INPUTS[case]
    environment = f"bad{case}"
    extra = {**provision_vars(moto_url, environment), **bad_vars}
    result = run_playbook("provision.yml", LOCALHOST, extra, env={**aws_env, **bad_env})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert message in one_line(output), output
    assert "Traceback" not in output
    assert recap(result.stdout, "localhost")["changed"] == 0
    assert instances(ec2, environment) == []
    assert security_groups(ec2, f"airflow-{environment}") == []
    assert ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [f"airflow-{environment}"]}])["KeyPairs"] == []


def test_world_open_with_explicit_flag(moto_url, aws_env, ec2, tmp_path):
    extra = provision_vars(moto_url, "world", aws_admin_cidr="0.0.0.0/0", aws_allow_world=True,
                           aws_private_key_file=str(tmp_path / "world.pem"))
    result = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    [group] = security_groups(ec2, "airflow-world")
    assert {r["CidrIp"] for p in group["IpPermissions"] for r in p["IpRanges"]} == {"0.0.0.0/0"}
    down = run_playbook("teardown.yml", LOCALHOST, {**extra, "aws_delete_key_pair": True}, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr


def test_key_paths_may_start_with_a_tilde(moto_url, aws_env, ec2, ssh_key, tmp_path):
    private_key, public_key = ssh_key
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh/id_ed25519.pub").write_text(public_key.read_text())
    (tmp_path / ".ssh/id_ed25519").write_text(private_key.read_text())
    env = {**aws_env, "HOME": str(tmp_path)}
    extra = provision_vars(moto_url, "tilde", aws_public_key_file="~/.ssh/id_ed25519.pub")
    result = run_playbook("provision.yml", LOCALHOST, extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ssh -i {tmp_path}/.ssh/id_ed25519 ubuntu@" in result.stdout
    assert ec2.describe_key_pairs(KeyNames=["airflow-tilde"])["KeyPairs"]
    down = run_playbook("teardown.yml", LOCALHOST, {**extra, "aws_delete_key_pair": True}, env=env)
    assert down.returncode == 0, down.stdout + down.stderr


# The newest Canonical server AMI of each release in tests/fixtures/amis.json;
# newer decoys: other owners, arm64, minimal images, another release.
@pytest.mark.parametrize("release, newest", [("jammy", "ami-00000000000003002"), ("noble", "ami-00000000000004001")])
def test_ubuntu_release_selects_the_ami(moto_url, aws_env, ec2, tmp_path, release, newest):
    extra = provision_vars(moto_url, release, aws_ubuntu_release=release,
                           aws_private_key_file=str(tmp_path / f"{release}.pem"))
    result = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    [instance] = instances(ec2, release)
    assert instance["ImageId"] == newest
    down = run_playbook("teardown.yml", LOCALHOST, {**extra, "aws_delete_key_pair": True}, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr
