"""The project's modules (library/, and the airflow role's airflow_host) run by Ansible on the controller, and
the state probe's health questions."""
import grp
import http.server
import json
import os
import pwd
import subprocess
import sys
import threading

import yaml

from helpers import BIN, ROOT, recap

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def ansible(tmp_path, program, *args, **env):
    """An Ansible PROGRAM run in TMP_PATH with the project's ansible.cfg; ENV added to the environment."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN="memory", **env)
    return subprocess.run([str(BIN / program), *args], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=120)


def run_task(tmp_path, task, *args, **env):
    """TASK alone on localhost, its module found through the project's ansible.cfg; ENV added to the environment."""
    playbook = tmp_path / "task.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [task]}]))
    return ansible(tmp_path, "ansible-playbook", *args, str(playbook), **env)


def put_files(tmp_path, files, *args):
    """One airflow_files task with FILES."""
    return run_task(tmp_path, {"name": "Put the files", "airflow_files": {"files": files}}, *args)


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


def test_airflow_files_makes_directories_before_their_files_and_removes_files(tmp_path):
    top, sub = tmp_path / "top", tmp_path / "top" / "sub"
    task = {"name": "Put the directories and a file", "airflow_files": {
        "directories": [{"path": str(top), "mode": "0750", "owner": USER, "group": GROUP},
                        {"path": str(sub), "owner": USER, "group": GROUP}],
        "files": [{"path": str(sub / "f"), "content": "x\n", "owner": USER, "group": GROUP}]}}

    checked = run_task(tmp_path, task, "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert recap(checked.stdout, "localhost")["changed"] == 1
    assert not top.exists(), "check mode made a directory"

    first = run_task(tmp_path, task)
    assert first.returncode == 0, first.stdout + first.stderr
    assert recap(first.stdout, "localhost")["changed"] == 1
    assert oct(top.stat().st_mode & 0o777) == "0o750"
    assert oct(sub.stat().st_mode & 0o777) == "0o755"
    assert (sub / "f").read_text() == "x\n"

    top.chmod(0o755)
    mended = run_task(tmp_path, task)
    assert recap(mended.stdout, "localhost")["changed"] == 1
    assert oct(top.stat().st_mode & 0o777) == "0o750", "a mode changed by hand was not set back"
    again = run_task(tmp_path, task)
    assert recap(again.stdout, "localhost")["changed"] == 0

    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-link").symlink_to(tmp_path / "a-file")
    removal = {"name": "Remove a file and a link", "airflow_files": {
        "absent": [str(tmp_path / "a-link"), str(tmp_path / "a-file"), str(tmp_path / "never-there")]}}
    checked = run_task(tmp_path, removal, "--check")
    assert recap(checked.stdout, "localhost")["changed"] == 1
    assert (tmp_path / "a-file").exists(), "check mode removed a file"
    removed = run_task(tmp_path, removal)
    assert recap(removed.stdout, "localhost")["changed"] == 1
    assert not (tmp_path / "a-file").exists() and not (tmp_path / "a-link").is_symlink()
    assert recap(run_task(tmp_path, removal).stdout, "localhost")["changed"] == 0
    kept = run_task(tmp_path, {"name": "Remove a directory", "airflow_files": {"absent": [str(top)]}})
    assert kept.returncode != 0 and f"{top} is a directory" in kept.stdout
    assert top.is_dir()

    (tmp_path / "a-file").write_text("")
    refused = run_task(tmp_path, {"name": "Put a directory where a file is", "airflow_files": {
        "directories": [{"path": str(tmp_path / "new"), "owner": USER, "group": GROUP},
                        {"path": str(tmp_path / "a-file"), "owner": USER, "group": GROUP}]}})
    assert refused.returncode != 0
    assert f"{tmp_path / 'a-file'} exists and is not a directory" in refused.stdout
    assert not (tmp_path / "new").exists(), "a directory was made although another one was refused"


# systemctl as far as airflow_units uses it, its units' state in a JSON file;
# every call is logged, so a test sees what the module asked for.
FAKE_SYSTEMCTL = r'''#!/usr/bin/env python3
import json, pathlib, sys
here = pathlib.Path(__file__).parent
state = json.loads((here / "units.json").read_text())
with open(here / "calls.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
verb, name = sys.argv[1], sys.argv[-1]
unit = state.get(name)
if verb == "show":
    values = {"LoadState": "loaded" if unit else "not-found", "ActiveState": unit["active"] if unit else "inactive"}
    asked = next(arg for arg in sys.argv if arg.startswith("--property=")).split("=", 1)[1].split(",")
    print("\n".join(f"{key}={values[key]}" for key in asked))
elif verb == "is-enabled":
    print(unit["enabled"] if unit else "not-found")
    sys.exit(0 if unit and unit["enabled"] in ("enabled", "static") else 1)
elif verb in ("enable", "start") and unit:
    unit.update({"enable": {"enabled": "enabled"}, "start": {"active": "active"}}[verb])
    (here / "units.json").write_text(json.dumps(state))
else:
    sys.exit(1)
'''


def fake_systemctl(tmp_path, units):
    """bin/systemctl with UNITS ({name: {"enabled": ..., "active": ...}}); the state and call log files."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(FAKE_SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    (bin_dir / "units.json").write_text(json.dumps(units))
    (bin_dir / "calls.log").write_text("")
    return bin_dir / "units.json", bin_dir / "calls.log"


def changes(calls):
    """The enable and start calls in the log."""
    return [line for line in calls.read_text().splitlines() if line.split()[0] in ("enable", "start")]


def run_units(tmp_path, names, *args):
    """One airflow_units task with NAMES, the fake systemctl first on PATH."""
    return run_task(tmp_path, {"name": "Enable and start", "airflow_units": {"names": names}}, *args,
                    PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}")


def test_airflow_units_enables_and_starts_only_what_is_not(tmp_path):
    units, calls = fake_systemctl(tmp_path, {
        "a.service": {"enabled": "enabled", "active": "active"},
        "b.service": {"enabled": "disabled", "active": "inactive"},
        "c.timer": {"enabled": "enabled", "active": "failed"},
        "d.target": {"enabled": "static", "active": "activating"}})
    names = ["a.service", "b.service", "c.timer", "d.target"]

    checked = run_units(tmp_path, names, "--check")
    assert recap(checked.stdout, "localhost")["changed"] == 1, checked.stdout
    assert changes(calls) == []

    first = run_units(tmp_path, names)
    assert recap(first.stdout, "localhost")["changed"] == 1, first.stdout + first.stderr
    assert changes(calls) == ["enable b.service", "start b.service", "start c.timer"]
    assert json.loads(units.read_text())["b.service"] == {"enabled": "enabled", "active": "active"}

    again = run_units(tmp_path, names)
    assert recap(again.stdout, "localhost")["changed"] == 0, again.stdout
    checked_again = run_units(tmp_path, names, "--check")
    assert recap(checked_again.stdout, "localhost")["changed"] == 0, checked_again.stdout

    # In check mode a unit that an earlier task would install counts as a change, not a failure.
    ahead = run_units(tmp_path, [*names, "e.service"], "--check")
    assert ahead.returncode == 0 and recap(ahead.stdout, "localhost")["changed"] == 1, ahead.stdout
    assert len(changes(calls)) == 3


def test_airflow_units_refuses_an_unknown_unit_before_changing_any(tmp_path):
    units, calls = fake_systemctl(tmp_path, {"a.service": {"enabled": "disabled", "active": "inactive"}})
    result = run_units(tmp_path, ["a.service", "nope.service"])
    assert result.returncode != 0
    assert "no unit nope.service on the host that can start (systemd says: not-found)" in result.stdout
    assert json.loads(units.read_text())["a.service"] == {"enabled": "disabled", "active": "inactive"}
    assert changes(calls) == []


def fake_program(path, output):
    """An executable at PATH that prints OUTPUT."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)


def look_at_host(tmp_path, **options):
    """The airflow role's airflow_host module run once with OPTIONS, in check mode; its result."""
    run = ansible(tmp_path, "ansible", "localhost", "--check", "--one-line", "-m", "airflow_host", "-a", json.dumps(options),
                  ANSIBLE_LIBRARY=f"{ROOT / 'roles/airflow/library'}:{ROOT / 'library'}", ANSIBLE_LOAD_CALLBACK_PLUGINS="0")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout.split("=>", 1)[1])
    assert result["changed"] is False
    return result


def test_airflow_host_reports_python_release_uv_and_files(tmp_path):
    install = tmp_path / "opt"
    fake_program(install / "venv-2.5.1" / "bin" / "python", "2.5.1")
    (install / "venv-2.10.5").mkdir()
    (install / "venv-notes").write_text("a file, not a release")
    (install / "venv").symlink_to(install / "venv-2.5.1")
    (install / "venv-latest").symlink_to(install / "venv-2.5.1")
    fake_program(install / "uv" / "bin" / "uv", "uv 0.13.9 (x86_64-unknown-linux-gnu)")
    (tmp_path / "airflow.cfg").write_text("")
    (tmp_path / ".bashrc").write_text("# mine\n# BEGIN\nexport A=1\n# END\nalias x=y\n")
    (tmp_path / ".bashrc").chmod(0o644)
    block = {"path": str(tmp_path / ".bashrc"), "text": "# BEGIN\nexport A=1\n# END", "owner": USER, "group": GROUP,
             "mode": "0644"}

    host = look_at_host(tmp_path, python="/usr/bin/python3", virtualenv=str(install / "venv"),
                        uv=str(install / "uv" / "bin" / "uv"), user=USER, group=GROUP,
                        paths=[str(tmp_path / "airflow.cfg"), str(install / "venv-3.3.2" / "bin" / "python")],
                        texts=[block, dict(block, text="# BEGIN\nexport A=2\n# END"), dict(block, mode="0600"),
                               dict(block, path=str(tmp_path / "no-bashrc"))])
    version = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert (host["python_version"], host["python_error"]) == (version, "")
    assert host["installed_version"] == "2.5.1"
    assert host["virtualenv_is_dir"] is False
    assert host["virtualenv_link"] == {"target": str(install / "venv-2.5.1"), "owner": USER, "group": GROUP}
    me = pwd.getpwuid(os.getuid())
    assert host["user"] == {"home": me.pw_dir, "shell": me.pw_shell, "group": grp.getgrgid(me.pw_gid).gr_name}
    assert host["group_exists"] is True
    assert host["uv_version"] == "0.13.9"
    assert host["texts_present"] == [True, False, False, False]
    assert host["exists"] == {str(tmp_path / "airflow.cfg"): True, str(install / "venv-3.3.2" / "bin" / "python"): False}
    assert sorted(r["path"] for r in host["releases"]) == [str(install / "venv-2.10.5"), str(install / "venv-2.5.1")]

    # A host set up before versioned virtualenvs, with no uv and a Python that is not there.
    (install / "venv").unlink()
    (install / "venv").mkdir()
    host = look_at_host(tmp_path, python=str(tmp_path / "no-python"), virtualenv=str(install / "venv"),
                        user="no-such-user", group="no-such-group")
    assert host["python_version"] == "" and "No such file" in host["python_error"]
    assert (host["virtualenv_link"], host["user"], host["group_exists"]) == ({}, {}, False)
    assert (host["installed_version"], host["virtualenv_is_dir"], host["uv_version"]) == ("", True, "")


def ask_probe(*questions):
    """The airflow role's state probe, run with this Python (no Airflow needed for health); its JSON answer."""
    run = subprocess.run([sys.executable, str(ROOT / "roles/airflow/files/airflow_state.py"), *questions],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_state_probe_stops_at_an_unhealthy_web_server_and_trusts_a_healthy_one():
    body = {}

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/health"
    blocks = "unhealthy=metadatabase,scheduler,triggerer"
    try:
        # Each "db" question below would need Airflow: an answer without "db" shows the probe stopped first.
        body.update(metadatabase={"status": "healthy"}, scheduler={"status": "unhealthy"}, triggerer=None)
        assert ask_probe(f"health={url}", blocks, "db") == {"health": body, "unhealthy": ["scheduler", "triggerer"]}
        body.update(scheduler={"status": "healthy"})
        del body["triggerer"]
        assert ask_probe(f"health={url}", blocks)["unhealthy"] == []
        # Healthy blocks answer the database and the jobs they report without Airflow...
        answer = ask_probe(f"health={url}", blocks, "db", "jobs=SchedulerJob:scheduler")
        assert (answer["unhealthy"], answer["db"], answer["jobs"]) == ([], True, {"SchedulerJob": True})
        # ...a job type whose block the JSON does not name needs Airflow (not installed here).
        run = subprocess.run([sys.executable, str(ROOT / "roles/airflow/files/airflow_state.py"), f"health={url}",
                              blocks, "db", "jobs=SchedulerJob:scheduler,TriggererJob:triggerer"],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert run.returncode != 0 and "No module named 'airflow'" in run.stderr
        del body["metadatabase"]
        assert ask_probe(f"health={url}", blocks)["unhealthy"] == ["metadatabase"]
    finally:
        server.shutdown()
    closed = f"http://127.0.0.1:{server.server_port}/health"
    assert ask_probe(f"health={closed}", blocks, "db") == {"health": None, "unhealthy": ["web server"]}


FAKE_AIRFLOW = {
    "sqlalchemy/__init__.py": "def text(statement):\n    return statement\n",
    "airflow/__init__.py": "__version__ = {version!r}\n",
    "airflow/utils/__init__.py": "",
    # The table's name before 2.6; from 3.0 the schemas beside Airflow's own.
    "airflow/utils/db.py": """
import os
{heads_name} = {{'2.5.0': 'x25', '2.10.0': 'aaa', '2.10.3': 'bbb', '3.0.0': 'ccc'}}
if os.environ['OTHERS']:
    class RunDBManager:
        def check_migration(self, session):
            return os.environ['OTHERS'] == 'current'
""",
    "airflow/settings.py": "class Session:\n    def close(self):\n        pass\n",
    # The table's rows come from the environment: no database, no SQLAlchemy.
    # DB_DOWN: the driver's message when the database does not answer, which
    # SQLAlchemy wraps (orig) in a message of several lines.
    "airflow/utils/session.py": """
import contextlib, os
class OperationalError(Exception):
    def __init__(self, orig):
        super().__init__('(psycopg2.OperationalError) ' + orig + '\\n(Background on this error at: sqlalche.me)')
        self.orig = orig
class Session:
    def execute(self, statement):
        if os.environ.get('DB_DOWN'):
            raise OperationalError(os.environ['DB_DOWN'])
        if statement == 'SELECT 1':
            return [(1,)]
        assert 'alembic_version' in str(statement)
        return [(head,) for head in os.environ['HEADS'].split()]
@contextlib.contextmanager
def create_session():
    yield Session()
""",
    "airflow/cli/__init__.py": "",
    "airflow/cli/commands/__init__.py": "",
    # Airflow's own check, which reads the migration scripts: it says the
    # schema is behind and leaves a trace that it was asked.
    "airflow/cli/commands/db_command.py": """
import os
def check_migrations(args):
    open(os.environ['ASKED'], 'w').close()
    raise TimeoutError('There are still unapplied migrations')
""",
}


def ask_fake_airflow(tmp_path, version, questions, heads="", others="", db_down=""):
    """The probe's answers on FAKE_AIRFLOW of VERSION, and whether Airflow's own schema check was asked."""
    heads_name = "REVISION_HEADS_MAP" if version.startswith("2.5") else "_REVISION_HEADS_MAP"
    for name, text in FAKE_AIRFLOW.items():
        path = tmp_path / version / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.format(version=version, heads_name=heads_name))
    asked = tmp_path / "asked"
    asked.unlink(missing_ok=True)
    run = subprocess.run([sys.executable, str(ROOT / "roles/airflow/files/airflow_state.py"), *questions],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                         env=dict(os.environ, PYTHONPATH=str(tmp_path / version), HEADS=heads, ASKED=str(asked),
                                  OTHERS=others, DB_DOWN=db_down))
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), asked.exists()


def test_state_probe_reads_the_schema_head_from_airflows_table_of_releases(tmp_path):
    def schema(version, heads, others=""):
        answers, asked = ask_fake_airflow(tmp_path, version, ["schema"], heads=heads, others=others)
        assert answers["database_error"] is None, answers
        return answers["schema"], asked

    # The release's own entry, and a release that added no migration (the newest before it).
    assert schema("2.5.1", "x25") == (True, False)
    assert schema("2.10.3", "bbb") == (True, False)
    assert schema("2.10.5", "bbb") == (True, False)
    assert schema("3.0.6", "ccc", others="current") == (True, False)
    # Anything else is Airflow's check to answer: a schema behind, one with two heads, none at all.
    assert schema("2.10.5", "aaa") == (False, True)
    assert schema("3.0.6", "bbb") == (False, True)
    assert schema("3.0.6", "ccc", others="behind") == (False, True)
    assert schema("3.0.6", "ccc x") == (False, True)
    assert schema("3.0.6", "") == (False, True)
    assert schema("1.10.15", "") == (False, True)


def test_state_probe_says_why_the_database_does_not_answer_and_asks_nothing_more(tmp_path):
    # A line per address the host name resolves to, each with an indented hint.
    refused = 'connection to server at "localhost" (::1), port 5433 failed: Connection refused'
    password = 'connection to server at "localhost" (127.0.0.1), port 5433 failed: FATAL:  password authentication failed'
    answers, asked = ask_fake_airflow(tmp_path, "2.5.1", ["schema", "users"], heads="x25",
                                      db_down=f"{refused}\n\tIs the server running on that host?\n{password}\n")
    assert answers == {"database_error": f"{refused}; {password}"} and not asked


# A psycopg2 that answers the postgresql_pending module's queries from the
# environment (PG_SERVER, JSON): roles and their pg_authid.rolpassword,
# databases and their owner and encoding, and per database the privileges of
# schema public granted to the owner by the schema's owner. PG_DOWN: the
# connection's error.
FAKE_PSYCOPG2 = """
import json, os
SERVER = json.loads(os.environ.get('PG_SERVER', '{}'))
class OperationalError(Exception):
    pass
class Cursor:
    def __init__(self, database):
        self.database, self.rows = database, []
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        pass
    def execute(self, query, params):
        if 'pg_authid' in query:
            self.rows = [(r, v) for r, v in SERVER['roles'].items() if r in params[0]]
        elif 'pg_database' in query:
            self.rows = [(d, *v) for d, v in SERVER['databases'].items() if d in params[0]]
        else:
            assert 'aclexplode' in query and self.database in SERVER['databases']
            self.rows = [(SERVER['grants'].get(self.database, 0),)]
    def fetchall(self):
        return self.rows
    def fetchone(self):
        return self.rows[0]
class Connection(Cursor):
    def cursor(self):
        return Cursor(self.database)
    def close(self):
        pass
def connect(host, dbname, connect_timeout):
    if os.environ.get('PG_DOWN'):
        raise OperationalError(os.environ['PG_DOWN'])
    assert host == '/var/run/postgresql'
    return Connection(dbname)
"""

# Made by PostgreSQL 13 for the password 'correct horse battery'.
VERIFIER = ("SCRAM-SHA-256$4096:XaUd1YhYtz1Ji/JX+8Kg5A==$PUW5HnNrTUiEO1DD27jksVENKHbVojx4AWc/jnk6V04="
            ":DF0H+sY4NrZxh+wE3kqKMpx+yuLpKCvpQGUer65NnBA=")


def ask_pending(tmp_path, server, databases, down=""):
    """The postgresql role's postgresql_pending module's answer for DATABASES on the fake SERVER."""
    (tmp_path / "fake").mkdir(exist_ok=True)
    (tmp_path / "fake/psycopg2.py").write_text(FAKE_PSYCOPG2)
    run = ansible(tmp_path, "ansible", "localhost", "--one-line", "-v", "-m", "postgresql_pending",
                  "-a", json.dumps({"databases": databases}),
                  ANSIBLE_LIBRARY=str(ROOT / "roles/postgresql/library"), ANSIBLE_LOAD_CALLBACK_PLUGINS="0",
                  PYTHONPATH=str(tmp_path / "fake"), PG_SERVER=json.dumps(server), PG_DOWN=down)
    assert run.returncode == 0, run.stdout + run.stderr
    assert all(entry["password"] not in run.stdout + run.stderr for entry in databases)
    result = json.loads(run.stdout.split("=>", 1)[1])
    assert result["changed"] is False
    return result["roles"], result["databases"], result["grants"], result["error"]


def test_postgresql_pending_names_only_what_differs(tmp_path):
    airflow = {"name": "airflow", "user": "airflow", "password": "correct horse battery"}
    warehouse = {"name": "warehouse", "user": "warehouse", "password": "correct horse battery"}
    server = {"roles": {"airflow": VERIFIER, "warehouse": VERIFIER},
              "databases": {"airflow": ["airflow", "UTF8"], "warehouse": ["warehouse", "UTF8"]},
              "grants": {"airflow": 2, "warehouse": 2}}
    assert ask_pending(tmp_path, server, [airflow, warehouse]) == ([], [], [], "")

    # Another password; a role with an MD5 hash or none; a password the server would normalise.
    assert ask_pending(tmp_path, server, [airflow, dict(warehouse, password="correct horse batteries")])[0] == ["warehouse"]
    md5 = dict(server, roles={"airflow": "md5" + "0" * 32, "warehouse": None})
    assert ask_pending(tmp_path, md5, [airflow, warehouse])[0] == ["airflow", "warehouse"]
    assert ask_pending(tmp_path, server, [dict(airflow, password="correct horse battery\u00a0")])[0] == ["airflow"]

    # A database owned by another role, in another encoding, or missing: it and its grant.
    for databases in ({"airflow": ["postgres", "UTF8"]}, {"airflow": ["airflow", "SQL_ASCII"]}, {}):
        assert ask_pending(tmp_path, dict(server, databases=databases), [airflow]) == ([], ["airflow"], ["airflow"], "")
    # One of the two privileges missing.
    assert ask_pending(tmp_path, dict(server, grants={"airflow": 1}), [airflow]) == ([], [], ["airflow"], "")

    # No server: everything is left to the community modules, the answer says why, and so does a warning.
    assert ask_pending(tmp_path, server, [airflow, warehouse], down="could not connect to server") == (
        ["airflow", "warehouse"], ["airflow", "warehouse"], ["airflow", "warehouse"], "could not connect to server")
    run = run_task(tmp_path, {"postgresql_pending": {"databases": [airflow]}},
                   ANSIBLE_LIBRARY=str(ROOT / "roles/postgresql/library"), PYTHONPATH=str(tmp_path / "fake"),
                   PG_SERVER=json.dumps(server), PG_DOWN="could not connect to server")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[WARNING]: PostgreSQL could not be read" in run.stdout + run.stderr, run.stdout + run.stderr
