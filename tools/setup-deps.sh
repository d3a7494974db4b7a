#!/usr/bin/env bash
# Installs what relayguard needs to build, run and test on Debian 12 (as root).
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang llvm
  # tests/fuzz: libFuzzer and clang's sanitizer runtimes (RELAYGUARD_FUZZ=ON)
  libclang-rt-14-dev
  libbpf-dev libxdp-dev xdp-tools bpftool libelf-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libgtest-dev libcurl4-openssl-dev libssl-dev libxxhash-dev
  iproute2 util-linux openssl  # openssl: the HTTPS feed test's server
  # tools/bench: run, controlplane, chart; flood's peers, veth counters, driver
  python3 python3-matplotlib time ipset nftables iptables ethtool
  # the lab's mail server (relayguard demo, tests; smtp-source is in postfix)
  # and the relay probe's reference
  postfix nmap
  # ctest vagrant_validate: checks vagrant/Vagrantfile (no provider needed);
  # ctest shellcheck
  vagrant shellcheck
  # the lab Postfix's submission port (saslpasswd2, Cyrus PLAIN/LOGIN and
  # sasldb plugins) and the clients of the demo and tools/lab/postfix-fixtures.sh
  sasl2-bin libsasl2-modules libsasl2-modules-db swaks
  # relayguard watch: the journal (sd-journal) and the log rules (PCRE2 JIT);
  # the journal source's test writes journal files with journal-remote;
  # bench/watch compares with fail2ban-regex
  libsystemd-dev libpcre2-dev systemd-journal-remote fail2ban
  # promtool, which checks `stats --prometheus` (netns_tests). The package is
  # the Prometheus server too: where systemd runs, installing it starts one
  # (prometheus.service, port 9090); relayguard needs only promtool.
  prometheus
  # the daemon's [metrics] endpoint (GET /metrics)
  libcpp-httplib-dev
  # the Debian package (cpack: dpkg-shlibdeps is in dpkg-dev, which
  # build-essential brings; file finds the ELF files) and its checks:
  # lintian, man and groff for relayguard(8)
  file lintian man-db groff-base
  # the tests validate `stats --json` against docs/stats.schema.json
  python3-jsonschema
  # tools/kernels/run-on-kernel.sh (ctest kernel_debian12_qemu): Debian 12's
  # kernel booted by qemu directly, never made the boot kernel by the script
  # (on a Debian 12 host it is the installed kernel already), with a busybox
  # initramfs
  linux-image-amd64 qemu-system-x86 busybox-static
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix installed unconfigured: the lab runs private instances
  # (tools/lab/postfix-lab.sh) and never the system's.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CrowdSec (the [crowdsec] bouncer's tests and tools/bench/crowdsec): its
# Local API and cscli, and the firewall bouncer to compare with. Installed
# offline-safe, in a step of its own: crowdsec's post-install registers with
# CrowdSec's online service (`cscli capi register`, which fails without
# internet and leaves the package half-configured) only when
# /etc/crowdsec/online_api_credentials.yaml is empty, so a comment line
# goes there first; and a policy-rc.d that exits 101 keeps both services
# from starting (the tests run private instances: tools/lab/crowdsec-lapi.sh;
# the firewall bouncer writes nftables rules and must never run outside a
# test namespace). To use the online service later: empty that file and run
# `cscli capi register`.
crowdsec_pkgs=()
for p in crowdsec crowdsec-firewall-bouncer; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || crowdsec_pkgs+=("$p")
done
if ((${#crowdsec_pkgs[@]})); then
  echo "setup-deps: installing ${crowdsec_pkgs[*]} (no online registration, services not started)"
  export DEBIAN_FRONTEND=noninteractive
  mkdir -p /etc/crowdsec
  [[ -s /etc/crowdsec/online_api_credentials.yaml ]] ||
    echo "# left without credentials by relayguard's setup-deps.sh: no online registration" \
      > /etc/crowdsec/online_api_credentials.yaml
  remove_policy() { :; }
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then  # one already there stays as it is
    remove_policy() { rm -f /usr/sbin/policy-rc.d; }
    trap remove_policy EXIT
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${crowdsec_pkgs[@]}" >/dev/null
  remove_policy
  trap - EXIT
fi
