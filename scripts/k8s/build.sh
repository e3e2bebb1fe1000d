#!/usr/bin/env bash
# Builds kubelet, kube-apiserver, kube-scheduler, kube-controller-manager and kube-proxy from
# Debian's `kubernetes` source package (1.20: the full tree with its vendored dependencies), offline,
# with Debian's Go. Run by hand (as root), not in CI: ~15 minutes of 2 cores.
#
#   scripts/k8s/build.sh [WORK_DIR]      # default /var/tmp/rkt-k8s
#
# Leaves the binaries in WORK_DIR/bin/. Needs deb-src entries for apt (added here, in a file of
# its own, if none is configured) and the package archive; nothing else from the network.
set -euo pipefail
work=${1:-/var/tmp/rkt-k8s}
mkdir -p "$work/src" "$work/bin"

if ! grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Debian 12 images list sources in deb822 form with Signed-By; a one-line deb-src entry for the
  # same archive would conflict with it, so the twin is deb822 too, with the same keyring.
  echo "build: adding deb-src for bookworm (/etc/apt/sources.list.d/rkt-k8s-src.sources)" >&2
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >/etc/apt/sources.list.d/rkt-k8s-src.sources
  apt-get update -qq
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends dpkg-dev golang-go make rsync >/dev/null

cd "$work/src"
if [ ! -d kubernetes-*/ ]; then
  apt-get source --download-only kubernetes
  dpkg-source -x --skip-patches kubernetes_*.dsc
fi
tree=$(ls -d "$work"/src/kubernetes-*/ | head -1)
cd "$tree"
# Debian's patches make the tree build with Debian's Go and its packaged dependencies; apply the
# ones that apply cleanly to the vendored tree.
if [ -d debian/patches ] && [ ! -f .rkt-patched ]; then
  for p in $(cat debian/patches/series 2>/dev/null || true); do
    patch -p1 --forward --silent < "debian/patches/$p" >/dev/null 2>&1 || echo "build: skipped patch $p" >&2
  done
  touch .rkt-patched
fi
export GOFLAGS=-mod=vendor GO111MODULE=on GOPROXY=off GOTOOLCHAIN=local
# KUBE_GIT_VERSION: the tree has no .git; the version goes into `kubectl version` and node status.
version=$(dpkg-parsechangelog -S Version | sed 's/[-+~].*//')
export KUBE_GIT_VERSION="v${version}" KUBE_GIT_TREE_STATE=clean
time nice -n 19 make WHAT="cmd/kubelet cmd/kube-apiserver cmd/kube-scheduler cmd/kube-controller-manager cmd/kube-proxy" KUBE_BUILD_PLATFORMS=linux/amd64
cp _output/local/bin/linux/amd64/{kubelet,kube-apiserver,kube-scheduler,kube-controller-manager,kube-proxy} "$work/bin/"
echo "build: binaries in $work/bin" >&2
