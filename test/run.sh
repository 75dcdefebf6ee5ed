#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build vpnwall twice (plain and with ASan+UBSan) and run every test against each build:
# unit tests, corpus replays and, as root, the integration suite on a real dockerd in
# private network namespaces. Then fuzz every libFuzzer harness for a fixed time
# (test/fuzz/run.sh, the "fuzz" build). Passed, failed and skipped tests are counted apart;
# as root (CI) nothing may be skipped, so there a skipped test also counts as failed.
# The last two lines are "N skipped" and "N passed, N failed".
#
#   sudo ./test/run.sh                       everything
#   VW_BUILDS=sanitize ./test/run.sh         some builds only (plain sanitize fuzz)
#   VW_TESTS_REGEX=unit ./test/run.sh        a subset (ctest -R; harnesses match as fuzz/NAME)
#   FUZZ_SECONDS=60 sudo ./test/run.sh       fuzz each harness longer (default 30 s)
set -u
cd "$(dirname "$0")/.." || exit 1

root=0
if [ "$(id -u)" -eq 0 ]; then
	root=1
	./deploy/deps.sh --if-missing || exit 1
else
	echo "# not root: integration tests will be skipped (exit 77)"
fi

builds=${VW_BUILDS:-"plain sanitize fuzz"}
for b in $builds; do
	case $b in
	plain | sanitize | fuzz) ;;
	*)
		echo "unknown build '$b' (plain, sanitize or fuzz)" >&2
		exit 2
		;;
	esac
done

passed=0
failed=0
skipped=0
skipped_names=

# count BUILD P F S: add one build's results to the totals and say what they were.
count() {
	passed=$((passed + $2))
	failed=$((failed + $3))
	skipped=$((skipped + $4))
	echo "### $1: $2 passed, $3 failed, $4 skipped"
}

# ctest_counts FILE: "P F S" from ctest's per-test lines, then the names of skipped tests.
# Skipped is SKIP_RETURN_CODE (exit 77) or a disabled test; ctest itself counts those as
# passed. Tests in ctest's total without a result line of their own count as failed.
ctest_counts() {
	awk '
	/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
		name = $0
		sub(/.*Test +#[0-9]+: /, "", name)
		sub(/ .*/, "", name)
		if ($0 ~ /\*\*\*Skipped/ || $0 ~ /Not Run \(Disabled\)/) {
			s++
			names = names " " name
		} else if ($0 ~ / Passed +[0-9.]+ sec/) {
			p++
		} else {
			f++
		}
	}
	/tests passed, [0-9]+ tests failed out of [0-9]+/ { total = $NF }
	END {
		if (total == "" || p + f + s == 0)
			f++
		else if (p + f + s < total)
			f += total - (p + f + s)
		printf "%d %d %d%s\n", p, f, s, names
	}' "$1"
}

for b in $builds; do
	echo "### build: $b"
	if [ "$b" = fuzz ]; then
		out=$(mktemp)
		FUZZ_BUILD_DIR=build-fuzz FUZZ_REGEX=${VW_TESTS_REGEX:-} ./test/fuzz/run.sh 2>&1 |
			tee "$out"
		# shellcheck disable=SC2046 # "P F": two words
		set -- $(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -1)
		rm -f "$out"
		if [ $# -eq 2 ]; then count fuzz "$1" "$2" 0; else count fuzz 0 1 0; fi
		continue
	fi

	case $b in
	plain) opts="-DCMAKE_BUILD_TYPE=Release" ;;
	sanitize) opts="-DCMAKE_BUILD_TYPE=Debug -DVW_SANITIZE=ON" ;;
	esac
	dir=build-$b
	mkdir -p "$dir"
	# shellcheck disable=SC2086 # $opts is several options
	if ! cmake -S . -B "$dir" $opts >"$dir/cmake.log" 2>&1 ||
		! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
		cat "$dir/cmake.log" "$dir/build.log" 2>/dev/null | tail -40
		count "$b" 0 1 0
		continue
	fi
	out=$(mktemp)
	(cd "$dir" && VPNWALLD="$PWD/cmd/vpnwalld/vpnwalld" VPNWALL="$PWD/cmd/vpnwall/vpnwall" \
		ctest --output-on-failure ${VW_TESTS_REGEX:+-R "$VW_TESTS_REGEX"} 2>&1) | tee "$out"
	# shellcheck disable=SC2046 # "P F S name..."
	set -- $(ctest_counts "$out")
	rm -f "$out"
	count "$b" "$1" "$2" "$3"
	shift 3
	for t in "$@"; do
		skipped_names="$skipped_names $b:$t"
	done
done

if [ "$skipped" -gt 0 ]; then
	echo "# skipped:$skipped_names"
	if [ "$root" -eq 1 ]; then
		echo "# running as root (CI): nothing may be skipped, so each skipped test counts as failed"
		failed=$((failed + skipped))
	fi
fi
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
