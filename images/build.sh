#!/usr/bin/env bash
# Build a systemd-capable Debian image for the molecule tests and the local
# demo host, from debootstrap (no registry pull). Reuses an existing image.
#
#   images/build.sh [SUITE]      SUITE: bullseye (default) or bookworm
#
# Prints the image name on stdout. Set FORCE=1 to rebuild.
set -euo pipefail

suite=${1:-bullseye}
case "$suite" in
  bullseye) tag=debian11 ;;
  bookworm) tag=debian12 ;;
  *) echo "images/build.sh: unknown suite '$suite' (bullseye, bookworm)" >&2; exit 2 ;;
esac
image="airflow-ansible/${tag}-systemd:latest"

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
