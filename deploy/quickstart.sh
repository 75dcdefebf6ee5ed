#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install dependencies, build, and run vpnwalld.
#  - With a running Docker engine on this machine (/var/run/docker.sock), vpnwalld runs in
#    the foreground against it, with default settings. Stop it with Ctrl-C: the rules stay
#    (fail closed); `build/cmd/vpnwall/vpnwall flush` removes them.
#  - Without one (or with VW_SANDBOX=1), it starts the private sandbox the tests use: its own
#    dockerd and fake internet in network namespaces, so the host's firewall is never
#    touched. Two demo containers show enforcement; Ctrl-C removes everything.
set -eu
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart: run as root (nftables and Docker need it): sudo $0" >&2
	exit 1
fi
./deploy/deps.sh --if-missing
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built build/cmd/vpnwalld/vpnwalld and build/cmd/vpnwall/vpnwall"

if [ "${VW_SANDBOX:-0}" != 1 ] && [ -S /var/run/docker.sock ] &&
	/usr/bin/docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
	echo "Docker engine found: running vpnwalld on this host (Ctrl-C stops it; rules stay)"
	exec ./build/cmd/vpnwalld/vpnwalld
fi

echo "no Docker engine here: starting the sandbox (private netns, own dockerd)"
VPNWALLD=$PWD/build/cmd/vpnwalld/vpnwalld
. test/lib/testbed.sh
tb_init
tb_up
tb_daemon_start LOG_LEVEL=info
tb_daemon_wait_ready
tb_run demo-allowed --label vpn.outbound=198.51.100.10:80/tcp
tb_run demo-blocked

try() {
	if tb_eventually 10 tb_can_reach "$1" "$2" "$3"; then
		echo "  $1 -> $2:$3  REACHED"
	else
		echo "  $1 -> $2:$3  blocked"
	fi
}
echo
echo "demo (labels: demo-allowed has vpn.outbound=198.51.100.10:80/tcp, demo-blocked none):"
try demo-allowed 198.51.100.10 80
try demo-allowed 198.51.100.10 443
try demo-allowed 198.51.100.11 80
try demo-blocked 198.51.100.10 80
cat <<EOT

The sandbox stays up until Ctrl-C. In another terminal:
  docker -H unix://$TB/docker.sock run -d --name mine --label vpn.outbound=198.51.100.11 $TB_IMAGE
  docker -H unix://$TB/docker.sock exec mine nc -w 2 198.51.100.11 80 </dev/null
  ip netns exec $TB_HOST_NS nft list table inet vpnwall
Fake internet: 198.51.100.10-13 (ports 80, 443, 8080), DNS 198.51.100.53 (web.test, api.test).
vpnwalld log follows:
EOT
tail -n +1 -f "$TB/vpnwalld.log" &
# The testbed's cleanup (run on Ctrl-C) stops what is listed here.
TB_BG_PIDS="$TB_BG_PIDS $!"
wait $! || true
