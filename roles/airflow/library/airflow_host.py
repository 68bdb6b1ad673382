#!/usr/bin/python
"""Read what the airflow role needs to know about a host, in one module run."""

DOCUMENTATION = r"""
module: airflow_host
short_description: Report the host's Python, its installed Airflow release, the service account and the files the role looks for
description:
  - Read-only. Answers in one run on the host what would otherwise take a
    task each - the version of O(python), the Airflow release installed
    behind O(virtualenv) and where that link points, the installed uv,
    the service account O(user) and its O(group), which of O(paths) exist,
    whether files hold the O(texts) they should, and the release
    virtualenvs beside O(virtualenv).
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
  user:
    description: The account whose home, shell and primary group to report; none when empty.
    type: str
    default: ""
  group:
    description: The group whose existence to report; none when empty.
    type: str
    default: ""
  paths:
    description: Paths whose existence to report.
    type: list
    elements: path
    default: []
  texts:
    description: Files that should hold a text, with an owner, group and mode; only whether each does is reported.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {type: path, required: true, description: The file.}
      text: {type: str, required: true, description: What it should hold, anywhere in it.}
      owner: {type: str, required: true, description: Its owner.}
      group: {type: str, required: true, description: Its group.}
      mode: {type: str, required: true, description: Its mode, in octal.}
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
virtualenv_link:
  description: Where O(virtualenv) points and the link's owner and group; empty when it is no link.
  type: dict
  returned: always
user:
  description: O(user)'s home, shell and primary group; empty when there is no such account.
  type: dict
  returned: always
group_exists:
  description: Whether O(group) exists.
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
texts_present:
  description: For each of O(texts), whether the file holds the text and has the owner, group and mode.
  type: list
  elements: bool
  returned: always
releases:
  description: The directories named like O(virtualenv) with a suffix (C(venv-2.5.1)), each with its path and mtime.
  type: list
  elements: dict
  returned: always
"""

import grp
import os
import pwd
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


def name_of(lookup, number):
    """The name of a user or group id, or the id itself when it has none."""
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def link(path):
    """Where PATH points, with the link's owner and group; {} when it is no link."""
    if not os.path.islink(path):
        return {}
    status = os.lstat(path)
    return {"target": os.readlink(path), "owner": name_of(pwd.getpwuid, status.st_uid),
            "group": name_of(grp.getgrgid, status.st_gid)}


def account(name):
    """NAME's home, shell and primary group; {} when there is no such account."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return {}
    return {"home": entry.pw_dir, "shell": entry.pw_shell, "group": name_of(grp.getgrgid, entry.pw_gid)}


def group_exists(name):
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def holds(item):
    """Whether ITEM's file holds its text with its owner, group and mode; False when it cannot be read."""
    try:
        status = os.stat(item["path"])
        with open(item["path"], "rb") as handle:
            content = handle.read().decode("utf-8", "replace")
    except OSError:
        return False
    return (item["text"] in content and name_of(pwd.getpwuid, status.st_uid) == item["owner"]
            and name_of(grp.getgrgid, status.st_gid) == item["group"]
            and status.st_mode & 0o7777 == int(item["mode"], 8))


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
            "user": {"type": "str", "default": ""},
            "group": {"type": "str", "default": ""},
            "paths": {"type": "list", "elements": "path", "default": []},
            "texts": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "path", "required": True},
                "text": {"type": "str", "required": True},
                "owner": {"type": "str", "required": True},
                "group": {"type": "str", "required": True},
                "mode": {"type": "str", "required": True},
            }},
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
        virtualenv_link=link(params["virtualenv"]),
        user=account(params["user"]) if params["user"] else {},
        group_exists=group_exists(params["group"]) if params["group"] else False,
        uv_version=uv_version,
        exists={path: os.path.lexists(path) for path in params["paths"]},
        texts_present=[holds(item) for item in params["texts"]],
        releases=releases(params["virtualenv"]),
    )


if __name__ == "__main__":
    main()
