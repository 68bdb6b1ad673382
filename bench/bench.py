#!/usr/bin/env python3
"""Time the project against plain commands on fresh containers, and measure Airflow's memory.

For each Airflow version: a shell script that reaches a healthy Airflow the
shortest way (the floor), a cold converge of playbooks/site.yml, an
idempotent re-run, a re-run with one setting changed, the idle memory of each
service, and the container's peak memory while a DAG of 16 parallel tasks
runs; with --ssh also a cold converge and a re-run over SSH. Prints Markdown
tables; a slow result is a figure, never a failure. Exits 1 when a step
failed, a re-run changed something, the fan-out run failed or a process was
OOM-killed.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import recap  # noqa: E402  the tests' reading of PLAY RECAP

HERE = Path(__file__).resolve().parent
ROOT, BIN = HERE.parent, Path(sys.executable).parent
PREFIX = "airflow-bench-"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
DAG_FILE = HERE / "dags" / "fanout_16.py"
# Its TASKS, MEBIBYTES and SECONDS, for the report.
FANOUT = dict(re.findall(r"^(TASKS|MEBIBYTES|SECONDS) = (\d+)$", DAG_FILE.read_text(), re.M))
REPO_MOUNT = "/srv/example-dags"
SUITES = {"3.9": ("bullseye", "11"), "3.11": ("bookworm", "12")}  # Python of a constraints file -> Debian
# As molecule/default/molecule.yml, sized like a t3.small (2 vCPUs, 2 GiB, no swap).
RUN_FLAGS = ["--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--cgroupns", "host",
             "--tmpfs", "/run", "--tmpfs", "/run/lock", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
             "--memory", "2g", "--memory-swap", "2g", "--cpus", "2"]
START = time.monotonic()


def load(path):
    return yaml.safe_load((ROOT / path).read_text())


AIRFLOW_DEFAULTS = load("roles/airflow/defaults/main.yml")
AIRFLOW_VARS = load("roles/airflow/vars/main.yml")
SERVICE_VARS = load("roles/airflow_service/vars/main.yml")


class StepFailed(Exception):
    """A step that did not reach its end state; output is what it printed."""

    def __init__(self, message, output=""):
        super().__init__(message)
        self.output = output


def log(message):
    """One progress line on stderr, with the time since the start."""
    minutes, seconds = divmod(int(time.monotonic() - START), 60)
    print(f"[{minutes:3d}:{seconds:02d}] {message}", file=sys.stderr, flush=True)


def run(args, *, input=None, timeout=600, check=True, merge=False, **kwargs):
    """Run ARGS with text output captured (MERGE: stderr into stdout); a failure or timeout raises StepFailed."""
    args = [str(arg) for arg in args]
    command = " ".join([Path(args[0]).name, *args[1:2]])
    try:
        result = subprocess.run(args, input=input, text=True, timeout=timeout, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT if merge else subprocess.PIPE, **kwargs)
    except subprocess.TimeoutExpired as error:
        output = error.stdout or ""
        raise StepFailed(f"{command}: no answer after {timeout} s",
                         output.decode(errors="replace") if isinstance(output, bytes) else output) from None
    if check and result.returncode != 0:
        raise StepFailed(f"{command} exited with {result.returncode}", result.stdout + (result.stderr or ""))
    return result


def docker(*args, **kwargs):
    return run(["docker", *args], **kwargs)


def put(container, path, text, owner="root:root"):
    """Write TEXT to PATH in CONTAINER, mode 0644 (links on the way are followed)."""
    docker("exec", "-i", container, "sh", "-c", 'cat > "$1" && chown "$2" "$1" && chmod 0644 "$1"',
           "sh", path, owner, input=text)


def airflow_cli(container, *args, check=True):
    """Airflow's CLI as the airflow user, as the README runs it."""
    return docker("exec", container, "sudo", "-iu", "airflow", "airflow", *args, check=check, timeout=300)


class Target:
    """One Airflow version: its constraints file in examples/, its Debian, and what the roles do for its line."""

    def __init__(self, version):
        files = sorted((ROOT / "examples").glob(f"constraints-{version}-*.txt"))
        python = files[0].stem.rsplit("-", 1)[1] if files else None
        releases = AIRFLOW_VARS["__airflow_releases"]
        release = {**releases.get(".".join(version.split(".")[:2]), {}), **releases.get(version, {})}
        if python not in SUITES or "major" not in release:
            sys.exit(f"bench.py: Airflow {version} needs a release the airflow role knows and an "
                     f"examples/constraints-{version}-PY.txt, PY one of {', '.join(SUITES)}")
        self.version, self.constraints, (self.suite, self.debian) = version, files[0], SUITES[python]
        self.major, self.db_command = release["major"], release["db"]
        self.line = AIRFLOW_VARS["__airflow_majors"][self.major]
        self.health_path = SERVICE_VARS["__airflow_service_majors"][self.major]["health_path"]
        self.image = f"airflow-ansible/debian{self.debian}-systemd:latest"


class Containers:
    """The containers of this run: removed once measured, or with keep stopped (so they use no CPU)."""

    def __init__(self, keep):
        self.keep, self.names = keep, []

    def start(self, name, image, volumes=()):
        """Start NAME with systemd as PID 1 and wait until it has booted; returns the seconds it took.

        The floor and the converge of one image share its apt archive (one at a time), so neither pays for
        downloads the other does not."""
        caches = {ROOT / ".cache/pip": "/root/.cache/pip", ROOT / ".cache/uv": "/root/.cache/uv",
                  ROOT / ".cache/apt" / f"bench-{image.rsplit('/', 1)[-1].split(':')[0]}": "/var/cache/apt/archives"}
        for folder in caches:
            folder.mkdir(parents=True, exist_ok=True)
        mounts = [f"{folder}:{path}" for folder, path in caches.items()] + list(volumes)
        self.names.append(name)
        started = time.monotonic()
        docker("run", "--detach", "--name", name, "--hostname", name, *RUN_FLAGS,
               *[arg for mount in mounts for arg in ("--volume", mount)], image, "/lib/systemd/systemd")
        deadline = time.monotonic() + 300
        while True:  # "offline", or no bus at all, for a moment after the start
            state = docker("exec", name, "systemctl", "is-system-running", "--wait", check=False, timeout=300)
            if state.stdout.strip() in ("running", "degraded") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if state.stdout.strip() not in ("running", "degraded"):
            raise StepFailed(f"{name} did not boot: {state.stdout.strip()}", state.stdout + state.stderr)
        return time.monotonic() - started

    def done(self, name):
        if name in self.names:
            self.names.remove(name)
            docker(*(["stop", "--time", "5"] if self.keep else ["rm", "--force"]), name, check=False)

    def close(self):
        for name in list(self.names):
            self.done(name)


def wait_healthy(container, target, timeout=300):
    """Wait until the health endpoint reports the database and every component it knows of healthy."""
    url = f"http://127.0.0.1:8080{target.health_path}"
    optional = ["triggerer"] + (["dag_processor"] if target.major == "3" else [])
    deadline, answer = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        result = docker("exec", container, "curl", "-sS", "--max-time", "5", url, check=False)
        answer = result.stdout + result.stderr
        try:
            health = json.loads(result.stdout)
        except ValueError:
            health = {}
        blocks = ["metadatabase", "scheduler"] + [block for block in optional if block in health]
        if health and all((health.get(block) or {}).get("status") == "healthy" for block in blocks):
            return
        time.sleep(2)
    journal = docker("exec", container, "journalctl", "--no-pager", "-n", "40", "-u", "airflow-*", check=False)
    raise StepFailed(f"{url} not healthy after {timeout} s", f"{answer}\n{journal.stdout}")


def run_floor(target, containers, name, volumes, installer):
    """Reach a healthy Airflow with plain commands; returns (seconds, boot seconds, seconds per phase)."""
    boot = containers.start(name, target.image, volumes)
    log(f"{name}: booted in {boot:.0f} s, installing with plain commands ({installer})")
    postgresql = str(load(f"roles/postgresql/vars/Debian-{target.debian}.yml")["__postgresql_version"])
    extras = ",".join(dict.fromkeys(AIRFLOW_DEFAULTS["airflow_extras"] + target.line["extras"]))
    put(name, "/root/constraints.txt", target.constraints.read_text())
    put(name, "/root/host-ca.crt", HOST_CA.read_text() if HOST_CA.is_file() else "")
    env = {"AIRFLOW_VERSION": target.version, "MAJOR": target.major, "WORKERS": target.line["workers"],
           "INSTALLER": installer, "REPO_MOUNT": REPO_MOUNT,
           "REQUIREMENT": f"apache-airflow[{extras}]=={target.version}",
           "BASE_PACKAGES": " ".join(load("roles/base/defaults/main.yml")["base_packages"]),
           "POSTGRESQL_PACKAGES": " ".join(package.replace("{{ __postgresql_version }}", postgresql) for package
                                           in load("roles/postgresql/vars/main.yml")["__postgresql_packages"]),
           "UV_PACKAGE": AIRFLOW_DEFAULTS["airflow_uv_package"], "DB_COMMAND": target.db_command,
           "DB_PASSWORD": secrets.token_hex(16)}
    # A file only this user reads, so that the password is in no command line.
    with tempfile.NamedTemporaryFile("w", prefix="airflow-bench-env-") as env_file:
        env_file.write("".join(f"{key}={value}\n" for key, value in env.items()))
        env_file.flush()
        started = time.monotonic()
        result = docker("exec", "--env-file", env_file.name, name, "bash", "-c", (HERE / "floor.sh").read_text(),
                        timeout=3600)
    marks = [(label, float(stamp)) for label, stamp in re.findall(r"^@@phase (\S+) (\S+)$", result.stdout, re.M)]
    marks.append(("health", time.time()))
    wait_healthy(name, target)
    marks.append(("end", time.time()))
    return time.monotonic() - started, boot, {label: end - begin for (label, begin), (_, end) in zip(marks, marks[1:])}


def write_inventory(work, host, target, connection):
    """An inventory of HOST alone (JSON, which the YAML inventory plugin reads) with the bench's inputs."""
    host_vars = {**connection, "airflow_version": target.version, "airflow_constraints_file": str(target.constraints),
                 "airflow_dags_repo": f"file://{REPO_MOUNT}"}
    if HOST_CA.is_file():
        host_vars["base_ca_certificates"] = [str(HOST_CA)]
    path = work / f"inventory-{host}.yml"
    path.write_text(json.dumps({"airflow": {"hosts": {host: host_vars}}}, indent=2))
    return path


def converge(inventory, host, label, work, *extra, expect_zero=False):
    """Run playbooks/site.yml; returns (seconds, changed). The output goes to WORK/HOST-LABEL.log."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CACHE_PLUGIN="memory", ANSIBLE_PIPELINING="True", ANSIBLE_HOST_KEY_CHECKING="False",
               PATH=f"{BIN}:{os.environ['PATH']}")
    started = time.monotonic()
    result = run([BIN / "ansible-playbook", "-i", inventory, *extra, ROOT / "playbooks/site.yml"],
                 env=env, cwd=ROOT, timeout=3600, check=False, merge=True)
    seconds = time.monotonic() - started
    (work / f"{host}-{label}.log").write_text(result.stdout)
    if result.returncode != 0:
        raise StepFailed(f"site.yml ({label}) exited with {result.returncode}", result.stdout)
    changed = recap(result.stdout, host)["changed"]
    if expect_zero and changed:
        log(f"{host} {label}: changed={changed} (expected 0)")
    return seconds, changed


def idle_pss(container):
    """PSS in MiB of every active airflow-* and PostgreSQL unit."""
    output = docker("exec", container, "bash", "-c", (HERE / "pss.sh").read_text()).stdout
    sizes = {unit.removesuffix(".service"): (int(kib) / 1024, int(count))
             for unit, kib, count in (line.split() for line in output.splitlines() if line.strip())}
    if not sizes or any(count == 0 for _, count in sizes.values()):
        raise StepFailed("a unit without processes, or no unit at all", output)
    return {unit: mib for unit, (mib, _) in sizes.items()}


class MemorySampler(threading.Thread):
    """Samples a container's memory once a second from the host's cgroup files (docker stats without them)."""

    def __init__(self, container):
        super().__init__(daemon=True)
        self.container, self.peak, self.stopping = container, 0, threading.Event()
        cid, root = docker("inspect", "-f", "{{.Id}}", container).stdout.strip(), Path("/sys/fs/cgroup")
        candidates = [root / f"system.slice/docker-{cid}.scope", root / "docker" / cid,
                      root / f"memory/system.slice/docker-{cid}.scope", root / "memory/docker" / cid]
        self.v2 = next((d for d in candidates if (d / "memory.current").exists()), None)
        self.dir = self.v2 or next((d for d in candidates if (d / "memory.usage_in_bytes").exists()), None)

    def usage(self):
        """Bytes in use less inactive file cache: the working set docker stats shows."""
        if self.dir is None:
            text = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", self.container).stdout
            number, unit = re.match(r"\s*([\d.]+)\s*(\w+)", text).groups()
            return float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}.get(unit, 1)
        usage = int((self.dir / ("memory.current" if self.v2 else "memory.usage_in_bytes")).read_text())
        stat = dict(line.split()[:2] for line in (self.dir / "memory.stat").read_text().splitlines())
        return max(usage - int(stat.get("inactive_file" if self.v2 else "total_inactive_file", 0)), 0)

    def oom_kills(self):
        """OOM kills in the container since it started, or None where the kernel does not say."""
        events = self.dir and self.dir / ("memory.events" if self.v2 else "memory.oom_control")
        match = events and re.search(r"^oom_kill (\d+)", events.read_text(), re.M)
        return int(match.group(1)) if match else None

    def run(self):
        while True:
            try:
                self.peak = max(self.peak, self.usage())
            except (OSError, ValueError, AttributeError, StepFailed):
                pass
            if self.stopping.wait(1.0):
                return


def fan_out(container, timeout):
    """Run bench_fanout once while sampling memory; returns (state, seconds, peak MiB, OOM kills)."""
    folder = docker("exec", container, "readlink", "-f", AIRFLOW_DEFAULTS["airflow_home"] + "/dags").stdout.strip()
    put(container, f"{folder}/{DAG_FILE.name}", DAG_FILE.read_text(), owner="airflow:airflow")
    airflow_cli(container, "dags", "reserialize")
    deadline = time.monotonic() + 180
    while "bench_fanout" not in airflow_cli(container, "dags", "list", "-o", "json", check=False).stdout:
        if time.monotonic() > deadline:
            raise StepFailed("bench_fanout is not in `airflow dags list`",
                             airflow_cli(container, "dags", "list-import-errors", check=False).stdout)
        time.sleep(5)
    airflow_cli(container, "dags", "unpause", "bench_fanout")
    # The run's state from the table, by psql: an Airflow CLI start every few
    # seconds would cost a core and add its own 100 MiB to the peak.
    query = ["exec", container, "runuser", "-u", "postgres", "--", "psql", "-d", AIRFLOW_DEFAULTS["airflow_db_name"],
             "-tAc", "SELECT state FROM dag_run WHERE dag_id = 'bench_fanout' ORDER BY id DESC LIMIT 1"]
    sampler = MemorySampler(container)
    sampler.start()
    started, state, problem = time.monotonic(), "none", ""
    try:
        airflow_cli(container, "dags", "trigger", "bench_fanout")
        while state not in ("success", "failed"):
            if time.monotonic() - started > timeout:
                state = f"{state} after {timeout} s{' (psql: ' + problem + ')' if problem else ''}"
                break
            time.sleep(2)
            answer = docker(*query, check=False, timeout=60)
            state, problem = answer.stdout.strip() or state, answer.stderr.strip()
    finally:
        sampler.stopping.set()
        sampler.join()
    return state, time.monotonic() - started, sampler.peak / 2**20, sampler.oom_kills()


def step(row, key, label, action):
    """Run ACTION as one step; on failure mark ROW[KEY] failed, show its output's end and raise StepFailed."""
    log(f"{label} ...")
    started = time.monotonic()
    try:
        value = action()
    except Exception as error:  # reported here; the caller goes on with the next version
        row[key] = "failed"
        output = error.output if isinstance(error, StepFailed) else traceback.format_exc()
        log(f"{label}: FAILED after {time.monotonic() - started:.0f} s: {error}")
        print("\n".join("    " + line for line in output.splitlines()[-40:]), file=sys.stderr)
        raise StepFailed(str(error)) from error
    log(f"{label}: done in {time.monotonic() - started:.0f} s")
    return value


def bench_version(target, opts, containers, work, row, ssh_row):
    """Every measurement of one version, into ROW (and SSH_ROW with --ssh)."""
    version, mounts = target.version, [f"{work / 'dags-repo'}:{REPO_MOUNT}:ro"]
    floor = f"{PREFIX}floor-{version}"
    try:
        row["floor"], row["boot"], row["phases"] = step(
            row, "floor", f"{version} floor", lambda: run_floor(target, containers, floor, mounts, opts.installer))
    finally:
        containers.done(floor)

    site = f"{PREFIX}site-{version}"
    inventory = write_inventory(work, site, target, {"ansible_connection": "community.docker.docker",
                                                     "ansible_host": site})
    lifetime = {"airflow_session_lifetime_minutes": AIRFLOW_DEFAULTS["airflow_session_lifetime_minutes"] + 1}
    try:
        step(row, "cold", f"{version} boot {site}", lambda: containers.start(site, target.image, mounts))
        row["cold"] = step(row, "cold", f"{version} cold converge", lambda: converge(inventory, site, "cold", work))
        row["rerun"] = step(row, "rerun", f"{version} re-run",
                            lambda: converge(inventory, site, "rerun", work, expect_zero=True))
        row["change"] = step(row, "change", f"{version} re-run with -e '{json.dumps(lifetime)}'",
                             lambda: converge(inventory, site, "change", work, "-e", json.dumps(lifetime)))
        log(f"{version}: letting the restarted services settle for {opts.settle} s")
        time.sleep(opts.settle)
        row["pss"] = step(row, "pss", f"{version} idle PSS", lambda: idle_pss(site))
        row["fanout"] = step(row, "fanout", f"{version} bench_fanout run",
                             lambda: fan_out(site, opts.fanout_timeout))
    finally:
        containers.done(site)
    if opts.ssh:
        bench_ssh(target, containers, work, mounts, ssh_row)


def start_ssh_host(target, containers, name, volumes):
    """Build the SSH stand-in image if needed, start it and wait for sshd; returns its address."""
    image = run([ROOT / "images/build.sh", target.suite, "ssh"], timeout=1800).stdout.split()[-1]
    containers.start(name, image, volumes)
    address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", name).stdout.split()
    deadline = time.monotonic() + 60
    while address:
        try:
            socket.create_connection((address[0], 22), timeout=2).close()
            return address[0]
        except OSError:
            if time.monotonic() > deadline:
                break
            time.sleep(1)
    raise StepFailed(f"no sshd answers on {name} ({' '.join(address) or 'no address'})")


def bench_ssh(target, containers, work, mounts, row):
    """Cold converge and re-run over SSH (pipelining, ControlPersist) on the SSH stand-in."""
    name, key = f"{PREFIX}ssh-{target.version}", work / "id_ed25519"
    if not key.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "airflow-bench", "-f", key])
    try:
        address = step(row, "cold", f"{target.version} boot {name}", lambda: start_ssh_host(
            target, containers, name, [*mounts, f"{key}.pub:/home/ubuntu/.ssh/authorized_keys:ro"]))
        inventory = write_inventory(work, name, target, {
            "ansible_host": address, "ansible_user": "ubuntu", "ansible_ssh_private_key_file": str(key),
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"})
        row["cold"] = step(row, "cold", f"{target.version} cold converge over SSH",
                           lambda: converge(inventory, name, "cold", work))
        row["rerun"] = step(row, "rerun", f"{target.version} re-run over SSH",
                            lambda: converge(inventory, name, "rerun", work, expect_zero=True))
    finally:
        containers.done(name)


def publish_dags(path):
    """A git repository with examples/dags in its dags folder, as playbooks/tasks/publish_dags_repo.yml makes."""
    git = ["git", "-C", path, "-c", "user.name=airflow-bench", "-c", "user.email=airflow-bench@localhost"]
    run(["git", "init", "--quiet", path])
    shutil.copytree(ROOT / "examples/dags", path / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    run([*git, "add", "--all"])
    run([*git, "commit", "--quiet", "--message", "Publish DAGs from dags"])


def cell(row, key, show):
    """ROW[KEY] through SHOW; 'failed' for a failed step, 'skipped' for one that did not run."""
    value = row.get(key)
    return value if isinstance(value, str) else "skipped" if value is None else show(value)


def seconds_changed(value, expect_zero=True):
    seconds, changed = value
    return f"{seconds:.0f} ({f'changed={changed} (expected 0)' if expect_zero and changed else changed})"


def ratio(row, floor):
    cold, base = row.get("cold"), floor.get("floor")
    return f"{cold[0] / base:.2f}" if isinstance(cold, tuple) and isinstance(base, float) else "—"


def table_row(*cells):
    return "| " + " | ".join(cells) + " |"


def report(targets, rows, ssh_rows, opts):
    """The results as Markdown: the machine, the main table, PSS per service, the floor's phases."""
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 2**20
    cgroup = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"
    header = ["Airflow", "floor s", "cold converge s", "cold ÷ floor", "re-run s (changed)",
              "one change s (changed)", "idle PSS MiB", "fan-out peak MiB", "OOM kills", "fan-out run"]
    lines = [f"## airflow-ansible benchmark, {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}", "",
             f"Machine: {os.cpu_count()} CPUs, {memory:.1f} GiB memory, cgroup {cgroup}, load average "
             f"{opts.load:.2f} at the start. Containers: 2 CPUs, 2 GiB, no swap. Floor installer: {opts.installer}.",
             "", table_row(*header), table_row(*["---"] * len(header))]
    for target in targets:
        row, ssh = rows.get(target.version, {}), ssh_rows.get(target.version, {})
        fan = row.get("fanout")
        fan_cells = ([f"{fan[2]:.0f}", "n/a" if fan[3] is None else str(fan[3]), f"{fan[0]} in {fan[1]:.0f} s"]
                     if isinstance(fan, tuple) else [cell(row, "fanout", str)] * 3)
        lines.append(table_row(target.version, cell(row, "floor", lambda v: f"{v:.0f}"),
                               cell(row, "cold", lambda v: f"{v[0]:.0f}"), ratio(row, row),
                               cell(row, "rerun", seconds_changed),
                               cell(row, "change", lambda v: seconds_changed(v, expect_zero=False)),
                               cell(row, "pss", lambda v: f"{sum(v.values()):.0f}"), *fan_cells))
        if opts.ssh:
            lines.append(table_row(f"{target.version} over SSH", "—", cell(ssh, "cold", lambda v: f"{v[0]:.0f}"),
                                   ratio(ssh, row), cell(ssh, "rerun", seconds_changed), *["—"] * 5))
    lines += ["", table_row("Airflow", "service", "idle PSS MiB"), table_row("---", "---", "---")]
    for target in targets:
        pss = rows.get(target.version, {}).get("pss")
        lines += [table_row(target.version, unit, f"{mib:.0f}")
                  for unit, mib in (sorted(pss.items()) if isinstance(pss, dict) else [])]
    lines.append("")
    for target in targets:
        row = rows.get(target.version, {})
        if isinstance(row.get("phases"), dict):
            phases = ", ".join(f"{label} {seconds:.0f} s" for label, seconds in row["phases"].items())
            lines.append(f"- {target.version} floor phases (boot {row['boot']:.0f} s, not counted): {phases}")
    lines += ["- Package caches (.cache/pip, .cache/uv, .cache/apt/bench-<image>) are shared and kept: the first "
              "run of a version on this machine pays for downloads that later runs do not.",
              "- One change: airflow_session_lifetime_minutes + 1 (airflow.cfg changes, the services restart).",
              f"- Fan-out: bench_fanout's {FANOUT['TASKS']} tasks hold {FANOUT['MEBIBYTES']} MiB for "
              f"{FANOUT['SECONDS']} s each, as many at a time as the host's airflow_parallelism. Peak: "
              "the highest 1 s sample of the container's cgroup memory less inactive file cache; OOM kills: the "
              "cgroup's count since the container started."]
    return "\n".join(lines)


def problems(targets, rows, ssh_rows):
    """What makes the run a failure (slowness never does): a failed step, a re-run that changed
    something, an OOM kill, a fan-out run that did not succeed."""
    found = []
    for target in targets:
        for label, row in ((target.version, rows.get(target.version, {})),
                           (f"{target.version} over SSH", ssh_rows.get(target.version, {}))):
            found += [f"{label}: {key} {value}" for key, value in row.items() if value == "failed"]
            rerun = row.get("rerun")
            if isinstance(rerun, tuple) and rerun[1]:
                found.append(f"{label}: the re-run reported changed={rerun[1]}, not 0")
            fan = row.get("fanout")
            if isinstance(fan, tuple) and fan[0] != "success":
                found.append(f"{label}: the bench_fanout run ended {fan[0]}")
            if isinstance(fan, tuple) and fan[3]:
                found.append(f"{label}: {fan[3]} OOM kills during the fan-out")
    return found


def interrupt(signum, frame):
    """SIGTERM: clean up as on Ctrl-C."""
    raise KeyboardInterrupt


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", default="2.5.1,3.3.2", help="Airflow versions, comma-separated, each with "
                        "an examples/constraints-VERSION-PY.txt (default: %(default)s)")
    parser.add_argument("--ssh", action="store_true", help="also converge and re-run over SSH on the SSH stand-in")
    parser.add_argument("--keep", action="store_true", help="keep the containers (each stopped once measured; "
                        "docker start NAME brings it back) and the work folder")
    parser.add_argument("--installer", choices=["uv", "pip"], default=AIRFLOW_DEFAULTS["airflow_installer"],
                        help="what installs Airflow in the floor script (default: the airflow role's, %(default)s)")
    parser.add_argument("--settle", type=int, default=30,
                        help="seconds of idle after the last re-run before PSS is read (default: %(default)s)")
    parser.add_argument("--fanout-timeout", type=int, default=600,
                        help="seconds to wait for the bench_fanout run (default: %(default)s)")
    opts = parser.parse_args()
    targets = [Target(version.strip()) for version in opts.versions.split(",") if version.strip()]
    if not (BIN / "ansible-playbook").exists():
        sys.exit(f"bench.py: no ansible-playbook beside {sys.executable}: run make venv and use .venv/bin/python")
    names = {f"{PREFIX}{kind}-{target.version}" for target in targets for kind in ("floor", "site", "ssh")}
    try:
        existing = names & set(docker("ps", "--all", "--format", "{{.Names}}").stdout.split())
    except (OSError, StepFailed) as error:
        sys.exit(f"bench.py: docker does not answer (make host installs it): {error}")
    if existing:
        sys.exit(f"bench.py: containers of an earlier run are in the way: docker rm --force {' '.join(sorted(existing))}")
    opts.load, interrupted = os.getloadavg()[0], False
    signal.signal(signal.SIGTERM, interrupt)
    work, containers, rows, ssh_rows = Path(tempfile.mkdtemp(prefix=PREFIX)), Containers(opts.keep), {}, {}
    try:
        publish_dags(work / "dags-repo")
        for target in targets:
            rows[target.version], ssh_rows[target.version] = {}, {}
            try:
                bench_version(target, opts, containers, work, rows[target.version], ssh_rows[target.version])
            except StepFailed:
                log(f"{target.version}: its remaining steps are skipped")
    except KeyboardInterrupt:
        log("interrupted")
        interrupted = True
    finally:
        containers.close()
        if opts.keep:
            log(f"kept the work folder {work} (inventories, playbook logs, credentials)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(report(targets, rows, ssh_rows, opts))
    found = problems(targets, rows, ssh_rows)
    for problem in found:
        print(f"bench.py: {problem}", file=sys.stderr)
    sys.exit(130 if interrupted else 1 if found else 0)


if __name__ == "__main__":
    main()
