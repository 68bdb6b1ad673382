"""Fixtures shared by the tests: a local EC2 API (moto) and SSH keys."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from helpers import ROOT

REGION = "us-east-1"
# The longest work first (the benchmark, then the tests that build an Airflow
# host, one after the other), so that the short tests fill in around them on
# both workers instead of leaving one of the long ones to run alone at the end.
LONGEST_GROUPS = ["bench", "airflow_host"]


def pytest_collection_modifyitems(items):
    def rank(item):
        marker = item.get_closest_marker("xdist_group")
        group = marker and (marker.args[0] if marker.args else marker.kwargs.get("name"))
        return LONGEST_GROUPS.index(group) if group in LONGEST_GROUPS else len(LONGEST_GROUPS)

    items.sort(key=rank)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory):
    """A moto server on 127.0.0.1 whose AMIs are tests/fixtures/amis.json."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = dict(os.environ, MOTO_AMIS_PATH=str(ROOT / "tests/fixtures/amis.json"))
    with open(log, "w") as out:
        server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"moto_server did not start: {log.read_text()}")
            time.sleep(0.2)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="session")
def aws_env():
    """Credentials for the local API; never real ones."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION}


@pytest.fixture(scope="session")
def ec2(moto_url):
    return boto3.client("ec2", region_name=REGION, endpoint_url=moto_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory):
    """An ed25519 key pair: (private key path, public key path)."""
    private = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "airflow-tests", "-f", str(private)], check=True)
    return private, private.with_suffix(".pub")
