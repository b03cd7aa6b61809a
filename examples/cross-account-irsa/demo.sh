#!/usr/bin/env bash
# The cross-account IRSA walkthrough, end to end, on local emulators:
#   1. starts moto (AWS, both accounts) and a real kube-apiserver on loopback (building it once
#      per machine if it is not cached: ~15 minutes the first time);
#   2. creates the "existing" world the walkthrough assumes: an EKS cluster in account A (moto),
#      whose OIDC issuer the API server signs service-account tokens with;
#   3. runs the example: plan, apply, verify, a second plan (must be empty), destroy;
#   4. stops what it started.
# Everything printed below the banners is what a user of the example sees.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

banner() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

WORK="$(mktemp -d -t strake-irsa-demo-XXXXXX)"
MOTO_PID=""
cleanup() {
  [ -n "$MOTO_PID" ] && kill "$MOTO_PID" 2>/dev/null || true
  bash tests/kube/stop.sh "$WORK/kube" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

banner "Starting moto (AWS accounts A and B)"
python3 -c 'import moto.server' 2>/dev/null || python3 -m pip install --quiet 'moto[server]==5.2.1'
python3 -m moto.server -H 127.0.0.1 -p 0 >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 100); do
  PORT="$(sed -n 's|.*Running on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/moto.log" | head -1)"
  [ -n "$PORT" ] && break
  sleep 0.2
done
[ -n "${PORT:-}" ] || { cat "$WORK/moto.log"; echo "moto did not start" >&2; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
echo "moto at $AWS_ENDPOINT_URL"

banner "Creating the existing world: EKS cluster 'demo' in account A"
ISSUER="$(python3 - <<'PY'
import os, boto3
eks = boto3.client("eks", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
c = eks.create_cluster(name="demo", roleArn="arn:aws:iam::123456789012:role/eks-cluster",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})["cluster"]
print(c["identity"]["oidc"]["issuer"])
PY
)"
echo "cluster 'demo', OIDC issuer $ISSUER"

banner "Starting kube-apiserver (signs service-account tokens as $ISSUER)"
bash tests/kube/build.sh >"$WORK/kube-build.log" 2>&1 || { tail -20 "$WORK/kube-build.log"; exit 1; }
export KUBECONFIG
KUBECONFIG="$(bash tests/kube/start.sh "$WORK/kube" "$ISSUER" | sed -n 's/^KUBECONFIG=//p')"
echo "KUBECONFIG=$KUBECONFIG"

cargo build -q -p cross-account-irsa
APP=(cargo run -q -p cross-account-irsa --)
# The demo's state lives in a scratch directory beside a copy of the example's Strake.toml.
export STRAKE_DIR="$WORK/app"
mkdir -p "$STRAKE_DIR" && cp "$HERE/Strake.toml" "$STRAKE_DIR/"

banner "plan"
"${APP[@]}" plan || [ $? -eq 2 ]
banner "apply"
"${APP[@]}" apply --yes
banner "verify: the pod's token assumes the role in account B and reads the object"
"${APP[@]}" verify
banner "plan again: nothing to change"
"${APP[@]}" plan
banner "destroy"
"${APP[@]}" destroy --yes
banner "Done"
