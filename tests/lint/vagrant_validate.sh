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
# shellcheck source=tests/lib/require.sh
. ../tests/lib/require.sh
require "vagrant (tools/setup-deps.sh)" have vagrant

tmp=$(mktemp -d /tmp/rgvagrant.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
HOME=$tmp VAGRANT_HOME=$tmp/vagrant.d VAGRANT_DOTFILE_PATH=$tmp/dotfile \
    VAGRANT_CHECKPOINT_DISABLE=1 vagrant validate --ignore-provider
