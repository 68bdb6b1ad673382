#!/usr/bin/env bash
# Make sure this machine can run the test and demo containers: a running
# Docker engine, debootstrap, git and an SSH client. Installs what is missing with apt
# (needs root) and starts the engine if it is not running. Idempotent.
set -euo pipefail

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v git >/dev/null || missing+=(git)
command -v ssh >/dev/null || missing+=(openssh-client)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "prepare-host: please install ${missing[*]} (Debian/Ubuntu package names)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "prepare-host: the Docker engine is not running (or you may not use it)" >&2
    exit 1
  fi
  if [ -d /run/systemd/system ]; then
    systemctl start docker
  else
    # No systemd (a CI sandbox): run the engine in the background.
    nohup dockerd >/var/log/dockerd.log 2>&1 &
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "prepare-host: dockerd did not start, see /var/log/dockerd.log" >&2; exit 1; }
fi
echo "prepare-host: docker $(docker version --format '{{.Server.Version}}'), debootstrap and git are ready" >&2
