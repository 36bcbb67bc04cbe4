#!/usr/bin/env bash
# The README's demo command on a fresh Debian 12 (issue #27): debootstrap a minimal bookworm (what a
# `debian:12` container holds) into a scratch directory, clone this repository into it, and time, inside a
# chroot, `scripts/install-deps.sh --demo` (apt-get's downloads and installs) and then `scripts/demo.sh`
# (build, install, the demo). Needs root and the apt sources of this machine; removes the directory at the end.
#   bash tests/bench/fresh_demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" -eq 0 ] || { echo "fresh_demo.sh: run as root (debootstrap, chroot)"; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
root="$(mktemp -d /var/tmp/dendrite-fresh.XXXXXX)"
chmod 755 "$root"  # the chroot's /: mktemp makes it 700, which the postgres user could not cross
cleanup() {
  for m in dev sys proc; do mountpoint -q "$root/$m" && umount -R "$root/$m"; done
  rm -rf "$root"
}
trap cleanup EXIT
mirror="$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
start=$SECONDS
debootstrap --variant=minbase bookworm "$root" "${mirror:-http://deb.debian.org/debian}" >/dev/null
echo "debootstrap (not part of the figure): $((SECONDS - start)) s"
if [ -f /etc/apt/sources.list.d/debian.sources ]; then  # the same suites a debian:12 image lists
  rm -f "$root/etc/apt/sources.list" && cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/"
fi
git clone -q . "$root/root/dendrite"
mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" && mount --rbind /dev "$root/dev"
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 bash -c '
  cd /root/dendrite
  s=$SECONDS; bash scripts/install-deps.sh --demo >/dev/null 2>&1; t=$SECONDS
  bash scripts/demo.sh >/tmp/demo.log 2>&1 || { tail -20 /tmp/demo.log; exit 1; }
  u=$SECONDS
  echo "install-deps.sh --demo: $((t - s)) s ($(du -sh /var/cache/apt/archives | cut -f1) of packages)"
  echo "demo.sh (build, install, demo): $((u - t)) s; $(grep "demo finished" /tmp/demo.log | sed "s/^== //")"
  echo "the README command'"'"'s first run: $((u - s)) s"'
