#!/usr/bin/env bash
# The floor of bench.py: a healthy Airflow on a fresh Debian systemd
# container by plain commands, the end state of playbooks/site.yml without
# its checks. bench.py runs it with docker exec after copying in
# /root/constraints.txt and /root/host-ca.crt (empty when the host has none).
# Input in the environment: AIRFLOW_VERSION, MAJOR (2 or 3), WORKERS,
# INSTALLER (uv or pip), REQUIREMENT, UV_PACKAGE, BASE_PACKAGES,
# POSTGRESQL_PACKAGES, REPO_MOUNT, DB_COMMAND (upgrade or migrate),
# DB_PASSWORD. Prints "@@phase NAME EPOCH" as a phase starts.
set -euo pipefail
phase() { echo "@@phase $1 $(date +%s.%N)"; }
as_airflow() { runuser -u airflow -- "$@"; }
export DEBIAN_FRONTEND=noninteractive

phase packages
if [ -s /root/host-ca.crt ]; then
  cp /root/host-ca.crt /usr/local/share/ca-certificates/host-ca.crt
  update-ca-certificates
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi
apt-get update -q
apt-get install -y -q --no-install-recommends $BASE_PACKAGES
apt-get install -y -q $POSTGRESQL_PACKAGES

phase database
# On standard input, so that the password is in no process's command line.
runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<SQL
CREATE ROLE airflow LOGIN PASSWORD '$DB_PASSWORD';
CREATE DATABASE airflow OWNER airflow ENCODING 'UTF8' TEMPLATE template0;
SQL

phase user+dags
useradd --system --user-group --create-home --home-dir /var/lib/airflow --shell /bin/bash airflow
chmod 0750 /var/lib/airflow
as_airflow git config --global --add safe.directory '*'
as_airflow git clone -q "file://$REPO_MOUNT" /var/lib/airflow/dags-repo
as_airflow ln -s /var/lib/airflow/dags-repo/dags /var/lib/airflow/dags

phase install
install -d /opt/airflow
install -m 0644 /root/constraints.txt /opt/airflow/constraints.txt
venv=/opt/airflow/venv-$AIRFLOW_VERSION
if [ "$INSTALLER" = uv ]; then
  export UV_LINK_MODE=copy UV_SYSTEM_CERTS=true UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
  python3 -m venv /opt/airflow/uv
  /opt/airflow/uv/bin/pip install -q "$UV_PACKAGE"
  /opt/airflow/uv/bin/uv venv -q --seed --python /usr/bin/python3 "$venv"
  /opt/airflow/uv/bin/uv pip install -q --python "$venv/bin/python" --compile-bytecode \
    -c /opt/airflow/constraints.txt "$REQUIREMENT"
else
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'pip>=23.0'
  "$venv/bin/pip" install -q -c /opt/airflow/constraints.txt "$REQUIREMENT"
fi
ln -s "$venv" /opt/airflow/venv

# The airflow.cfg settings of the airflow role, as environment for the CLI
# and the services; the services of the airflow_service role's units.
phase schema
(umask 077; cat > /etc/default/airflow) <<EOF
AIRFLOW_HOME=/var/lib/airflow
SQLALCHEMY_SILENCE_UBER_WARNING=1
PATH=/opt/airflow/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
AIRFLOW__CORE__EXECUTOR=LocalExecutor
AIRFLOW__CORE__DAGS_FOLDER=/var/lib/airflow/dags
AIRFLOW__CORE__LOAD_EXAMPLES=False
AIRFLOW__CORE__PARALLELISM=8
AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS=False
AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=postgresql+psycopg2://airflow:$DB_PASSWORD@localhost:5432/airflow
EOF
if [ "$MAJOR" = 2 ]; then
  printf '%s\n' AIRFLOW__WEBSERVER__WEB_SERVER_PORT=8080 "AIRFLOW__WEBSERVER__WORKERS=$WORKERS" >> /etc/default/airflow
  services=("webserver --port 8080" "scheduler --skip-serve-logs" "triggerer")
else
  printf '%s\n' AIRFLOW__API__PORT=8080 "AIRFLOW__API__WORKERS=$WORKERS" \
    AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager \
    AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:8080/execution/ \
    AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES=1 >> /etc/default/airflow
  services=("api-server --port 8080" "scheduler --skip-serve-logs" "dag-processor" "triggerer --skip-serve-logs")
fi
set -a; . /etc/default/airflow; set +a
as_airflow /opt/airflow/venv/bin/airflow db "$DB_COMMAND"

phase admin
# Nothing logs in with it: a random password keeps it off the command line.
as_airflow /opt/airflow/venv/bin/airflow users create --role Admin --username admin --email admin@example.com \
  --firstname Airflow --lastname Admin --use-random-password

phase services
for service in "${services[@]}"; do
  read -r command args <<< "$service"
  systemd-run --quiet --unit "airflow-$command" --uid airflow --gid airflow --working-directory /var/lib/airflow \
    -p EnvironmentFile=/etc/default/airflow -p Restart=always -p PrivateTmp=yes \
    /opt/airflow/venv/bin/airflow $command $args
done
