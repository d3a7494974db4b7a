#!/usr/bin/env bash
# `vagrant validate` of vagrant/Vagrantfile: the VMs' settings (box,
# hostname, networks, synced folder, provisioners) must load and be valid.
# --ignore-provider: the libvirt and VirtualBox blocks are not checked, so
# neither the vagrant-libvirt plugin nor VirtualBox need be installed.
# Offline: validate downloads no box, and Vagrant's update check is off.
# Vagrant's own files (its home, the project's .vagrant/) go to a temporary
# directory, removed at the end, so the source tree stays clean.
set -euo pipefail
cd "$(dirname "$0")/../../vagrant"

if ! command -v vagrant >/dev/null; then
    if [ "${RELAYGUARD_REQUIRE_PRIVILEGED:-}" = 1 ]; then
        echo "FAIL: needs vagrant (tools/setup-deps.sh)"
        exit 1
    fi
    echo "SKIP: needs vagrant (tools/setup-deps.sh)"
    exit 77
fi

tmp=$(mktemp -d /tmp/rgvagrant.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
HOME=$tmp VAGRANT_HOME=$tmp/vagrant.d VAGRANT_DOTFILE_PATH=$tmp/dotfile \
    VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate --ignore-provider
