#!/usr/bin/env bash
# Build a systemd-capable Debian image for the molecule tests and the local
# demo host, from debootstrap (no registry pull). Reuses an existing image.
#
#   images/build.sh [SUITE [FLAVOR]]
#     SUITE:  bullseye (default) or bookworm
#     FLAVOR: systemd (default), or ssh: sshd and a "ubuntu" user with
#             passwordless sudo on top, like an Ubuntu cloud image
#
# Prints the image name on stdout. Set FORCE=1 to rebuild.
set -euo pipefail

suite=${1:-bullseye}
flavor=${2:-systemd}
here=$(cd "$(dirname "$0")" && pwd)
case "$suite" in
  bullseye) tag=debian11 ;;
  bookworm) tag=debian12 ;;
  *) echo "images/build.sh: unknown suite '$suite' (bullseye, bookworm)" >&2; exit 2 ;;
esac
image="airflow-ansible/${tag}-systemd:latest"

if [ "$flavor" = ssh ]; then
  ssh_image="airflow-ansible/${tag}-ssh:latest"
  if [ "${FORCE:-0}" = 1 ] || ! docker image inspect "$ssh_image" >/dev/null 2>&1; then
    base=$("$0" "$suite")
    docker build --quiet --build-arg "BASE=$base" -t "$ssh_image" -f "$here/ssh.Dockerfile" "$here" >&2
  fi
  echo "$ssh_image"
  exit 0
elif [ "$flavor" != systemd ]; then
  echo "images/build.sh: unknown flavor '$flavor' (systemd, ssh)" >&2
  exit 2
fi

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

for tool in debootstrap docker; do
  command -v "$tool" >/dev/null || { echo "images/build.sh: '$tool' is required" >&2; exit 1; }
done

rootfs=$(mktemp -d /tmp/airflow-ansible-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

# What a cloud image gives Ansible: systemd as PID 1, python3, sudo.
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,python3,sudo,ca-certificates,iproute2,procps \
  "$suite" "$rootfs" >&2

# Units that need hardware or a console have no place in a container.
for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
            systemd-remount-fs.service sys-kernel-debug.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
: > "$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb

tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  - "$image" >&2
echo "$image"
