"""Start Airflow 2's web server the way `airflow webserver` starts it, minus
the CLI process that stays behind to watch gunicorn.

That process imports the whole web application only to restart gunicorn
workers now and then, and holds about 100 MiB for it; systemd already
restarts a web server that dies. This script reads the same airflow.cfg
options, then replaces itself with gunicorn (same PID, so systemd's
MainPID is gunicorn's master). Extra arguments (--pid FILE) go to gunicorn.
"""
import os
import sys

from airflow.configuration import conf

section = "webserver"
host = conf.get(section, "web_server_host")
port = conf.get(section, "web_server_port")
argv = [
    sys.executable, "-m", "gunicorn",
    "--workers", conf.get(section, "workers"),
    "--worker-class", conf.get(section, "worker_class"),
    "--timeout", conf.get(section, "web_server_worker_timeout"),
    "--bind", f"{host}:{port}",
    "--name", "airflow-webserver",
    "--config", "python:airflow.www.gunicorn_config",
    "--access-logfile", conf.get(section, "access_logfile"),
    "--error-logfile", conf.get(section, "error_logfile"),
]
access_logformat = conf.get(section, "access_logformat", fallback="")
if access_logformat.strip():
    argv += ["--access-logformat", access_logformat]
cert = conf.get(section, "web_server_ssl_cert")
key = conf.get(section, "web_server_ssl_key")
if cert or key:
    argv += ["--certfile", cert, "--keyfile", key]
# --preload: the app is built once, before the workers fork, so workers do
# not write to the database at the same time (Airflow's reason too).
argv += ["--preload", "airflow.www.app:cached_app()"] + sys.argv[1:]
sys.stdout.flush()
os.execv(sys.executable, argv)
