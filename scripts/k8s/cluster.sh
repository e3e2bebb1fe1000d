#!/usr/bin/env bash
# A one-node Kubernetes cluster whose node runs its pods on rkt (`rkt cri`), for trying the
# workshop's objects by hand. Not run in CI. Needs the binaries of build.sh (Debian's kubernetes
# 1.20 source), Debian's etcd-server, kubectl, skopeo, docker-registry, and rkt built in this
# checkout (scripts/install.sh). Everything it makes lives in WORK_DIR (default /var/tmp/rkt-k8s).
#
#   scripts/k8s/cluster.sh up        # certificates, etcd, control plane, a registry, rkt cri, kubelet
#   scripts/k8s/cluster.sh workshop  # the nginx RC and Service, the busybox pod; exec, logs, port-forward
#   scripts/k8s/cluster.sh down      # everything stopped, pods removed (WORK_DIR kept; rm it by hand)
#
# Offline: images come from a docker-registry on 127.0.0.1:5000 that rkt uses as a mirror of
# docker.io (WORK_DIR/etc-rkt/registries.d), filled with images built from the host's binaries.
# The kubelet talks to rkt over unix:///run/rkt/cri.sock (runtime.v1alpha2: kubelet 1.20), and
# kubectl exec/logs/port-forward go apiserver -> kubelet -> rkt's streaming server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${WORK_DIR:-/var/tmp/rkt-k8s}
bin=$work/bin
pki=$work/pki
logs=$work/logs
pids=$work/pids
node=$(hostname | tr 'A-Z' 'a-z')
ip=$(ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p')
ip=${ip:-127.0.0.1}
rkt="$repo/bin/rkt --dir=$work/rkt --local-config=$work/etc-rkt"
export KUBECONFIG=$work/admin.kubeconfig

say() { echo "cluster: $*" >&2; }

# start NAME CMD...: runs CMD in the background, output in logs/NAME.log, pid in pids/NAME.
start() {
  local name=$1; shift
  mkdir -p "$logs" "$pids"
  "$@" >"$logs/$name.log" 2>&1 &
  echo $! >"$pids/$name"
  say "started $name (pid $!, log $logs/$name.log)"
}

wait_for() {
  local what=$1 tries=$2; shift 2
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  say "timed out waiting for $what"; return 1
}

# cert NAME CN O [SANs]: a key and a certificate signed by the cluster CA.
cert() {
  local name=$1 cn=$2 org=$3 sans=${4:-}
  [ -f "$pki/$name.crt" ] && return 0
  openssl genrsa -out "$pki/$name.key" 2048 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "/CN=$cn${org:+/O=$org}" -out "$pki/$name.csr" 2>/dev/null
  local ext="$pki/$name.ext"
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"; echo "extendedKeyUsage=serverAuth,clientAuth"; [ -n "$sans" ] && echo "subjectAltName=$sans"; } >"$ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
}

# kubeconfig NAME USER: a kubeconfig for USER's certificate, talking to the apiserver.
kubeconfig() {
  local file=$work/$1.kubeconfig user=$2
  kubectl config set-cluster rkt --server="https://$ip:6443" --certificate-authority="$pki/ca.crt" --embed-certs=true --kubeconfig="$file" >/dev/null
  kubectl config set-credentials "$user" --client-certificate="$pki/$1.crt" --client-key="$pki/$1.key" --embed-certs=true --kubeconfig="$file" >/dev/null
  kubectl config set-context default --cluster=rkt --user="$user" --kubeconfig="$file" >/dev/null
  kubectl config use-context default --kubeconfig="$file" >/dev/null
}

up() {
  for b in kubelet kube-apiserver kube-scheduler kube-controller-manager kube-proxy; do
    [ -x "$bin/$b" ] || { say "$bin/$b is missing: run scripts/k8s/build.sh first"; exit 1; }
  done
  command -v etcd >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
  mkdir -p "$pki" "$work/etcd" "$work/kubelet" "$work/net.d" "$work/etc-rkt/registries.d" "$work/registry" "$work/images"

  say "certificates for $node ($ip)"
  if [ ! -f "$pki/ca.crt" ]; then
    openssl genrsa -out "$pki/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=rkt-k8s-ca" -days 30 -out "$pki/ca.crt" 2>/dev/null
    openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
    openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  fi
  cert apiserver kube-apiserver "" "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:$node,IP:$ip,IP:127.0.0.1,IP:10.96.0.1"
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  cert admin admin system:masters
  cert controller-manager system:kube-controller-manager ""
  cert scheduler system:kube-scheduler ""
  cert kubelet "system:node:$node" system:nodes "DNS:$node,IP:$ip"
  cert proxy system:kube-proxy ""
  kubeconfig admin admin; kubeconfig controller-manager system:kube-controller-manager; kubeconfig scheduler system:kube-scheduler
  kubeconfig kubelet "system:node:$node"; kubeconfig proxy system:kube-proxy

  say "a registry on 127.0.0.1:5000 with the workshop's images, mirrored for docker.io"
  printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:5000}\n' "$work/registry" >"$work/registry.yml"
  start registry docker-registry serve "$work/registry.yml"
  wait_for "the registry" 20 curl -fsS http://127.0.0.1:5000/v2/
  (cd "$repo" && node --import tsx scripts/k8s/images.ts "$work/images")
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/images/busybox:latest" docker://127.0.0.1:5000/library/busybox:1.36
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/images/nginx:latest" docker://127.0.0.1:5000/library/nginx:1.25
  echo '{"rktKind": "registryMirrors", "rktVersion": "v1", "registries": ["docker.io"], "mirrors": [{"location": "127.0.0.1:5000", "insecure": true}]}' >"$work/etc-rkt/registries.d/10-local.json"

  say "the pod network: bridge cni0, 10.244.0.0/24 (CNI plugins of /usr/lib/cni)"
  cat >"$work/net.d/10-pods.conflist" <<CONF
{"cniVersion": "0.4.0", "name": "pods", "plugins": [
  {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$work/leases"}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
CONF

  start etcd etcd --data-dir="$work/etcd" --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 --listen-peer-urls=http://127.0.0.1:2380
  wait_for etcd 30 curl -fsS http://127.0.0.1:2379/health
  start apiserver "$bin/kube-apiserver" --advertise-address="$ip" --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range=10.96.0.0/16 \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" --client-ca-file="$pki/ca.crt" \
    --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=Node,RBAC --allow-privileged=true --insecure-port=0
  wait_for "the apiserver" 60 kubectl get --raw /readyz
  start controller-manager "$bin/kube-controller-manager" --kubeconfig="$work/controller-manager.kubeconfig" --leader-elect=false \
    --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" --use-service-account-credentials=true \
    --cluster-signing-cert-file="$pki/ca.crt" --cluster-signing-key-file="$pki/ca.key" --allocate-node-cidrs=true --cluster-cidr=10.244.0.0/16 --node-cidr-mask-size=24
  start scheduler "$bin/kube-scheduler" --kubeconfig="$work/scheduler.kubeconfig" --leader-elect=false

  start rkt-cri $rkt cri --listen=unix:///run/rkt/cri.sock --cni-conf-dir="$work/net.d" --cni-bin-dir=/usr/lib/cni --streaming-address="$ip:0"
  wait_for "rkt cri" 30 test -S /run/rkt/cri.sock
  start kubelet "$bin/kubelet" --kubeconfig="$work/kubelet.kubeconfig" --hostname-override="$node" --node-ip="$ip" --root-dir="$work/kubelet" \
    --container-runtime=remote --container-runtime-endpoint=unix:///run/rkt/cri.sock --image-service-endpoint=unix:///run/rkt/cri.sock --runtime-request-timeout=10m \
    --cgroup-driver=cgroupfs --fail-swap-on=false --tls-cert-file="$pki/kubelet.crt" --tls-private-key-file="$pki/kubelet.key" --client-ca-file="$pki/ca.crt" \
    --anonymous-auth=false --authorization-mode=AlwaysAllow --resolv-conf=/etc/resolv.conf --eviction-hard= --max-pods=30 --v=2
  start kube-proxy "$bin/kube-proxy" --kubeconfig="$work/proxy.kubeconfig" --hostname-override="$node" --cluster-cidr=10.244.0.0/16 --proxy-mode=iptables --conntrack-max-per-core=0
  wait_for "node $node to be Ready" 120 sh -c "kubectl get node '$node' -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
  kubectl get nodes -o wide
  say "up; KUBECONFIG=$KUBECONFIG"
}

workshop() {
  kubectl apply -f "$here/workshop/"
  # The ReplicationController makes its pods a moment later: wait for both to exist, then be Ready.
  wait_for "the nginx pods" 60 sh -c '[ "$(kubectl get pods -l app=nginx -o name | wc -l)" -ge 2 ]'
  kubectl wait --for=condition=Ready pod -l app=nginx --timeout=180s
  kubectl wait --for=condition=Ready pod/busybox --timeout=180s
  kubectl get pods -o wide
  svc=$(kubectl get service nginx -o jsonpath='{.spec.clusterIP}')
  say "kubectl exec: busybox fetches http://$svc/ (the nginx Service)"
  kubectl exec busybox -- wget -qO- "http://$svc/"
  say "kubectl logs busybox"
  kubectl logs busybox
  pod=$(kubectl get pods -l app=nginx -o jsonpath='{.items[0].metadata.name}')
  say "kubectl port-forward $pod 18080:80"
  kubectl port-forward "pod/$pod" 18080:80 >"$logs/port-forward.log" 2>&1 &
  pf=$!
  wait_for "the forwarded port" 20 curl -fsS http://127.0.0.1:18080/
  curl -fsS http://127.0.0.1:18080/
  kill "$pf"
  say "workshop done"
}

down() {
  if [ -f "$pids/apiserver" ] && kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl delete -f "$here/workshop/" --ignore-not-found --wait=true --timeout=120s || true
  fi
  for name in kube-proxy kubelet rkt-cri scheduler controller-manager apiserver etcd registry; do
    [ -f "$pids/$name" ] || continue
    kill "$(cat "$pids/$name")" 2>/dev/null || true
    rm -f "$pids/$name"
  done
  sleep 2
  # kube-proxy leaves its iptables chains behind when it stops; it removes them on request.
  "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
  # ... and the kubelet leaves its own (KUBE-FIREWALL, KUBE-MARK-*, the canaries).
  for table in filter nat mangle; do
    { iptables -w -t "$table" -S 2>/dev/null | grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j KUBE-' || true; } | sed 's/^-A/-D/' | while read -r rule; do
      eval iptables -w -t "$table" "$rule" || true
    done
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[A-Z-]*\)$/\1/p'); do
      iptables -w -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[A-Z-]*\)$/\1/p'); do
      iptables -w -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  # Pods the kubelet did not remove: stop and collect them with rkt itself.
  running=$($rkt list --format=json 2>/dev/null | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{for(const p of JSON.parse(s||"[]"))if(p.state==="running")console.log(p.name)})' || true)
  for uuid in $running; do $rkt stop --force "$uuid" || true; done
  sleep 2
  $rkt gc --grace-period=0s || true
  ip link del cni0 2>/dev/null || true
  # The kubelet bind-mounts its root directory onto itself (for mount propagation).
  umount "$work/kubelet" 2>/dev/null || true
  say "down (state kept in $work)"
}

case "${1:-}" in
  up) up ;;
  workshop) workshop ;;
  down) down ;;
  *) echo "usage: $0 up|workshop|down" >&2; exit 2 ;;
esac
