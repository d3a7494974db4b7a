#!/usr/bin/env bash
# A private CrowdSec Local API (Debian 12's crowdsec package) for tests and
# benchmarks, run in a network namespace on its loopback, never the
# system's: its own config, database and logs under DIR, no Central API
# (online_client removed), no Prometheus listener, no log acquisition
# (-no-cs: the LAPI only). As root.
#
#   crowdsec-lapi.sh start DIR NETNS PORT   start it, wait until it answers,
#                                           register a machine (for cscli and
#                                           pushes) and a bouncer key (DIR/bouncer.key)
#   crowdsec-lapi.sh cscli DIR NETNS ARGS...  cscli against it (decisions add ...)
#   crowdsec-lapi.sh stop DIR               stop it (DIR stays)
#   crowdsec-lapi.sh resume DIR NETNS PORT  start it again after a stop, with
#                                           its database, machine and key
#
# It listens on 127.0.0.1:PORT, or on $CROWDSEC_LAPI_ADDR:PORT when set
# (an address of NETNS, for bouncers in other namespaces).
# DIR/machine.yaml holds the machine's credentials (login, password, url),
# DIR/bouncer.key the bouncer's API key (mode 0600), DIR/lapi.log its log.
set -euo pipefail
addr=${CROWDSEC_LAPI_ADDR:-127.0.0.1}

die() { echo "crowdsec-lapi: $*" >&2; exit 1; }
[[ $# -ge 2 ]] || die "usage: $0 start DIR NETNS PORT | cscli DIR NETNS ARGS... | stop DIR"
cmd=$1 dir=$2

# Starts the LAPI of DIR in NETNS and waits until it answers HTTP (401
# without a key) on its port: polled, as it gives no other sign.
run_lapi() {
  local dir=$1 ns=$2 port=$3 code=000
  ip netns exec "$ns" crowdsec -c "$dir/config.yaml" -no-cs >>"$dir/lapi.log" 2>&1 &
  echo $! > "$dir/crowdsec.pid"
  for _ in $(seq 1 300); do
    code=$(ip netns exec "$ns" curl -s -o /dev/null -w '%{http_code}' "http://$addr:$port/v1/decisions" || true)
    [[ $code != 000 ]] && break
    kill -0 "$(cat "$dir/crowdsec.pid")" 2>/dev/null || die "crowdsec exited; see $dir/lapi.log"
    sleep 0.1
  done
  [[ $code != 000 ]] || die "crowdsec does not answer on $addr:$port after 30 s; see $dir/lapi.log"
}

case $cmd in
resume)
  [[ $# -eq 4 ]] || die "usage: $0 resume DIR NETNS PORT"
  run_lapi "$dir" "$3" "$4"
  ;;
start)
  [[ $# -eq 4 ]] || die "usage: $0 start DIR NETNS PORT"
  ns=$3 port=$4
  command -v crowdsec >/dev/null || die "crowdsec is not installed (tools/setup-deps.sh)"
  mkdir -p "$dir/data" "$dir/log"
  chmod 0700 "$dir"
  python3 - /etc/crowdsec/config.yaml "$dir" "$addr" "$port" <<'PY'
import sys, yaml
src, d, addr, port = sys.argv[1:5]
c = yaml.safe_load(open(src))
c["common"].update(daemonize=False, log_media="file", log_dir=d + "/log")
c["config_paths"]["data_dir"] = d + "/data"
c["db_config"]["db_path"] = d + "/data/crowdsec.db"
c["db_config"]["log_level"] = "error"
c["db_config"]["use_wal"] = True  # 100,000 decisions import in 41 s instead of 105 s
c["api"]["server"]["listen_uri"] = addr + ":" + port
c["api"]["server"].pop("online_client", None)  # no Central API: works offline
c["api"]["client"]["credentials_path"] = d + "/machine.yaml"
c["prometheus"]["enabled"] = False
yaml.safe_dump(c, open(d + "/config.yaml", "w"))
PY
  : > "$dir/machine.yaml"
  run_lapi "$dir" "$ns" "$port"
  ip netns exec "$ns" cscli -c "$dir/config.yaml" machines add rg-test --auto -f "$dir/machine.yaml" \
    --url "http://$addr:$port" >/dev/null 2>&1 || die "cscli machines add failed"
  chmod 0600 "$dir/machine.yaml"
  key=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  ip netns exec "$ns" cscli -c "$dir/config.yaml" bouncers add rg-bouncer -k "$key" >/dev/null 2>&1 ||
    die "cscli bouncers add failed"
  (umask 077; printf '%s\n' "$key" > "$dir/bouncer.key")
  ;;
cscli)
  [[ $# -ge 3 ]] || die "usage: $0 cscli DIR NETNS ARGS..."
  ns=$3
  shift 3
  exec ip netns exec "$ns" cscli -c "$dir/config.yaml" "$@"
  ;;
stop)
  [[ -f $dir/crowdsec.pid ]] || exit 0
  pid=$(cat "$dir/crowdsec.pid")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/crowdsec.pid"
  ;;
*) die "unknown command $cmd" ;;
esac
