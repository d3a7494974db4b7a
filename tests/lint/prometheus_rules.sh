#!/usr/bin/env bash
# The shipped Prometheus alerting rules (dist/prometheus/relayguard-rules.yml):
# `promtool check rules` (syntax, PromQL, templates) and `promtool test
# rules` on their unit tests (tests/data/prometheus), in which each alert
# fires on the series that should raise it and stays quiet on others. That
# the rules and the Grafana dashboard name only metrics relayguard exports
# is checked by unit_tests (DistMonitoring.*). No privileges, no network.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/lib/require.sh
. tests/lib/require.sh
require "promtool (Debian's prometheus package; tools/setup-deps.sh)" have promtool

promtool check rules dist/prometheus/relayguard-rules.yml
promtool test rules tests/data/prometheus/relayguard-rules.test.yml
