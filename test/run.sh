#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build vpnwall twice (plain and with ASan+UBSan) and run every test against each build:
# unit tests, corpus replays and, as root, the integration suite on a real dockerd in
# private network namespaces. The last line is "N passed, N failed".
#
#   sudo ./test/run.sh            everything
#   VW_BUILDS=sanitize ./test/run.sh   one build only (plain | sanitize)
#   VW_TESTS_REGEX=unit ./test/run.sh  a subset (ctest -R)
set -u
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
	./deploy/deps.sh --if-missing || exit 1
else
	echo "# not root: integration tests will be skipped (exit 77)"
fi

builds=${VW_BUILDS:-"plain sanitize"}
passed=0
failed=0
for b in $builds; do
	case $b in
	plain) opts="-DCMAKE_BUILD_TYPE=Release" ;;
	sanitize) opts="-DCMAKE_BUILD_TYPE=Debug -DVW_SANITIZE=ON" ;;
	*) echo "unknown build '$b'" >&2; exit 2 ;;
	esac
	dir=build-$b
	echo "### build: $b"
	# shellcheck disable=SC2086
	mkdir -p "$dir"
	if ! cmake -S . -B "$dir" $opts >"$dir/cmake.log" 2>&1 || ! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
		cat "$dir/cmake.log" "$dir/build.log" 2>/dev/null | tail -40
		failed=$((failed + 1))
		continue
	fi
	out=$(mktemp)
	(cd "$dir" && VPNWALLD="$PWD/cmd/vpnwalld/vpnwalld" VPNWALL="$PWD/cmd/vpnwall/vpnwall" \
		ctest --output-on-failure ${VW_TESTS_REGEX:+-R "$VW_TESTS_REGEX"} 2>&1) | tee "$out"
	p=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\)/\2 \1/p' "$out" | tail -1)
	if [ -z "$p" ]; then
		failed=$((failed + 1))
	else
		set -- $p
		passed=$((passed + $1 - $2))
		failed=$((failed + $2))
	fi
	rm -f "$out"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
