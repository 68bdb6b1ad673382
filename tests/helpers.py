"""Running the project's playbooks from the tests."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_playbook(playbook, inventory, extra_vars=None, *args, env=None, timeout=1800):
    """Run playbooks/PLAYBOOK; returns the CompletedProcess (stdout and stderr as text)."""
    full_env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                    ANSIBLE_CACHE_PLUGIN="memory", PATH=f"{BIN}:{os.environ['PATH']}")
    full_env.update(env or {})
    cmd = [str(BIN / "ansible-playbook"), "-i", str(inventory)]
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    cmd += [*args, str(ROOT / "playbooks" / playbook)]
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=ROOT, timeout=timeout)


def recap(output, host):
    """The PLAY RECAP counts of HOST, e.g. {'ok': '3', 'changed': '0', ...}."""
    match = re.search(rf"^{re.escape(host)}\s*:\s*(ok=.*)$", output, re.MULTILINE)
    assert match, f"no recap line for {host}:\n{output}"
    return {key: int(value) for key, value in (pair.split("=") for pair in match.group(1).split())}


def one_line(text):
    """TEXT with every run of white space folded to one space (messages wrap)."""
    return re.sub(r"\s+", " ", text)
