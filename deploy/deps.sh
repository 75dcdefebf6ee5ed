#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install every Debian package vpnwall needs to build, test and run its sandbox.
# With --if-missing, apt is only called when something is not installed yet.
set -eu

PACKAGES="
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libcurl4-openssl-dev libcjson-dev libnftnl-dev libmnl-dev libipset-dev
  libmicrohttpd-dev libc-ares-dev libcmocka-dev
  docker.io busybox-static dnsmasq nftables iproute2 conntrack procps curl jq
  wireguard-tools wireguard-go prometheus
  iperf3 ipset iptables dnsperf
"

if [ "${1:-}" = "--if-missing" ]; then
	missing=
	for p in $PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
	done
	[ -z "$missing" ] && exit 0
	echo "deps: installing:$missing"
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: run as root (apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $PACKAGES
