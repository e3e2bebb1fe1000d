#!/usr/bin/env bash
# Takes a fresh Debian 12 machine from `git clone` to rkt installed and on PATH, with a local
# example image fetched into the store. Installs every Debian package the project needs (runtime,
# networking, test and benchmark peers), the npm dependencies, builds the CLI, and links it as
# /usr/local/bin/rkt. Idempotent: run it again after pulling changes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

packages=(
  # running pods
  runc crun runsc conmon iptables iproute2 util-linux containernetworking-plugins
  # image handling
  zstd ca-certificates
  # tests and interop: a real registry, third-party image producers, gpg, TLS material
  docker-registry skopeo umoci buildah gnupg openssl busybox-static nginx redis-server
  # benchmark peers
  podman hyperfine time containerd
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # nginx and redis-server are only binaries that test images are built from (test/workshop);
  # their postinst scripts start host services on :80 and :6379 through invoke-rc.d wherever an
  # init gives a runlevel (here none does, and the machine image ships a policy-rc.d). A
  # policy-rc.d that exits 101 forbids that for the install; one already present is kept.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# written by rkt scripts/install.sh for the duration of apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    own_policy=1
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ -n "$own_policy" ]; then rm -f "$policy" && trap - EXIT; fi
fi

# Debian's docker-registry package starts a system registry on :5000 when an init system is
# present; tests start their own on 127.0.0.1 and never use it.

# podman is only a benchmark peer; this machine's kernel and limits need these settings (see
# ../shared/reference/machine.md).
if [ ! -f /etc/containers/containers.conf ] || ! grep -q 'rkt-bench' /etc/containers/containers.conf; then
  mkdir -p /etc/containers
  cat > /etc/containers/containers.conf <<'CONF'
# written by rkt's scripts/install.sh (rkt-bench): settings podman needs on these machines
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi

echo "install: npm dependencies and build" >&2
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

ln -sf "$root/bin/rkt" /usr/local/bin/rkt

# A local example image, made here without any registry: one static busybox binary, written as
# an OCI image layout by umoci (a third-party tool), then fetched into rkt's store.
example=/var/lib/rkt-example/busybox
if [ ! -f "$example/index.json" ]; then
  rm -rf "$example" && mkdir -p "$(dirname "$example")"
  work=$(mktemp -d)
  umoci init --layout "$example"
  umoci new --image "$example:latest"
  umoci unpack --image "$example:latest" "$work/bundle" >/dev/null
  mkdir -p "$work/bundle/rootfs/bin"
  cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
  for app in sh echo cat ls true false sleep env id hostname ps wget uname; do
    ln -sf busybox "$work/bundle/rootfs/bin/$app"
  done
  umoci repack --image "$example:latest" "$work/bundle"
  umoci config --image "$example:latest" --config.cmd /bin/sh --config.env PATH=/bin
  umoci gc --layout "$example"
  rm -rf "$work"
fi
rkt fetch --insecure-options=image "oci:$example:latest"
rkt image list
# ... and run as a pod: the foreground `rkt run` is the pod, its exit code the app's.
rkt run --insecure-options=image --net=none localhost/busybox:latest --exec=/bin/echo -- "hello from a rkt pod"
rkt list
echo "install: done; rkt is $(command -v rkt)" >&2
