"""provision.yml, the aws_ec2 inventory and teardown.yml against a local EC2 API."""
import json
import os
import re
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


def rules(group):
    """The group's inbound rules as a set of (protocol, from port, to port, source)."""
    return {(p["IpProtocol"], p["FromPort"], p["ToPort"], source)
            for p in group["IpPermissions"]
            for source in ([r["CidrIp"] for r in p["IpRanges"]] + [r["CidrIpv6"] for r in p["Ipv6Ranges"]]
                           + [g["GroupId"] for g in p["UserIdGroupPairs"]] + [x["PrefixListId"] for x in p["PrefixListIds"]])}


def expected_rules(group, admin_cidr=ADMIN_CIDR, web_ports=(8080,)):
    """SSH and the web UI from the admin CIDR; PostgreSQL, Redis, the worker log
    server and the API from the group's own members only."""
    return ({("tcp", port, port, admin_cidr) for port in (22, *web_ports)}
            | {("tcp", port, port, group["GroupId"]) for port in (5432, 6379, 8793, 8080)})


def tags(instance):
    return {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}


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
    assert tags(instance) == {"Name": "airflow-cycle", "Project": "airflow", "Environment": "cycle"}
    volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [instance["InstanceId"]]}])["Volumes"]
    assert [(v["Encrypted"], v["VolumeType"], v["Size"]) for v in volumes] == [(True, "gp3", 30)]

    [group] = security_groups(ec2, "airflow-cycle")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [group["GroupId"]]
    assert rules(group) == expected_rules(group)
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
    ({"aws_worker_count": -1}, {}, "aws_worker_count must be a whole number, 0 or more"),
    ({"aws_worker_count": True}, {}, "aws_worker_count must be a whole number, 0 or more"),
    ({"aws_worker_count": "two"}, {}, "aws role: argument 'aws_worker_count' is of type str"),
    ({"aws_worker_count": 1, "aws_worker_instance_type": "t3.micro"}, {}, "aws_worker_instance_type t3.micro has less than 2 GiB"),
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


def test_https_opens_80_and_443_instead_of_8080(moto_url, aws_env, ec2, tmp_path):
    extra = provision_vars(moto_url, "https", airflow_tls_enabled=True, aws_private_key_file=str(tmp_path / "https.pem"))
    result = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert result.returncode == 0, result.stdout + result.stderr
    [group] = security_groups(ec2, "airflow-https")
    assert rules(group) == expected_rules(group, web_ports=(80, 443))
    assert re.search(r"Web UI \(once site.yml has run\): https://[^ :]+/", result.stdout), result.stdout
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


# ---------------------------------------------------------------------------
# Celery workers beside the main instance (aws_worker_count).

MAIN_COMPONENTS = "database,broker,scheduler,webserver"
COMPONENT_GROUPS = ["airflow_database", "airflow_broker", "airflow_scheduler", "airflow_webserver"]

# provision.yml, then a play that writes out the in-memory inventory it made:
# the groups and each host's connection variables.
WRITE_INVENTORY = """---
- name: Provision
  ansible.builtin.import_playbook: {provision}

- name: Write out the inventory provisioning made
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the groups and each host's connection variables
      ansible.builtin.copy:
        content: >-
          {{{{ {{'groups': groups, 'hosts': groups['airflow'],
              'each': groups['airflow'] | map('ansible.builtin.extract', hostvars, 'aws_instance_id') | list,
              'users': groups['airflow'] | map('ansible.builtin.extract', hostvars, 'ansible_user') | list,
              'keys': groups['airflow'] | map('ansible.builtin.extract', hostvars, 'ansible_ssh_private_key_file') | list,
              'args': groups['airflow'] | map('ansible.builtin.extract', hostvars, 'ansible_ssh_common_args') | list,
              'become': groups['airflow'] | map('ansible.builtin.extract', hostvars, 'ansible_become') | list}}
             | to_json }}}}
        dest: {out}
        mode: "0600"
      changed_when: false
"""


def provision_and_read_inventory(tmp_path, extra, env):
    """Run provision.yml; returns its output and the inventory it made in memory:
    {group: [hosts]} and {host: {connection variable: value}}."""
    out = tmp_path / "inventory.json"
    out.unlink(missing_ok=True)
    playbook = tmp_path / "provision-and-write.yml"
    playbook.write_text(WRITE_INVENTORY.format(provision=ROOT / "playbooks/provision.yml", out=out))
    result = run_playbook(playbook, LOCALHOST, extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    made = json.loads(out.read_text())
    hostvars = {host: {"ansible_user": user, "ansible_become": become, "ansible_ssh_private_key_file": key,
                       "ansible_ssh_common_args": args, "aws_instance_id": instance_id}
                for host, user, become, key, args, instance_id
                in zip(made["hosts"], made["users"], made["become"], made["keys"], made["args"], made["each"])}
    return result, made["groups"], hostvars


def dynamic_inventory(moto_url, aws_env):
    """inventory/aws_ec2.yml against the local API: {group: set of its hosts}, and the children of airflow."""
    listing = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(ROOT / "inventory/aws_ec2.yml"), "--list"],
                             capture_output=True, text=True, cwd=ROOT,
                             env=dict(os.environ, **aws_env, AWS_ENDPOINT_URL=moto_url, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")))
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    groups = {name: set(value.get("hosts", [])) for name, value in data.items() if name != "_meta"}
    return groups, set(data.get("airflow", {}).get("children", []))


def main_and_workers(ec2, environment):
    running = instances(ec2, environment, states=("pending", "running"))
    [main] = [i for i in running if tags(i)["Name"] == f"airflow-{environment}"]
    workers = [i for i in running if i is not main]
    return main, workers


def test_workers_scale_out_and_back(moto_url, aws_env, ec2, ssh_key, tmp_path):
    private_key, public_key = ssh_key
    environment = "celery"
    extra = provision_vars(moto_url, environment, aws_public_key_file=str(public_key))

    # As before workers existed: one instance, tagged as this project always
    # tagged it, which the runs with workers must take for the main instance.
    single = run_playbook("provision.yml", LOCALHOST, extra, env=aws_env)
    assert single.returncode == 0, single.stdout + single.stderr
    [first] = instances(ec2, environment)
    assert tags(first) == {"Name": "airflow-celery", "Project": "airflow", "Environment": environment}

    # Two workers of their own type.
    scaled = {**extra, "aws_worker_count": 2, "aws_worker_instance_type": "t3.medium"}
    result, groups, hostvars = provision_and_read_inventory(tmp_path, scaled, aws_env)
    assert len(instances(ec2, environment)) == 3
    main, workers = main_and_workers(ec2, environment)
    assert main["InstanceId"] == first["InstanceId"]
    assert tags(main) == {"Name": "airflow-celery", "Project": "airflow", "Environment": environment,
                          "AirflowComponents": MAIN_COMPONENTS}
    assert main["InstanceType"] == "t3.small"
    assert len(workers) == 2
    [group] = security_groups(ec2, "airflow-celery")
    for worker in workers:
        assert tags(worker) == {"Name": "airflow-celery-worker", "Project": "airflow", "Environment": environment,
                                "AirflowComponents": "worker"}
        assert worker["InstanceType"] == "t3.medium"
        assert worker["ImageId"] == NEWEST_FOCAL
        assert worker["KeyName"] == "airflow-celery"
        assert worker["SubnetId"] == main["SubnetId"]
        assert worker["MetadataOptions"]["HttpTokens"] == "required"
        assert [g["GroupId"] for g in worker["SecurityGroups"]] == [group["GroupId"]]
        volumes = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [worker["InstanceId"]]}])["Volumes"]
        assert [(v["Encrypted"], v["VolumeType"], v["Size"]) for v in volumes] == [(True, "gp3", 30)]
    assert rules(group) == expected_rules(group)

    main_host = main["PublicDnsName"]
    worker_hosts = sorted(w["PublicDnsName"] for w in workers)
    assert sorted(groups["airflow"]) == sorted([main_host, *worker_hosts])
    assert sorted(groups["airflow_worker"]) == worker_hosts
    for name in COMPONENT_GROUPS:
        assert groups[name] == [main_host], (name, groups)
    for host in [main_host, *worker_hosts]:
        assert hostvars[host]["ansible_user"] == "ubuntu"
        assert hostvars[host]["ansible_become"] is True
        assert hostvars[host]["ansible_ssh_private_key_file"] == str(private_key)
        assert hostvars[host]["ansible_ssh_common_args"] == "-o StrictHostKeyChecking=accept-new"
    assert {hostvars[h]["aws_instance_id"] for h in worker_hosts} == {w["InstanceId"] for w in workers}
    assert hostvars[main_host]["aws_instance_id"] == main["InstanceId"]
    for host in worker_hosts:
        assert f"ssh -i {private_key} ubuntu@{host}" in result.stdout

    inventory, children = dynamic_inventory(moto_url, aws_env)
    assert "airflow_" not in inventory
    assert {"airflow_worker", *COMPONENT_GROUPS} <= children
    assert {main_host, *worker_hosts} <= inventory["airflow"]
    assert inventory["airflow_worker"] & {main_host, *worker_hosts} == set(worker_hosts)
    for name in COMPONENT_GROUPS:
        assert inventory[name] & {main_host, *worker_hosts} == {main_host}, (name, inventory)

    # The same count again: nothing launched, nothing changed.
    again = run_playbook("provision.yml", LOCALHOST, scaled, env=aws_env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert recap(again.stdout, "localhost")["changed"] == 0, again.stdout
    assert {i["InstanceId"] for i in instances(ec2, environment)} == {main["InstanceId"], *(w["InstanceId"] for w in workers)}

    # Fewer: the surplus worker terminated, the main instance as it was.
    fewer = run_playbook("provision.yml", LOCALHOST, {**scaled, "aws_worker_count": 1}, env=aws_env)
    assert fewer.returncode == 0, fewer.stdout + fewer.stderr
    main, [worker] = main_and_workers(ec2, environment)
    assert main["InstanceId"] == first["InstanceId"]
    assert tags(main)["AirflowComponents"] == MAIN_COMPONENTS
    assert worker["InstanceId"] in {w["InstanceId"] for w in workers}

    # None: the workers terminated; the main instance loses its components
    # and, in airflow alone, does everything again.
    _, groups, _ = provision_and_read_inventory(tmp_path, extra, aws_env)
    [alone] = instances(ec2, environment)
    assert alone["InstanceId"] == first["InstanceId"]
    assert tags(alone) == {"Name": "airflow-celery", "Project": "airflow", "Environment": environment}
    assert groups["airflow"] == [main_host]
    for name in ["airflow_worker", *COMPONENT_GROUPS]:
        assert groups.get(name, []) == [], (name, groups)
    # An empty tag, as a hand-edited instance may have, makes no group either.
    [blank] = ec2.run_instances(ImageId=NEWEST_FOCAL, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": "Project", "Value": "airflow"}, {"Key": "Environment", "Value": "blank"},
                                             {"Key": "AirflowComponents", "Value": ""}]}])["Instances"]
    [[blank]] = [r["Instances"] for r in ec2.describe_instances(InstanceIds=[blank["InstanceId"]])["Reservations"]]
    blank_host = blank.get("PublicDnsName") or blank["PrivateIpAddress"]
    inventory, _ = dynamic_inventory(moto_url, aws_env)
    ec2.terminate_instances(InstanceIds=[blank["InstanceId"]])
    assert {main_host, blank_host} <= inventory["airflow"]
    assert "airflow_" not in inventory
    for name in ["airflow_worker", *COMPONENT_GROUPS]:
        assert main_host not in inventory.get(name, set()), (name, inventory)
        assert not inventory.get(name, set()) & set(worker_hosts), (name, inventory)

    # With a worker again: a changed aws_instance_name would leave the main
    # instance behind a second one, and is refused before anything changes.
    one = run_playbook("provision.yml", LOCALHOST, {**scaled, "aws_worker_count": 1}, env=aws_env)
    assert one.returncode == 0, one.stdout + one.stderr
    main, [worker] = main_and_workers(ec2, environment)
    renamed = run_playbook("provision.yml", LOCALHOST, {**scaled, "aws_instance_name": "airflow-other"}, env=aws_env)
    output = renamed.stdout + renamed.stderr
    assert renamed.returncode != 0, output
    assert (f"Instance {main['InstanceId']} (Name airflow-celery) of project airflow, environment celery, "
            "is neither the main instance (Name aws_instance_name, airflow-other) nor a worker") in one_line(output), output
    assert recap(renamed.stdout, "localhost")["changed"] == 0
    assert {i["InstanceId"] for i in instances(ec2, environment)} == {main["InstanceId"], worker["InstanceId"]}

    # Teardown removes the main instance and the workers.
    down = run_playbook("teardown.yml", LOCALHOST, extra, env=aws_env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert instances(ec2, environment) == []
    assert security_groups(ec2, "airflow-celery") == []
