#!/usr/bin/env bash
# Starts a throwaway Kubernetes control plane on loopback for the tests:
# etcd (Debian's etcd-server), kube-apiserver and kube-controller-manager
# (built by build.sh). No kubelet, no scheduler: objects are stored and
# controllers run (namespaces finalize, service-account tokens are minted), but
# no pod ever runs, so Deployments never become Available.
#
#   tests/kube/start.sh <state-dir> <issuer-url>
#
# Everything goes into <state-dir> (wiped of a previous cluster's files first):
#   kubeconfig   server https://127.0.0.1:<port>, CA embedded, admin token
#                (user "admin", group system:masters)
#   env          KUBE_API_URL, KUBE_TOKEN, KUBE_CA_FILE, KUBE_BIN_DIR, KUBECTL
#   pids         "<pid> <component>" per line, for stop.sh
#   *.log        the components' logs
# The service-account issuer is <issuer-url>; API audiences are
# sts.amazonaws.com and <issuer-url>. The last line printed is KUBECONFIG=<path>.
#
# KUBE_BIN_DIR may point at the binaries; otherwise build.sh is run (a no-op
# when its cache is warm). All listeners bind 127.0.0.1 only.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 <state-dir> <issuer-url>" >&2; exit 2; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$1"
STATE="$(cd "$1" && pwd)"
ISSUER="$2"
T0=$(date +%s.%N)

log() { printf '[kube/start +%ss] %s\n' "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN { printf "%.1f", a - b }')" "$*"; }

if [ -z "${KUBE_BIN_DIR:-}" ]; then
  "$HERE/build.sh" | tee "$STATE/build.log"
  KUBE_BIN_DIR="$(sed -n 's/^KUBE_BIN_DIR=//p' "$STATE/build.log" | tail -1)"
fi
for b in kube-apiserver kube-controller-manager kubectl; do
  [ -x "$KUBE_BIN_DIR/$b" ] || { echo "missing $KUBE_BIN_DIR/$b: run tests/kube/build.sh" >&2; exit 1; }
done
ETCD="$(command -v etcd || true)"
[ -n "$ETCD" ] || { echo "etcd not found: apt-get install etcd-server (build.sh does)" >&2; exit 1; }

# Refuse to start over a cluster that is still running from this state dir.
if [ -f "$STATE/pids" ]; then
  while read -r pid _; do
    if [ -n "$pid" ] && [[ "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" == *"$STATE/"* ]]; then
      echo "a cluster from $STATE is still running (pid $pid): run tests/kube/stop.sh $STATE first" >&2
      exit 1
    fi
  done <"$STATE/pids"
fi
rm -rf "$STATE/etcd" "$STATE/pki" "$STATE"/*.log "$STATE/pids" "$STATE/kubeconfig" "$STATE/kcm.kubeconfig" "$STATE/env" "$STATE/tokens.csv"
mkdir -p "$STATE/pki"
: >"$STATE/pids"

# ---- failure handling ------------------------------------------------------
STARTED=()
OK=0
cleanup() {
  [ "$OK" = 1 ] && return
  local pid
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
fail() { # fail <component> <message>
  echo "kube/start: $1: $2" >&2
  if [ -f "$STATE/$1.log" ]; then
    echo "---- last lines of $STATE/$1.log ----" >&2
    tail -n 40 "$STATE/$1.log" >&2
  fi
  exit 1
}

# ---- free loopback ports -----------------------------------------------------
# A random port below the ephemeral range that nothing listens on.
TAKEN=" "
free_port() {
  local p i
  for i in $(seq 200); do
    p=$((20000 + RANDOM % 12000))
    case "$TAKEN" in *" $p "*) continue ;; esac
    if [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]; then
      TAKEN="$TAKEN$p "
      echo "$p"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}
ETCD_CLIENT_PORT=$(free_port)
ETCD_PEER_PORT=$(free_port)
API_PORT=$(free_port)

# ---- keys and certificates ---------------------------------------------------
PKI="$STATE/pki"
log "generating CA, serving certificate and service-account key in $PKI"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -sha256 \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -subj "/CN=strake-test-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  >/dev/null 2>&1 || fail openssl "CA generation failed"
openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$PKI/apiserver.key" -out "$PKI/apiserver.csr" \
  -subj "/CN=kube-apiserver" >/dev/null 2>&1 || fail openssl "serving key generation failed"
cat >"$PKI/apiserver.ext" <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.0.0.1
EOF
openssl x509 -req -in "$PKI/apiserver.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
  -days 30 -sha256 -extfile "$PKI/apiserver.ext" -out "$PKI/apiserver.crt" >/dev/null 2>&1 ||
  fail openssl "serving certificate signing failed"
openssl genrsa -out "$PKI/sa.key" 2048 >/dev/null 2>&1 || fail openssl "service-account key generation failed"
openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" >/dev/null 2>&1 || fail openssl "service-account public key failed"
chmod 600 "$PKI"/*.key

ADMIN_TOKEN="$(openssl rand -hex 24)"
KCM_TOKEN="$(openssl rand -hex 24)"
# A user with no role at all: it can authenticate and ask what it may do, nothing more.
VIEWER_TOKEN="$(openssl rand -hex 24)"
# token,user,uid,"groups"
cat >"$STATE/tokens.csv" <<EOF
$ADMIN_TOKEN,admin,admin,"system:masters"
$KCM_TOKEN,system:kube-controller-manager,kube-controller-manager,"system:masters"
$VIEWER_TOKEN,nobody,nobody,""
EOF
chmod 600 "$STATE/tokens.csv"

API_URL="https://127.0.0.1:$API_PORT"
CA_DATA="$(base64 -w0 <"$PKI/ca.crt")"
write_kubeconfig() { # write_kubeconfig <file> <user> <token>
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: strake-test
  cluster:
    server: $API_URL
    certificate-authority-data: $CA_DATA
users:
- name: $2
  user:
    token: $3
contexts:
- name: strake-test
  context:
    cluster: strake-test
    user: $2
    namespace: default
current-context: strake-test
EOF
  chmod 600 "$1"
}

# ---- etcd ----------------------------------------------------------------------
log "starting etcd (client 127.0.0.1:$ETCD_CLIENT_PORT)"
"$ETCD" --name strake-test --data-dir "$STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "strake-test=http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster-state new --initial-cluster-token "strake-test-$ETCD_PEER_PORT" \
  --enable-v2=false --logger zap --log-outputs stderr \
  </dev/null >"$STATE/etcd.log" 2>&1 &
ETCD_PID=$!
STARTED+=("$ETCD_PID")
echo "$ETCD_PID etcd" >>"$STATE/pids"
for i in $(seq 100); do
  kill -0 "$ETCD_PID" 2>/dev/null || fail etcd "exited"
  [[ "$(curl -sf "http://127.0.0.1:$ETCD_CLIENT_PORT/health" 2>/dev/null)" == *'"health":"true"'* ]] && break
  [ "$i" = 100 ] && fail etcd "not healthy after 20s"
  sleep 0.2
done
log "etcd healthy"

# ---- kube-apiserver --------------------------------------------------------------
# Authorization: RBAC (its bootstrap roles and bindings are created by the
# apiserver itself; the admin token is in system:masters).
# Endpoint reconciler off: the Endpoints API refuses loopback addresses, so the
# "kubernetes" service's endpoints could never be written with 127.0.0.1.
log "starting kube-apiserver ($API_URL, issuer $ISSUER)"
"$KUBE_BIN_DIR/kube-apiserver" \
  --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
  --secure-port "$API_PORT" --insecure-port 0 \
  --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
  --client-ca-file "$PKI/ca.crt" \
  --token-auth-file "$STATE/tokens.csv" \
  --authorization-mode RBAC \
  --anonymous-auth=false \
  --service-account-issuer "$ISSUER" \
  --service-account-key-file "$PKI/sa.pub" \
  --service-account-signing-key-file "$PKI/sa.key" \
  --api-audiences "sts.amazonaws.com,$ISSUER" \
  --service-cluster-ip-range 10.0.0.0/24 \
  --endpoint-reconciler-type none \
  --profiling=false \
  </dev/null >"$STATE/kube-apiserver.log" 2>&1 &
API_PID=$!
STARTED+=("$API_PID")
echo "$API_PID kube-apiserver" >>"$STATE/pids"
for i in $(seq 300); do
  kill -0 "$API_PID" 2>/dev/null || fail kube-apiserver "exited"
  [ "$(curl -s --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$API_URL/readyz" 2>/dev/null)" = ok ] && break
  [ "$i" = 300 ] && fail kube-apiserver "/readyz not ok after 60s"
  sleep 0.2
done
log "kube-apiserver ready"

# ---- kube-controller-manager ------------------------------------------------------
# All default controllers except the cloud ones (service load balancers, routes,
# cloud node lifecycle). No serving ports (--port 0, --secure-port 0).
write_kubeconfig "$STATE/kcm.kubeconfig" system:kube-controller-manager "$KCM_TOKEN"
log "starting kube-controller-manager"
"$KUBE_BIN_DIR/kube-controller-manager" \
  --kubeconfig "$STATE/kcm.kubeconfig" \
  --controllers '*,-service,-route,-cloud-node-lifecycle' \
  --use-service-account-credentials=false \
  --root-ca-file "$PKI/ca.crt" \
  --service-account-private-key-file "$PKI/sa.key" \
  --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
  --leader-elect=false \
  --port 0 --secure-port 0 \
  --profiling=false \
  </dev/null >"$STATE/kube-controller-manager.log" 2>&1 &
KCM_PID=$!
STARTED+=("$KCM_PID")
echo "$KCM_PID kube-controller-manager" >>"$STATE/pids"

write_kubeconfig "$STATE/kubeconfig" admin "$ADMIN_TOKEN"
write_kubeconfig "$STATE/nobody.kubeconfig" nobody "$VIEWER_TOKEN"
cat >"$STATE/env" <<EOF
KUBE_API_URL=$API_URL
KUBE_TOKEN=$ADMIN_TOKEN
KUBE_CA_FILE=$PKI/ca.crt
KUBE_BIN_DIR=$KUBE_BIN_DIR
KUBECTL=$KUBE_BIN_DIR/kubectl
KUBE_ISSUER=$ISSUER
EOF

# The controller manager is up once its serviceaccount controller has made the
# "default" service account (and the token controller its secret).
for i in $(seq 300); do
  kill -0 "$KCM_PID" 2>/dev/null || fail kube-controller-manager "exited"
  [[ "$(curl -sf --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$API_URL/api/v1/namespaces/default/serviceaccounts/default" 2>/dev/null)" == *'"secrets"'* ]] && break
  [ "$i" = 300 ] && fail kube-controller-manager "no default service account token after 60s"
  sleep 0.2
done
log "kube-controller-manager running"

OK=1
log "control plane up: $API_URL (pids in $STATE/pids, logs in $STATE/*.log)"
echo "KUBECONFIG=$STATE/kubeconfig"
