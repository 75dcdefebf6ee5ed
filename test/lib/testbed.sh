# shellcheck shell=bash
# shellcheck disable=SC2034 # globals are read by the test scripts
# Integration-test testbed for vpnwall.
#
# Source it from a test script that runs under `set -eu`:
#
#   . "$(dirname "$0")/../lib/testbed.sh"
#   tb_init          # root check (exit 77), id, temp dir, cleanup trap
#   tb_up            # namespaces, fake internet, dnsmasq, dockerd, test image
#   tb_run c1
#   tb_expect_reach c1 198.51.100.10 80 "c1 reaches web"
#   tb_finish        # cleans up, prints "N passed, N failed", sets exit code
#
# Layout (nothing is ever added to the root network namespace):
#
#   [host ns $TB_HOST_NS]  eth0 198.18.0.1/30, 2001:db8:ffff::1/64
#        dockerd (own socket, data-root, exec-root), containers, vpnwalld
#        |  veth
#   [inet ns $TB_INET_NS]  eth0 198.18.0.2/30, 2001:db8:ffff::2/64
#        lo: 198.51.100.10-.13, 2001:db8:100::10/::11  busybox httpd :80 :443 :8080
#        lo: 198.51.100.53                             dnsmasq (udp+tcp 53)
#        vwslow0 (veth): 198.51.100.99 routed there       slow.test: never answered
#
# Fake servers answer any request with one line "tb-server ADDR PORT client=SRC",
# so a test can tell which server it reached and what source address it saw.
#
# Environment knobs:
#   VPNWALLD            daemon binary (default: build tree)
#   TB_KEEP=1           keep $TB (logs) after the run; mounts and processes still go
#   TB_STORAGE_DRIVER   force a dockerd storage driver (default overlay2, vfs fallback)
#   TB_DOCKERD_ARGS     extra dockerd arguments (word-split)
#   TB_READY_PATTERN    what tb_daemon_wait_ready waits for (default "daemon: ready")
#   TB_IMAGE_EXTRA      files (space-separated, static binaries) tb_image copies into the
#                       test image's /bin, e.g. test tools built from test/tools/

TB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# /usr/local/bin/docker may be a newer client first on PATH; the engine is 20.10.
TB_DOCKER_BIN=${TB_DOCKER_BIN:-/usr/bin/docker}
TB_DOCKERD_BIN=${TB_DOCKERD_BIN:-/usr/sbin/dockerd}
VPNWALLD=${VPNWALLD:-$TB_LIB_DIR/../../build/cmd/vpnwalld/vpnwalld}
VPNWALL=${VPNWALL:-$TB_LIB_DIR/../../build/cmd/vpnwall/vpnwall}

TB_HOST_IP=198.18.0.1
TB_INET_IP=198.18.0.2
TB_HOST_IP6=2001:db8:ffff::1
TB_INET_IP6=2001:db8:ffff::2
TB_DNS_IP=198.51.100.53
TB_SERVERS4="198.51.100.10 198.51.100.11 198.51.100.12 198.51.100.13"
TB_SERVERS6="2001:db8:100::10 2001:db8:100::11"
TB_PORTS="80 443 8080"
TB_IMAGE=vwtest:latest

TB_PASS=0
TB_FAIL=0
TB=
TB_ID=
TB_HOST_NS=
TB_INET_NS=
TB_DOCKERD_PID=
TB_DAEMON_PID=
TB_DAEMON_WRAPPER=
TB_DAEMON_RC=
TB_DAEMON_LOG_OFF=0
TB_BG_PIDS=
TB_EXTRA_NS=
TB_CLEANED=
TB_DOCKERD_ARGV=()
TB_DNSMASQ_PID=
TB_STORAGE=
TB_CLEANUP_FILES= # files outside $TB a test made (e.g. wireguard-go's sockets)
TB_VPN_NS=
TB_VPN_IF=
TB_VPN_SERVER_IP=198.18.100.1
TB_VPN_HOST_TUN_IP=198.18.200.2
TB_VPN_TABLE=200
TB_VPN_IPV6=${TB_VPN_IPV6:-}         # non-empty: the tunnel carries IPv6 too (tb_vpn_up)
TB_VPN_SERVER_IP6=2001:db8:ff00::1    # the VPN server's uplink (where tunneled v6 comes from)
TB_VPN_HOST_TUN_IP6=2001:db8:200::2   # the host's end of the tunnel
TB_VPN_SERVER_TUN_IP6=2001:db8:200::1 # the server's end
TB_VPN_PREFIX6=2001:db8:1::/64        # the containers' prefix (--fixed-cidr-v6), not NATed

# ---------------------------------------------------------------------------
# small utilities

tb_log() { printf '# %s\n' "$*"; }

# Setup errors are not assertions: stop the script (the trap cleans up).
tb__die() {
	printf 'testbed: ERROR: %s\n' "$*" >&2
	exit 1
}

# tb_wait_until SECONDS CMD...: poll CMD every 0.2 s until it succeeds; 1 on timeout.
tb_wait_until() {
	local limit=$1 deadline
	shift
	deadline=$((SECONDS + limit))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 0.2
	done
}

tb__pid_alive() {
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# Wait up to SECONDS for PID to be gone. Processes we started are our children
# and turn into zombies (still "alive" for kill -0) until reaped, so check /proc.
tb__wait_pid_gone() {
	local pid=$1 limit=$2 deadline state
	deadline=$((SECONDS + limit))
	while :; do
		# Field 3 follows "(comm)", which may itself contain spaces.
		state=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 0
		[ -z "$state" ] || [ "$state" = Z ] && return 0
		((SECONDS >= deadline)) && return 1
		sleep 0.1
	done
}

# SIGTERM, wait, then SIGKILL: for processes we started.
tb__stop_pid() {
	local pid=$1 limit=${2:-10}
	tb__pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! tb__wait_pid_gone "$pid" "$limit"; then
		echo "testbed: pid $pid ignored SIGTERM for ${limit}s, killing" >&2
		kill -KILL "$pid" 2>/dev/null || true
		tb__wait_pid_gone "$pid" 5 || true
	fi
	# Reap it when it is our child, quietly (bash reports killed jobs otherwise).
	{ wait "$pid"; } 2>/dev/null || true
}

tb_host_exec() { ip netns exec "$TB_HOST_NS" "$@"; }
tb_inet_exec() { ip netns exec "$TB_INET_NS" "$@"; }

# nft inside the host namespace (debugging output, "table still exists" checks).
tb_nft() { ip netns exec "$TB_HOST_NS" nft "$@"; }

# tb_nft_elements TABLE-SET: the elements of an nft set or map of vpnwall's table, one per
# line, whitespace squeezed ("198.18.1.2 . 198.51.100.10 . tcp . 80", "198.18.1.2 : \"a_...\"").
tb_nft_elements() {
	{ tb_nft list set inet vpnwall "$1" 2>/dev/null || tb_nft list map inet vpnwall "$1"; } |
		awk '/elements = \{/ { on = 1; sub(/.*\{/, "") } on { print } /\}/ { on = 0 }' |
		tr -d '{}\n' | tr ',' '\n' | sed 's/[ \t][ \t]*/ /g; s/^ //; s/ $//; /^$/d' | awk 1
}

# tb_dispatched ADDR: the key of the container whose policy applies to packets from ADDR
# (vpnwall's allowed maps send them to its counter a_KEY), "exempt", or nothing.
tb_dispatched() {
	local f=4
	case $1 in *:*) f=6 ;; esac
	if tb_nft_elements "exempt$f" | grep -qxF "$1"; then
		echo exempt
		return
	fi
	tb_nft_elements "allowed$f" | sed -n "s/^$1 : \"a_\([0-9a-f]*\)\"\$/\1/p"
}

# tb_destinations ADDR: the destination addresses (or ranges) vpnwall lets source ADDR
# reach, one per line, sorted and unique.
tb_destinations() {
	local f=4 s
	case $1 in *:*) f=6 ;; esac
	for s in exact$f host$f range$f anyexact$f anyhost$f anyrange$f; do
		tb_nft_elements "$s" | awk -v a="$1" '$1 == a && $2 == "." { print $3 }'
	done | sort -u
}

# tb_bridge_verdict BRIDGE: what vpnwall's bridges map says about a Docker bridge: "goto
# police" (managed), "return" (left alone), or nothing when the bridge is not in the map.
tb_bridge_verdict() {
	tb_nft list map inet vpnwall bridges | tr '\t\n{},' '     ' | sed 's/  */ /g' |
		grep -o "\"$1\" : [a-z]* *[a-z]*" | sed 's/^[^:]*: //; s/ *$//'
}

# nft inside the fake internet, which tests own: probes that count what arrives there.
tb_inet_nft() { ip netns exec "$TB_INET_NS" nft "$@"; }

# tb_nft_counter NS FAMILY TABLE NAME: the packet count of a named nft counter in NS.
tb_nft_counter() {
	ip netns exec "$1" nft list counter "$2" "$3" "$4" |
		awk '{ for (i = 1; i < NF; i++) if ($i == "packets") { print $(i + 1); exit } }'
}

# Always the 20.10 client, and never the user's ~/.docker config or context.
docker() { "$TB_DOCKER_BIN" "$@"; }

# Register an extra namespace a test needs (e.g. a VPN server), so that
# cleanup removes it and every process inside it. It must not exist yet: we
# only ever delete what we created. Keep NS short and unique, e.g. vwv$TB_ID.
tb_netns_add() {
	local ns=$1
	[ ! -e "/run/netns/$ns" ] || tb__die "netns $ns already exists"
	# Record first, so that even a killed run has it reaped.
	TB_EXTRA_NS="$TB_EXTRA_NS $ns"
	tb__state_write
	ip netns add "$ns" || tb__die "ip netns add $ns failed"
	ip -n "$ns" link set lo up
}

# ---------------------------------------------------------------------------
# init and cleanup

tb_init() {
	local t cand i
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: testbed needs root (network namespaces, dockerd)"
		exit 77
	fi
	for t in ip nsenter nft dnsmasq busybox timeout "$TB_DOCKERD_BIN" "$TB_DOCKER_BIN"; do
		command -v "$t" >/dev/null 2>&1 || tb__die "required tool missing: $t"
	done

	# Interface and namespace names must stay short (IFNAMSIZ 16) and must not
	# collide with a concurrent run or a stale namespace left by a killed one.
	cand=$$
	for i in $(seq 1 20); do
		if [ ! -e "/run/netns/vwh$cand" ] && [ ! -e "/run/netns/vwi$cand" ]; then
			break
		fi
		cand=$(((RANDOM * 32768 + RANDOM) % 10000000))
		[ "$i" = 20 ] && tb__die "cannot find a free namespace name"
	done
	TB_ID=$cand
	tb__reap_stale
	TB_HOST_NS=vwh$TB_ID
	TB_INET_NS=vwi$TB_ID

	# Short path: unix socket paths below $TB are limited to 108 bytes. /tmp
	# is ext4 here, which overlay2 accepts (tmpfs or overlayfs would not be).
	TB=$(mktemp -d "${TB_TMPDIR:-/tmp}/vwtb.XXXXXX") || tb__die "mktemp failed"
	chmod 755 "$TB"
	export TB TB_ID TB_HOST_NS TB_INET_NS
	tb__state_write

	trap 'tb__on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	tb_log "testbed id $TB_ID, dir $TB"
}

tb__starttime() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# What a later run needs to clean up after us if we die without our trap
# (SIGKILL, e.g. a CTest timeout).
tb__state_write() {
	printf 'owner=%s\nstart=%s\nid=%s\nhost_ns=%s\ninet_ns=%s\nextra_ns=%s\n' \
		"$$" "$(tb__starttime $$)" "$TB_ID" "$TB_HOST_NS" "$TB_INET_NS" "$TB_EXTRA_NS" \
		>"$TB/state.new" && mv "$TB/state.new" "$TB/state"
}

# Clean up testbeds whose owning script is gone. Only what such a run
# recorded is touched; processes are found through its namespaces and cgroup.
tb__reap_stale() {
	local f dir owner start id hns ins ens k v
	for f in "${TB_TMPDIR:-/tmp}"/vwtb.*/state; do
		[ -f "$f" ] || continue
		dir=${f%/state}
		owner='' start='' id='' hns='' ins='' ens=''
		while IFS='=' read -r k v; do
			case $k in
			owner) owner=$v ;; start) start=$v ;; id) id=$v ;;
			host_ns) hns=$v ;; inet_ns) ins=$v ;; extra_ns) ens=$v ;;
			esac
		done <"$f"
		case $id in '' | *[!0-9]*) continue ;; esac
		if [ "$hns" != "vwh$id" ] || [ "$ins" != "vwi$id" ]; then
			continue
		fi
		if [ -n "$owner" ] && [ "$(tb__starttime "$owner")" = "$start" ]; then
			continue # still running
		fi
		echo "testbed: reaping stale testbed $id ($dir)" >&2
		# A subshell, so that our own run's variables stay untouched.
		(tb__reap_one "$dir" "$id" "$ens") ||
			echo "testbed: stale testbed $id not fully removed" >&2
	done
}

tb__reap_one() {
	TB=$1 TB_ID=$2 TB_EXTRA_NS=$3
	TB_HOST_NS=vwh$2 TB_INET_NS=vwi$2
	TB_DOCKERD_PID='' TB_DAEMON_PID='' TB_BG_PIDS='' TB_CLEANED=''
	tb_cleanup
}

tb__on_exit() {
	local rc=$?
	tb_cleanup
	exit "$rc"
}

# Kill every process whose network namespace is NS (dnsmasq, httpd, dockerd,
# containerd and its shims, vpnwalld, docker-proxy). Only our namespaces.
tb__kill_ns_pids() {
	local ns=$1 pids
	[ -e "/run/netns/$ns" ] || return 0
	pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
	[ -n "${pids// /}" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for _ in $(seq 1 30); do
		pids=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
		[ -n "${pids// /}" ] || return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.2
}

# Container processes live in their own namespaces; find them by our private
# cgroup parent (only if dockerd died before it could stop them).
tb__kill_cgroup_pids() {
	local f pids=
	[ -n "$TB_ID" ] || return 0
	for f in /proc/[0-9]*/cgroup; do
		if grep -q "/vwtb$TB_ID/" "$f" 2>/dev/null; then
			f=${f#/proc/}
			pids="$pids ${f%/cgroup}"
		fi
	done
	# shellcheck disable=SC2086
	[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

tb__rm_cgroups() {
	local d
	[ -n "$TB_ID" ] || return 0
	# Depth 4 reaches /sys/fs/cgroup/memory/<parent>/<parent>/vwtbID, where the
	# relative cgroup parent lands when dockerd itself is in a nested cgroup.
	find /sys/fs/cgroup -maxdepth 4 -type d -name "vwtb$TB_ID" 2>/dev/null |
		while read -r d; do
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
}

tb__mounts_under() {
	[ -n "$1" ] || return 0
	awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts
}

tb__umount_all() {
	local m i
	[ -n "$TB" ] || return 0
	for i in 1 2 3; do
		m=$(tb__mounts_under "$TB")
		[ -n "$m" ] || return 0
		# Deepest first.
		printf '%s\n' "$m" | awk '{ print length($0) " " $0 }' | sort -rn | cut -d' ' -f2- |
			while read -r m; do
				umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
			done
	done
}

# Remove everything the testbed created. Idempotent; prints only problems.
tb_cleanup() {
	local ns left=0 m
	[ -z "$TB_CLEANED" ] || return 0
	TB_CLEANED=1
	set +e
	# A second Ctrl-C must not leave half a testbed behind.
	trap '' INT TERM

	if tb__pid_alive "$TB_DAEMON_PID"; then
		tb__stop_pid "$TB_DAEMON_PID" 5
	fi
	if tb__pid_alive "$TB_DOCKERD_PID"; then
		# rm -f kills at once; a plain dockerd stop would wait for each container.
		local ids
		ids=$(timeout 20 "$TB_DOCKER_BIN" ps -aq 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$ids" ] || timeout 30 "$TB_DOCKER_BIN" rm -f $ids >/dev/null 2>&1
		tb__stop_pid "$TB_DOCKERD_PID" 20
	fi
	for ns in $TB_EXTRA_NS $TB_INET_NS $TB_HOST_NS; do
		tb__kill_ns_pids "$ns"
	done
	for m in $TB_BG_PIDS; do
		tb__pid_alive "$m" && kill -KILL "$m" 2>/dev/null
	done
	for m in $TB_CLEANUP_FILES; do
		rm -f "$m"
	done
	tb__kill_cgroup_pids
	tb__umount_all
	tb__rm_cgroups
	for ns in $TB_EXTRA_NS $TB_INET_NS $TB_HOST_NS; do
		[ -n "$ns" ] && [ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done

	# Report what could not be removed: the next run on this shared machine
	# should not inherit it.
	for ns in $TB_EXTRA_NS $TB_INET_NS $TB_HOST_NS; do
		if [ -n "$ns" ] && [ -e "/run/netns/$ns" ]; then
			echo "testbed: cleanup: netns $ns still exists" >&2
			left=1
		fi
	done
	m=$(tb__mounts_under "$TB")
	if [ -n "$m" ]; then
		echo "testbed: cleanup: still mounted under $TB:" >&2
		printf '  %s\n' "$m" >&2
		left=1
	fi
	if [ -n "$TB" ] && [ -d "$TB" ]; then
		if [ -n "$m" ]; then
			echo "testbed: cleanup: not removing $TB while mounts remain" >&2
		elif [ "${TB_KEEP:-0}" = 1 ]; then
			# Without state, later runs will not reap (delete) the kept logs.
			rm -f "$TB/state"
			echo "testbed: keeping $TB (TB_KEEP=1)" >&2
		else
			case $TB in
			*/vwtb.*) rm -rf --one-file-system "$TB" ;;
			*) echo "testbed: cleanup: refusing to remove odd path '$TB'" >&2 ;;
			esac
		fi
	fi
	trap - INT TERM
	return "$left"
}

# ---------------------------------------------------------------------------
# networks

tb_net_up() {
	ip netns add "$TB_HOST_NS" || tb__die "ip netns add $TB_HOST_NS failed"
	ip netns add "$TB_INET_NS" || tb__die "ip netns add $TB_INET_NS failed"
	ip -n "$TB_HOST_NS" link set lo up
	ip -n "$TB_INET_NS" link set lo up

	# Both veth ends are born inside the namespaces: nothing in the root ns.
	ip -n "$TB_HOST_NS" link add eth0 type veth peer name eth0 netns "$TB_INET_NS" ||
		tb__die "veth creation failed"

	ip -n "$TB_HOST_NS" addr add "$TB_HOST_IP/30" dev eth0
	ip -n "$TB_INET_NS" addr add "$TB_INET_IP/30" dev eth0
	# nodad: duplicate address detection would leave the addresses tentative
	# (unusable) for a second or two.
	ip -n "$TB_HOST_NS" -6 addr add "$TB_HOST_IP6/64" dev eth0 nodad
	ip -n "$TB_INET_NS" -6 addr add "$TB_INET_IP6/64" dev eth0 nodad
	ip -n "$TB_HOST_NS" link set eth0 up
	ip -n "$TB_INET_NS" link set eth0 up
	ip -n "$TB_HOST_NS" route add default via "$TB_INET_IP"
	ip -n "$TB_HOST_NS" -6 route add default via "$TB_INET_IP6"

	# IPv4 forwarding is left to dockerd, as on a stock Docker host: when it
	# has to enable forwarding itself, it also sets the FORWARD policy to DROP
	# (tb_dockerd_start checks that forwarding is on afterwards).
	tb_host_exec sysctl -qw net.ipv6.conf.all.forwarding=1

	local a
	for a in $TB_SERVERS4 $TB_DNS_IP; do
		ip -n "$TB_INET_NS" addr add "$a/32" dev lo
	done
	for a in $TB_SERVERS6; do
		ip -n "$TB_INET_NS" -6 addr add "$a/128" dev lo
	done
}

# One busybox httpd per address and port: busybox nc cannot bind to an
# address, and httpd forks per connection, so sequential clients never wait.
# GET / runs cgi-bin/index.cgi (there is no index.html), which names the
# server and the source address it saw.
tb_servers_up() {
	local a p dir bind
	for a in $TB_SERVERS4 $TB_SERVERS6; do
		for p in $TB_PORTS; do
			dir=$TB/srv/$a-$p
			mkdir -p "$dir/cgi-bin"
			cat >"$dir/cgi-bin/index.cgi" <<-EOF
				#!/bin/sh
				printf 'Content-Type: text/plain\r\n\r\n'
				c=\${REMOTE_ADDR#\[}
				echo "tb-server $a $p client=\${c%\]}"
			EOF
			chmod 755 "$dir/cgi-bin/index.cgi"
			case $a in
			*:*) bind="[$a]:$p" ;;
			*) bind="$a:$p" ;;
			esac
			nsenter --net="/run/netns/$TB_INET_NS" busybox httpd -f -v -p "$bind" -h "$dir" \
				</dev/null >>"$TB/httpd.log" 2>&1 &
			TB_BG_PIDS="$TB_BG_PIDS $!"
		done
	done
	tb_wait_until 10 tb__servers_listening ||
		tb__die "fake servers did not start; $(tail -5 "$TB/httpd.log")"
}

tb__servers_listening() {
	local n want
	want=$(($(echo "$TB_SERVERS4 $TB_SERVERS6" | wc -w) * $(echo "$TB_PORTS" | wc -w)))
	n=$(tb_inet_exec busybox netstat -ltn 2>/dev/null | grep -c LISTEN)
	[ "$n" -ge "$want" ]
}

# ---------------------------------------------------------------------------
# DNS

tb_dns_up() {
	mkdir -p "$TB/dns"
	cat >"$TB/dns/hosts" <<-EOF
		198.51.100.10 web.test
		198.51.100.11 api.test
		198.51.100.12 alt.test
		198.51.100.13 dual.test
		2001:db8:100::11 dual.test
		2001:db8:100::10 v6.test
	EOF
	# Names under slow.test are never answered: dnsmasq forwards them to 198.51.100.99,
	# routed into a veth pair whose other end has another MAC and drops every packet.
	ip -n "$TB_INET_NS" link add vwslow0 type veth peer name vwslow1
	ip -n "$TB_INET_NS" link set vwslow0 up
	ip -n "$TB_INET_NS" link set vwslow1 up
	ip -n "$TB_INET_NS" route add 198.51.100.99/32 dev vwslow0
	ip -n "$TB_INET_NS" neigh add 198.51.100.99 lladdr 02:00:00:00:00:99 dev vwslow0 nud permanent
	# --conf-file=/dev/null: ignore the machine's /etc/dnsmasq.conf.
	# --user=root: the daemon must still read $TB/dns/hosts after SIGHUP.
	# --local=/test/: unknown *.test names get NXDOMAIN, not REFUSED.
	nsenter --net="/run/netns/$TB_INET_NS" dnsmasq --keep-in-foreground \
		--conf-file=/dev/null --user=root --group=root \
		--pid-file="$TB/dnsmasq.pid" \
		--listen-address="$TB_DNS_IP" --bind-interfaces --port=53 \
		--no-resolv --no-hosts --addn-hosts="$TB/dns/hosts" --local=/test/ \
		--server=/slow.test/198.51.100.99 \
		--local-ttl=1 --neg-ttl=1 --log-queries --log-facility="$TB/dnsmasq.log" \
		</dev/null >>"$TB/dnsmasq.out" 2>&1 &
	TB_DNSMASQ_PID=$!
	TB_BG_PIDS="$TB_BG_PIDS $TB_DNSMASQ_PID"
	tb_wait_until 10 tb__dns_answers web.test 198.51.100.10 ||
		tb__die "dnsmasq does not answer; $(cat "$TB/dnsmasq.out" 2>/dev/null; tail -5 "$TB/dnsmasq.log" 2>/dev/null)"
}

# tb_dns_query NAME: the addresses (A and AAAA) our resolver returns, sorted,
# one per line; nothing for NXDOMAIN. Fails if the server did not answer.
tb_dns_query() {
	local out
	out=$(tb_inet_exec timeout 5 busybox nslookup "$1" "$TB_DNS_IP" 2>&1) || true
	case $out in
	*"no servers could be reached"* | *"connection timed out"* | *"Connection refused"*) return 1 ;;
	esac
	case $out in
	*Name:* | *NXDOMAIN* | *"No answer"*) ;;
	*) return 1 ;;
	esac
	# Skip the "Address: server#53" header line; answers follow "Name:".
	printf '%s\n' "$out" | awk '/^Name:/ { ans = 1 } ans && /^Address:/ { print $2 }' | sort -u
}

tb__dns_answers() {
	local name=$1 got want
	shift
	got=$(tb_dns_query "$name") || return 1
	want=$(printf '%s\n' "$@" | sed '/^$/d' | sort -u)
	[ "$got" = "$want" ]
}

# tb_dns_set NAME [IP...]: replace NAME's records (no IP: remove the name) and
# wait until dnsmasq serves the new answer.
tb_dns_set() {
	local name=$1 ip tmp
	shift
	tmp=$TB/dns/hosts.new
	awk -v n="$name" '$2 != n' "$TB/dns/hosts" >"$tmp"
	for ip in "$@"; do
		printf '%s %s\n' "$ip" "$name" >>"$tmp"
	done
	mv "$tmp" "$TB/dns/hosts"
	kill -HUP "$TB_DNSMASQ_PID" || tb__die "dnsmasq is gone"
	tb_wait_until 10 tb__dns_answers "$name" "$@" ||
		tb__die "dnsmasq still answers '$(tb_dns_query "$name" | tr '\n' ' ')' for $name, want '$*'"
}

# ---------------------------------------------------------------------------
# A WireGuard VPN, with wireguard-go (this kernel has no WireGuard module):
#
#   [host ns]  wg$TB_ID 198.18.200.2/24 ---udp---> 198.18.100.1:51820, over eth0 (the uplink)
#              containers on docker0 are routed into the tunnel (ip rule iif docker0 ->
#              table 200: default dev wg$TB_ID; or by vpnwalld, TB_VPN_ROUTING=none);
#              without the tunnel that route is gone and the main table's default, the
#              uplink, is the leak path
#   [inet ns]  vs0 198.18.100.2/30
#   [vpn ns]   eth0 198.18.100.1/30, ws$TB_ID 198.18.200.1/24, masquerading out of eth0
#
# The fake internet tells the paths apart: through the tunnel, packets arrive over vs0 from
# 198.18.100.1; leaked, over eth0 from the host.
#
# TB_VPN_IPV6=1 (set it before tb_vpn_up and leave it set: tb_vpn_tunnel_up reads it too)
# makes the tunnel dual-stack: the host's end also gets 2001:db8:200::2/64 and allowed-ips
# ::/0, docker0 is routed into table $TB_VPN_TABLE for IPv6 as well, and the server (eth0
# 2001:db8:ff00::1/64, facing vs0 2001:db8:ff00::2/64) accepts $TB_VPN_PREFIX6 from the
# host, routes it back into the tunnel and masquerades it out of eth0 (Docker 20.10 does
# not NAT IPv6): tunneled IPv6 arrives from 2001:db8:ff00::1, leaked IPv6 over eth0 from the
# containers' own addresses. For replies to those (a LAN reached directly), a test routes
# $TB_VPN_PREFIX6 back to the host in the fake internet.

# tb__wg_start NS IFACE: a wireguard-go interface in NS, once it exists.
tb__wg_start() {
	local ns=$1 ifc=$2
	TB_CLEANUP_FILES="$TB_CLEANUP_FILES /var/run/wireguard/$ifc.sock"
	nsenter --net="/run/netns/$ns" env WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
		wireguard-go -f "$ifc" </dev/null >>"$TB/wireguard-$ifc.log" 2>&1 &
	TB_BG_PIDS="$TB_BG_PIDS $!"
	tb_wait_until 10 test -S "/var/run/wireguard/$ifc.sock" ||
		tb__die "wireguard-go $ifc did not start: $(tail -3 "$TB/wireguard-$ifc.log")"
}

# tb_vpn_up: the VPN server, and the tunnel up with containers routed into it.
tb_vpn_up() {
	local k=$TB/vpn
	command -v wireguard-go >/dev/null && command -v wg >/dev/null ||
		tb__die "wireguard-go and wg are needed (apt-get install wireguard-go wireguard-tools)"
	mkdir -p "$k"
	(umask 077 && wg genkey >"$k/server.key" && wg genkey >"$k/host.key") ||
		tb__die "wg genkey failed"
	wg pubkey <"$k/server.key" >"$k/server.pub"
	wg pubkey <"$k/host.key" >"$k/host.pub"

	TB_VPN_NS=vwv$TB_ID
	TB_VPN_IF=wg$TB_ID
	tb_netns_add "$TB_VPN_NS"
	ip -n "$TB_INET_NS" link add vs0 type veth peer name eth0 netns "$TB_VPN_NS" ||
		tb__die "veth to the VPN server failed"
	ip -n "$TB_INET_NS" addr add 198.18.100.2/30 dev vs0
	ip -n "$TB_VPN_NS" addr add "$TB_VPN_SERVER_IP/30" dev eth0
	ip -n "$TB_INET_NS" link set vs0 up
	ip -n "$TB_VPN_NS" link set eth0 up
	# The fake internet now carries the host's tunnel packets to the VPN server.
	tb_inet_exec sysctl -qw net.ipv4.ip_forward=1
	ip -n "$TB_VPN_NS" route add default via 198.18.100.2
	ip netns exec "$TB_VPN_NS" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$TB_VPN_NS" nft -f - <<-EOF || tb__die "VPN server NAT failed"
		table ip vpnsrv {
			chain post { type nat hook postrouting priority 100; oifname "eth0" masquerade; }
		}
	EOF
	local allowed=$TB_VPN_HOST_TUN_IP/32
	if [ -n "$TB_VPN_IPV6" ]; then
		allowed="$allowed,$TB_VPN_HOST_TUN_IP6/128,$TB_VPN_PREFIX6"
		ip -n "$TB_INET_NS" -6 addr add 2001:db8:ff00::2/64 dev vs0 nodad
		ip -n "$TB_VPN_NS" -6 addr add "$TB_VPN_SERVER_IP6/64" dev eth0 nodad
		ip -n "$TB_VPN_NS" -6 route add default via 2001:db8:ff00::2
		ip netns exec "$TB_VPN_NS" sysctl -qw net.ipv6.conf.all.forwarding=1
		ip netns exec "$TB_VPN_NS" nft -f - <<-EOF || tb__die "VPN server NAT (IPv6) failed"
			table ip6 vpnsrv6 {
				chain post { type nat hook postrouting priority 100; oifname "eth0" masquerade; }
			}
		EOF
	fi
	tb__wg_start "$TB_VPN_NS" "ws$TB_ID"
	wg set "ws$TB_ID" private-key "$k/server.key" listen-port 51820 \
		peer "$(cat "$k/host.pub")" allowed-ips "$allowed" ||
		tb__die "wg set (server) failed"
	ip -n "$TB_VPN_NS" addr add 198.18.200.1/24 dev "ws$TB_ID"
	ip -n "$TB_VPN_NS" link set "ws$TB_ID" up
	if [ -n "$TB_VPN_IPV6" ]; then
		ip -n "$TB_VPN_NS" -6 addr add "$TB_VPN_SERVER_TUN_IP6/64" dev "ws$TB_ID" nodad
		ip -n "$TB_VPN_NS" -6 route add "$TB_VPN_PREFIX6" dev "ws$TB_ID"
	fi
	# TB_VPN_ROUTING=none: leave routing into the tunnel to vpnwalld (VPN_ROUTE=true).
	if [ "${TB_VPN_ROUTING:-manual}" != none ]; then
		tb_host_exec ip rule add iif docker0 lookup "$TB_VPN_TABLE" pref 100
		[ -z "$TB_VPN_IPV6" ] ||
			tb_host_exec ip -6 rule add iif docker0 lookup "$TB_VPN_TABLE" pref 100
	fi
	tb_vpn_tunnel_up
}

# tb_vpn_tunnel_up: (re)create the host's tunnel interface and the route into it.
tb_vpn_tunnel_up() {
	local k=$TB/vpn allowed=0.0.0.0/0
	[ -z "$TB_VPN_IPV6" ] || allowed=0.0.0.0/0,::/0
	tb__wg_start "$TB_HOST_NS" "$TB_VPN_IF"
	wg set "$TB_VPN_IF" private-key "$k/host.key" \
		peer "$(cat "$k/server.pub")" endpoint "$TB_VPN_SERVER_IP:51820" \
		allowed-ips "$allowed" persistent-keepalive 1 || tb__die "wg set (host) failed"
	ip -n "$TB_HOST_NS" addr add "$TB_VPN_HOST_TUN_IP/24" dev "$TB_VPN_IF"
	[ -z "$TB_VPN_IPV6" ] ||
		ip -n "$TB_HOST_NS" -6 addr add "$TB_VPN_HOST_TUN_IP6/64" dev "$TB_VPN_IF" nodad
	ip -n "$TB_HOST_NS" link set "$TB_VPN_IF" up
	[ "${TB_VPN_ROUTING:-manual}" = none ] ||
		ip -n "$TB_HOST_NS" route replace default dev "$TB_VPN_IF" table "$TB_VPN_TABLE"
	[ "${TB_VPN_ROUTING:-manual}" = none ] || [ -z "$TB_VPN_IPV6" ] ||
		ip -n "$TB_HOST_NS" -6 route replace default dev "$TB_VPN_IF" table "$TB_VPN_TABLE"
}

# tb_probe_counters PORT: count, in the fake internet, the UDP datagrams to PORT by the way
# they arrive: over the host's uplink ("leaked") or from the VPN server ("tunneled"), of
# either family; "leaked6" and "tunneled6" count the IPv6 ones apart.
tb_probe_counters() {
	tb_inet_nft -f - <<-EOF || tb__die "probe counters failed"
		table inet probes {
			counter leaked { }
			counter tunneled { }
			counter leaked6 { }
			counter tunneled6 { }
			chain pre {
				type filter hook prerouting priority -300;
				iifname "eth0" udp dport $1 counter name leaked
				iifname "vs0" udp dport $1 counter name tunneled
				meta nfproto ipv6 iifname "eth0" udp dport $1 counter name leaked6
				meta nfproto ipv6 iifname "vs0" udp dport $1 counter name tunneled6
			}
		}
	EOF
}

# tb_probes leaked|tunneled|leaked6|tunneled6: the count so far.
tb_probes() { tb_nft_counter "$TB_INET_NS" inet probes "$1"; }

# tb_probes_flow leaked|tunneled|leaked6|tunneled6: more than 10 arrive that way within half
# a second (a prober sending every 10 ms sends ~50).
tb_probes_flow() {
	local a
	a=$(tb_probes "$1")
	sleep 0.5
	[ "$(tb_probes "$1")" -gt "$((a + 10))" ]
}

# tb_vpn_tunnel_down: delete the host's tunnel interface (wireguard-go exits with it).
tb_vpn_tunnel_down() {
	ip -n "$TB_HOST_NS" link del "$TB_VPN_IF" || tb__die "cannot delete $TB_VPN_IF"
	tb_wait_until 10 sh -c "! test -S /var/run/wireguard/$TB_VPN_IF.sock" ||
		rm -f "/var/run/wireguard/$TB_VPN_IF.sock"
}

# ---------------------------------------------------------------------------
# dockerd

tb__dockerd_spawn() {
	nsenter --net="/run/netns/$TB_HOST_NS" "${TB_DOCKERD_ARGV[@]}" \
		</dev/null >>"$TB/dockerd.log" 2>&1 &
	TB_DOCKERD_PID=$!
}

# Wait for the API; 0 when it answers, 1 if dockerd died, 2 on timeout.
tb__dockerd_wait() {
	local deadline=$((SECONDS + ${1:-60}))
	while :; do
		if timeout 10 "$TB_DOCKER_BIN" version >/dev/null 2>&1; then
			return 0
		fi
		tb__wait_pid_gone "$TB_DOCKERD_PID" 0 && return 1
		((SECONDS >= deadline)) && return 2
		sleep 0.2
	done
}

tb_dockerd_start() {
	local driver=${TB_STORAGE_DRIVER:-overlay2} rc=0
	mkdir -p "$TB/data" "$TB/exec" "$TB/docker-config"
	# The trust key would otherwise land in the machine's /etc/docker, and a
	# daemon.json there must not change our daemon.
	printf '{ "deprecated-key-path": "%s/key.json" }\n' "$TB" >"$TB/daemon.json"
	export DOCKER_HOST=unix://$TB/docker.sock
	export DOCKER_CONFIG=$TB/docker-config
	while :; do
		# shellcheck disable=SC2054 # commas belong to --default-address-pool
		TB_DOCKERD_ARGV=("$TB_DOCKERD_BIN"
			--config-file "$TB/daemon.json"
			--host "unix://$TB/docker.sock"
			--data-root "$TB/data" --exec-root "$TB/exec" --pidfile "$TB/docker.pid"
			--storage-driver "$driver"
			--dns "$TB_DNS_IP"
			--bip 198.18.1.1/24
			--default-address-pool base=198.18.16.0/20,size=24
			# Relative: under dockerd's own cgroup, in a subtree only we use.
			--cgroup-parent "vwtb$TB_ID"
			# Our image stops on SIGTERM; bound the wait anyway.
			--shutdown-timeout 5)
		# shellcheck disable=SC2206
		[ -z "${TB_DOCKERD_ARGS:-}" ] || TB_DOCKERD_ARGV+=($TB_DOCKERD_ARGS)
		echo "=== testbed: starting dockerd (storage $driver) ===" >>"$TB/dockerd.log"
		tb__dockerd_spawn
		rc=0
		tb__dockerd_wait 60 || rc=$?
		[ "$rc" = 0 ] && break
		# Only a storage problem is worth a second try with the slow driver.
		if [ "$rc" = 1 ] && [ "$driver" = overlay2 ] && [ -z "${TB_STORAGE_DRIVER:-}" ] &&
			tail -20 "$TB/dockerd.log" | grep -v '^=== testbed' |
			grep -qiE 'overlay|graphdriver|storage'; then
			echo "testbed: dockerd failed with overlay2, retrying with vfs" >&2
			tail -5 "$TB/dockerd.log" >&2
			{ wait "$TB_DOCKERD_PID"; } 2>/dev/null || true
			driver=vfs
			continue
		fi
		tail -30 "$TB/dockerd.log" >&2
		tb__die "dockerd did not come up (the tail of its log is above)"
	done
	TB_STORAGE=$driver
	[ "$(tb_host_exec sysctl -n net.ipv4.ip_forward)" = 1 ] ||
		tb_host_exec sysctl -qw net.ipv4.ip_forward=1
	export TB_STORAGE
}

tb_dockerd_stop() {
	tb__pid_alive "$TB_DOCKERD_PID" || return 0
	kill -TERM "$TB_DOCKERD_PID"
	# Containers get --shutdown-timeout (5 s) each, in parallel.
	if ! tb__wait_pid_gone "$TB_DOCKERD_PID" 30; then
		tail -20 "$TB/dockerd.log" >&2
		tb__die "dockerd did not exit within 30 s of SIGTERM"
	fi
	{ wait "$TB_DOCKERD_PID"; } 2>/dev/null || true
	# Its containerd goes down with it; wait so a new one can take the socket.
	tb_wait_until 15 tb__no_containerd ||
		tb__die "containerd of the old dockerd is still running"
}

tb__no_containerd() {
	! ip netns pids "$TB_HOST_NS" 2>/dev/null | while read -r p; do
		grep -qx containerd "/proc/$p/comm" 2>/dev/null && echo "$p"
	done | grep -q .
}

# Containers without a restart policy are stopped by the restart (no live-restore).
tb_dockerd_restart() {
	tb_dockerd_stop
	echo "=== testbed: restarting dockerd ===" >>"$TB/dockerd.log"
	tb__dockerd_spawn
	local rc=0
	tb__dockerd_wait 60 || rc=$?
	if [ "$rc" != 0 ]; then
		tail -30 "$TB/dockerd.log" >&2
		tb__die "dockerd did not come back after restart"
	fi
}

# ---------------------------------------------------------------------------
# image and containers

# vwtest:latest: busybox-static applets (and TB_IMAGE_EXTRA). PID 1 is a shell that exits on
# SIGTERM, so stopping a container (or dockerd) takes no grace period.
tb_image() {
	local r=$TB/rootfs f
	if docker image inspect "$TB_IMAGE" >/dev/null 2>&1; then
		return 0
	fi
	if [ ! -f "$TB/rootfs.tar" ]; then
		rm -rf "$r"
		mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/root" "$r/proc" "$r/sys" "$r/dev" "$r/var"
		chmod 1777 "$r/tmp"
		cp /usr/bin/busybox "$r/bin/busybox"
		chroot "$r" /bin/busybox --install -s /bin || tb__die "busybox --install failed"
		ln -s bin "$r/sbin"
		echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
		echo 'root:x:0:' >"$r/etc/group"
		cat >"$r/bin/tb-idle" <<-'EOF'
			#!/bin/sh
			trap 'exit 0' TERM INT
			sleep 2147483647 &
			wait
		EOF
		chmod 755 "$r/bin/tb-idle"
		for f in ${TB_IMAGE_EXTRA:-}; do
			[ -f "$f" ] || tb__die "TB_IMAGE_EXTRA: no such file: $f"
			install -m 755 "$f" "$r/bin/" || tb__die "cannot copy $f into the test image"
		done
		tar -C "$r" -cf "$TB/rootfs.tar" . || tb__die "rootfs tar failed"
	fi
	docker import --change 'CMD ["/bin/tb-idle"]' "$TB/rootfs.tar" "$TB_IMAGE" >/dev/null ||
		tb__die "docker import failed"
}

tb__running() {
	[ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}

# tb_run NAME [docker run args...] [-- CMD...]: start a detached test container
# and return once it runs.
tb_run() {
	local name=$1 args=() cmd=()
	shift
	while [ $# -gt 0 ]; do
		if [ "$1" = -- ]; then
			shift
			cmd=("$@")
			break
		fi
		args+=("$1")
		shift
	done
	docker run -d --name "$name" ${args[@]+"${args[@]}"} "$TB_IMAGE" ${cmd[@]+"${cmd[@]}"} >/dev/null ||
		tb__die "docker run $name failed"
	tb_wait_until 20 tb__running "$name" ||
		tb__die "container $name is not running: $(docker logs --tail 5 "$name" 2>&1)"
}

# tb_ip NAME [NETWORK]: the container's IPv4 address (on NETWORK, or its first).
tb_ip() {
	local ip
	if [ $# -ge 2 ]; then
		ip=$(docker inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.IPAddress}}{{end}}" "$1")
	else
		ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' "$1")
		ip=${ip%% *}
	fi
	[ -n "$ip" ] || {
		echo "testbed: no IPv4 address for $1 ${2:-}" >&2
		return 1
	}
	printf '%s\n' "$ip"
}

# tb_listen NAME PORT [REPLY]: a TCP server inside container NAME answering
# REPLY (default "pong NAME"). It drains the request before closing so that
# the client sees a FIN, not a reset that could swallow the reply.
tb_listen() {
	local name=$1 port=$2 reply=${3:-pong $1}
	docker exec -d "$name" nc -ll -p "$port" -e sh -c "echo '$reply'; cat >/dev/null" ||
		tb__die "cannot start listener in $name"
	tb_wait_until 10 docker exec "$name" sh -c "netstat -ltn | grep -q ':$port '" ||
		tb__die "listener on $name:$port did not come up"
}

# tb_fetch NAME HOST PORT: send a request from container NAME and print the
# answer body (for the fake servers: "tb-server ADDR PORT client=SRC").
# Connecting is bounded by 2 s, the whole exchange by 4 s.
tb_fetch() {
	local out
	# shellcheck disable=SC2016 # expanded by the container's shell
	out=$(timeout 15 "$TB_DOCKER_BIN" exec "$1" sh -c \
		'printf "GET / HTTP/1.0\r\nHost: $1\r\n\r\n" | timeout 4 nc -w 2 "$1" "$2"' sh "$2" "$3" \
		2>/dev/null) || true
	[ -n "$out" ] || return 1
	# Drop HTTP headers when there are any.
	case $out in
	HTTP/*) printf '%s\n' "$out" | tr -d '\r' | sed '1,/^$/d' ;;
	*) printf '%s\n' "$out" ;;
	esac
}

# tb_can_reach NAME HOST PORT: 0 iff a connection from NAME to HOST:PORT gets
# an answer. For a fake internet server given by address, the answer must come
# from that very server (a redirect to another one is not "reach").
tb_can_reach() {
	local body
	body=$(tb_fetch "$1" "$2" "$3") || return 1
	[ -n "$body" ] || return 1
	case $body in
	tb-server*)
		case $2 in
		*[!0-9a-fA-F.:]*) return 0 ;; # a name: any fake server will do
		esac
		case $body in "tb-server $2 $3 "*) return 0 ;; esac
		return 1
		;;
	esac
	return 0
}

# ---------------------------------------------------------------------------
# assertions

tb__pass() {
	TB_PASS=$((TB_PASS + 1))
	printf 'ok %d - %s\n' "$((TB_PASS + TB_FAIL))" "$1"
}

tb__fail() {
	TB_FAIL=$((TB_FAIL + 1))
	printf 'not ok %d - %s\n' "$((TB_PASS + TB_FAIL))" "$1"
	[ -z "${2:-}" ] || printf '#   %s\n' "$2"
	tb_dump_debug
}

# Context for a failed assertion, on stderr.
tb_dump_debug() {
	{
		if [ -f "$TB/vpnwalld.log" ]; then
			echo "--- last 30 lines of vpnwalld.log ---"
			tail -n 30 "$TB/vpnwalld.log"
		fi
		if [ -n "$TB_HOST_NS" ] && [ -e "/run/netns/$TB_HOST_NS" ]; then
			echo "--- nft list ruleset (host ns $TB_HOST_NS) ---"
			tb_nft list ruleset 2>&1
		fi
		echo "--- end ---"
	} >&2
}

# tb_check DESC CMD...: pass iff CMD exits 0.
tb_check() {
	local desc=$1
	shift
	if "$@"; then tb__pass "$desc"; else tb__fail "$desc" "command failed: $*"; fi
}

# tb_check_eq DESC EXPECTED CMD...: pass iff CMD succeeds and prints EXPECTED
# (several lines of output are joined with single spaces).
tb_check_eq() {
	local desc=$1 want=$2 got rc=0
	shift 2
	got=$("$@") || rc=$?
	got=$(printf '%s' "$got" | tr '\n' ' ')
	if [ "$rc" = 0 ] && [ "$got" = "$want" ]; then tb__pass "$desc"; else
		tb__fail "$desc" "got '$got' (exit $rc), want '$want' from: $*"
	fi
}

# tb_check_fails DESC CMD...: pass iff CMD exits non-zero.
tb_check_fails() {
	local desc=$1
	shift
	if "$@"; then tb__fail "$desc" "command succeeded: $*"; else tb__pass "$desc"; fi
}

# tb_eventually SECONDS CMD...: 0 as soon as CMD succeeds, 1 if it never does.
tb_eventually() {
	local limit=$1 deadline
	shift
	deadline=$((SECONDS + limit))
	while :; do
		"$@" && return 0
		((SECONDS >= deadline)) && return 1
		sleep 0.3
	done
}

tb__blocked() { ! tb_can_reach "$@"; }

tb_expect_reach() {
	if tb_can_reach "$1" "$2" "$3"; then tb__pass "$4"; else
		tb__fail "$4" "$1 -> $2:$3 got no answer"
	fi
}

tb_expect_blocked() {
	if tb_can_reach "$1" "$2" "$3"; then
		tb__fail "$4" "$1 -> $2:$3 was answered: $(tb_fetch "$1" "$2" "$3" | head -1)"
	else tb__pass "$4"; fi
}

# ..._eventually NAME HOST PORT DESC [SECONDS=15]: the daemon applies rules
# asynchronously, so allow it time to converge.
tb_expect_eventually_reach() {
	if tb_eventually "${5:-15}" tb_can_reach "$1" "$2" "$3"; then tb__pass "$4"; else
		tb__fail "$4" "$1 -> $2:$3 got no answer within ${5:-15}s"
	fi
}

tb_expect_eventually_blocked() {
	if tb_eventually "${5:-15}" tb__blocked "$1" "$2" "$3"; then tb__pass "$4"; else
		tb__fail "$4" "$1 -> $2:$3 still answered after ${5:-15}s"
	fi
}

# Clean up first so that the summary is the last line of output.
tb_finish() {
	# A sanitizer report from the daemon is a failure even if every behaviour looked right.
	if [ -n "$TB" ] && [ -f "$TB/vpnwalld.log" ] &&
		grep -qE "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$TB/vpnwalld.log"; then
		grep -E -A20 "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$TB/vpnwalld.log" | head -60 >&2
		tb__fail "vpnwalld ran clean under the sanitizers"
	fi
	if ! tb_cleanup; then
		tb__fail "testbed cleanup left things behind"
	fi
	echo "$TB_PASS passed, $TB_FAIL failed"
	trap - EXIT
	if [ "$TB_FAIL" -gt 0 ] || [ "$TB_PASS" -eq 0 ]; then
		exit 1
	fi
	exit 0
}

# ---------------------------------------------------------------------------
# vpnwalld

# tb_cli ARGS...: the vpnwall CLI in the host ns, talking to this testbed's daemon.
tb_cli() { ip netns exec "$TB_HOST_NS" "$VPNWALL" --api "$TB/api.sock" "$@"; }

# tb_daemon_start [ENV=VAL...]: run vpnwalld in the host ns against our dockerd.
tb_daemon_start() {
	local i
	[ -x "$VPNWALLD" ] || tb__die "vpnwalld binary not found at $VPNWALLD (build first or set VPNWALLD)"
	if tb__pid_alive "$TB_DAEMON_PID" && ! tb__wait_pid_gone "$TB_DAEMON_PID" 0; then
		tb__die "vpnwalld is already running (pid $TB_DAEMON_PID)"
	fi
	touch "$TB/vpnwalld.log"
	# Remember where this run's output starts: readiness must come from it.
	TB_DAEMON_LOG_OFF=$(stat -c %s "$TB/vpnwalld.log")
	TB_DAEMON_RC=
	rm -f "$TB/vpnwalld.pid" "$TB/vpnwalld.rc"
	echo "=== testbed: starting vpnwalld $* ===" >>"$TB/vpnwalld.log"
	# The wrapper subshell collects the exit status, so that bash does not
	# print "Killed" on the test's output when a test SIGKILLs the daemon.
	# sh, ip netns exec and env all exec: the pid file names vpnwalld itself.
	(
		rc=0
		sh -c 'echo $$ >"$0.new" && mv "$0.new" "$0" && exec "$@"' "$TB/vpnwalld.pid" \
			ip netns exec "$TB_HOST_NS" env DOCKER_HOST="unix://$TB/docker.sock" \
			DNS_SERVERS="$TB_DNS_IP" NFT_TABLE=vpnwall LOG_LEVEL=debug \
			API_SOCKET="$TB/api.sock" METRICS_ADDR=127.0.0.1:50000 "$@" "$VPNWALLD" \
			</dev/null >>"$TB/vpnwalld.log" 2>&1 || rc=$?
		echo "$rc" >"$TB/vpnwalld.rc"
	) 2>>"$TB/vpnwalld.log" &
	TB_DAEMON_WRAPPER=$!
	for i in $(seq 1 50); do
		[ -s "$TB/vpnwalld.pid" ] && break
		sleep 0.1
	done
	TB_DAEMON_PID=$(cat "$TB/vpnwalld.pid" 2>/dev/null) || tb__die "vpnwalld did not start"
}

tb__daemon_log_since_start() {
	tail -c "+$((TB_DAEMON_LOG_OFF + 1))" "$TB/vpnwalld.log"
}

# tb_daemon_wait_ready [SECONDS=30]: wait for the "ready" log line of the
# current run; fails early if the daemon exits.
tb_daemon_wait_ready() {
	local limit=${1:-30} deadline pat=${TB_READY_PATTERN:-daemon: ready}
	deadline=$((SECONDS + limit))
	while :; do
		if tb__daemon_log_since_start | grep -q -- "$pat"; then
			return 0
		fi
		if tb__wait_pid_gone "$TB_DAEMON_PID" 0; then
			tb__daemon_log_since_start | tail -30 >&2
			tb__die "vpnwalld exited before it was ready"
		fi
		if ((SECONDS >= deadline)); then
			tb__daemon_log_since_start | tail -30 >&2
			tb__die "vpnwalld not ready after ${limit}s (no '$pat' in its log)"
		fi
		sleep 0.2
	done
}

# tb_daemon_stop [SECONDS=10]: SIGTERM and wait; exit status in TB_DAEMON_RC
# (128+N when killed by signal N, "timeout" if it had to be SIGKILLed).
tb_daemon_stop() {
	tb__daemon_signal TERM "${1:-10}"
}

# tb_daemon_kill: SIGKILL (a crash, as far as the firewall is concerned).
tb_daemon_kill() {
	tb__daemon_signal KILL 5
}

tb__daemon_signal() {
	local sig=$1 limit=$2
	[ -n "$TB_DAEMON_PID" ] || return 0
	kill "-$sig" "$TB_DAEMON_PID" 2>/dev/null || true
	if ! tb__wait_pid_gone "$TB_DAEMON_PID" "$limit"; then
		echo "testbed: vpnwalld did not exit within ${limit}s of SIG$sig, killing" >&2
		kill -KILL "$TB_DAEMON_PID" 2>/dev/null || true
		tb__daemon_reap
		TB_DAEMON_RC=timeout
		return 1
	fi
	tb__daemon_reap
}

tb__daemon_reap() {
	tb__wait_pid_gone "$TB_DAEMON_PID" 5 || true
	wait "$TB_DAEMON_WRAPPER" 2>/dev/null || true
	TB_DAEMON_RC=$(cat "$TB/vpnwalld.rc" 2>/dev/null) || TB_DAEMON_RC=unknown
	TB_DAEMON_PID=
	TB_DAEMON_WRAPPER=
}

# tb_daemon_wait_exit [SECONDS=10]: wait for the daemon to exit on its own
# (e.g. refusing a bad configuration); exit status in TB_DAEMON_RC.
tb_daemon_wait_exit() {
	[ -n "$TB_DAEMON_PID" ] || return 0
	if ! tb__wait_pid_gone "$TB_DAEMON_PID" "${1:-10}"; then
		echo "testbed: vpnwalld still running after ${1:-10}s" >&2
		return 1
	fi
	tb__daemon_reap
}

# ---------------------------------------------------------------------------

# tb_up: the whole testbed, ready for containers.
tb_up() {
	[ -n "$TB" ] || tb_init
	tb_net_up
	tb_servers_up
	tb_dns_up
	tb_dockerd_start
	tb_image
}
