#!/usr/bin/python
"""Read what the airflow role needs to know about a host, in one module run."""

DOCUMENTATION = r"""
module: airflow_host
short_description: Report the host's Python, its installed Airflow release and the files the role looks for
description:
  - Read-only. Answers in one run on the host what would otherwise take a
    task each - the version of O(python), the Airflow release installed
    behind O(virtualenv), the installed uv, which of O(paths) exist and the
    release virtualenvs beside O(virtualenv).
  - A path it cannot look at (a folder the connecting user may not enter)
    reads as missing, so tasks that use the answer to skip work still run.
options:
  python:
    description: The Python that creates the virtualenvs (airflow_python).
    type: path
    required: true
  virtualenv:
    description: The link to the active release's virtualenv (airflow_virtualenv).
    type: path
    required: true
  uv:
    description: The uv executable whose version to read; none when empty.
    type: path
    default: ""
  paths:
    description: Paths whose existence to report.
    type: list
    elements: path
    default: []
"""

RETURN = r"""
python_version:
  description: O(python)'s major.minor version; empty when it does not run.
  type: str
  returned: always
python_error:
  description: Why O(python) did not run; empty when it did.
  type: str
  returned: always
installed_version:
  description: The apache-airflow version in O(virtualenv); empty when none is installed.
  type: str
  returned: always
virtualenv_is_dir:
  description: Whether O(virtualenv) is a directory rather than a link (a host set up before versioned virtualenvs).
  type: bool
  returned: always
uv_version:
  description: The version O(uv) reports; empty when it does not run.
  type: str
  returned: always
exists:
  description: For each of O(paths), whether it exists.
  type: dict
  returned: always
releases:
  description: The directories named like O(virtualenv) with a suffix (C(venv-2.5.1)), each with its path and mtime.
  type: list
  elements: dict
  returned: always
"""

import os
import subprocess

from ansible.module_utils.basic import AnsibleModule

PYTHON_VERSION = 'import sys; print("%d.%d" % sys.version_info[:2])'
AIRFLOW_VERSION = 'import importlib.metadata as m; print(m.version("apache-airflow"))'


def output(argv):
    """(stdout, error) of a command: error is empty when it exited 0."""
    try:
        result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except OSError as error:
        return "", str(error)
    stdout = result.stdout.decode("utf-8", "replace").strip()
    if result.returncode != 0:
        return stdout, result.stderr.decode("utf-8", "replace").strip() or "exit code %d" % result.returncode
    return stdout, ""


def releases(virtualenv):
    """The release virtualenvs beside the link: <virtualenv>-<version> directories."""
    parent, prefix = os.path.dirname(virtualenv), os.path.basename(virtualenv) + "-"
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(parent, name)
        if name.startswith(prefix) and os.path.isdir(path) and not os.path.islink(path):
            found.append({"path": path, "mtime": os.stat(path).st_mtime})
    return found


def main():
    module = AnsibleModule(
        argument_spec={
            "python": {"type": "path", "required": True},
            "virtualenv": {"type": "path", "required": True},
            "uv": {"type": "path", "default": ""},
            "paths": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    python_version, python_error = output([params["python"], "-c", PYTHON_VERSION])
    installed, installed_error = output([os.path.join(params["virtualenv"], "bin", "python"), "-c", AIRFLOW_VERSION])
    uv_version = ""
    if params["uv"]:
        uv_output, uv_error = output([params["uv"], "--version"])
        uv_version = "" if uv_error else " ".join(uv_output.split()[1:2])
    module.exit_json(
        changed=False,
        python_version="" if python_error else python_version,
        python_error=python_error,
        installed_version="" if installed_error else installed,
        virtualenv_is_dir=os.path.isdir(params["virtualenv"]) and not os.path.islink(params["virtualenv"]),
        uv_version=uv_version,
        exists={path: os.path.lexists(path) for path in params["paths"]},
        releases=releases(params["virtualenv"]),
    )


if __name__ == "__main__":
    main()
