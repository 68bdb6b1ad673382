"""The project's shared modules (library/), run by ansible-playbook on the controller."""
import grp
import os
import pwd
import subprocess

import yaml

from helpers import BIN, ROOT, recap

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def put_files(tmp_path, files, *args):
    """One airflow_files task with FILES on localhost, found through the project's ansible.cfg."""
    playbook = tmp_path / "files.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Put the files", "airflow_files": {"files": files}}]}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN="memory")
    return subprocess.run([str(BIN / "ansible-playbook"), *args, str(playbook)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_airflow_files_writes_what_differs_and_nothing_else(tmp_path):
    unit, script = tmp_path / "a.service", tmp_path / "b.py"
    files = [{"path": str(unit), "content": "[Unit]\nDescription=A\n", "owner": USER, "group": GROUP},
             {"path": str(script), "content": "print(1)\n", "mode": "0600", "owner": USER, "group": GROUP}]

    first = put_files(tmp_path, files)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout, "localhost")["changed"] == 1
    assert unit.read_text() == "[Unit]\nDescription=A\n"
    assert oct(script.stat().st_mode & 0o777) == "0o600"

    again = put_files(tmp_path, files)
    assert recap(again.stdout, "localhost")["changed"] == 0, again.stdout

    # Check mode with --diff shows the new contents and writes nothing.
    files[0]["content"] = "[Unit]\nDescription=B\n"
    checked = put_files(tmp_path, files, "--check", "--diff")
    assert recap(checked.stdout, "localhost")["changed"] == 1, checked.stdout
    assert "-Description=A" in checked.stdout and "+Description=B" in checked.stdout
    assert unit.read_text() == "[Unit]\nDescription=A\n"

    # A mode changed by hand is set back; the other file is left alone.
    script.chmod(0o644)
    before = unit.stat().st_mtime_ns
    files[0]["content"] = "[Unit]\nDescription=A\n"
    fixed = put_files(tmp_path, files)
    assert recap(fixed.stdout, "localhost")["changed"] == 1, fixed.stdout
    assert oct(script.stat().st_mode & 0o777) == "0o600"
    assert unit.stat().st_mtime_ns == before


def test_airflow_files_refuses_what_is_not_a_file_before_writing_any(tmp_path):
    (tmp_path / "a-directory").mkdir()
    good = {"path": str(tmp_path / "good"), "content": "x\n", "owner": USER, "group": GROUP}
    taken = put_files(tmp_path, [good, {"path": str(tmp_path / "a-directory"), "content": "x\n",
                                        "owner": USER, "group": GROUP}])
    assert taken.returncode != 0
    assert f"{tmp_path / 'a-directory'} exists and is not a regular file" in taken.stdout
    assert not (tmp_path / "good").exists(), "a file was written although another one was refused"

    missing = put_files(tmp_path, [{"path": str(tmp_path / "no-such-dir" / "f"), "content": "x\n",
                                    "owner": USER, "group": GROUP}])
    assert missing.returncode != 0
    assert f"the directory {tmp_path / 'no-such-dir'} does not exist" in missing.stdout
