#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer harnesses (clang, -DVW_FUZZ=ON: ASan+UBSan) and fuzz each one for a
# fixed time on a copy of its seed corpus (the repository's corpus is never modified).
# Every test/fuzz/fuzz-*.c is a harness; one that does not build is a failure. A crash, a
# leak, a timeout or any sanitizer report fails the harness. Prints one line per harness
# with its executions, and last "N passed, N failed".
#
#   ./test/fuzz/run.sh                   every harness, FUZZ_SECONDS each
#   FUZZ_SECONDS=300 ./test/fuzz/run.sh  longer
#   FUZZ_REGEX=labels ./test/fuzz/run.sh only harnesses whose name fuzz/<name> matches
#
# Knobs: FUZZ_SECONDS (30) per harness; FUZZ_TOTAL_SECONDS (240) caps the sum, shortening
# each harness (not below 10 s) when there are many; FUZZ_JOBS (nproc) harnesses at once;
# FUZZ_BUILD_DIR (build-fuzz); FUZZ_KEEP=1 keeps the work dir (logs, new inputs, crashes).
set -u
cd "$(dirname "$0")/../.." || exit 1
src=$PWD

secs=${FUZZ_SECONDS:-30}
total=${FUZZ_TOTAL_SECONDS:-240}
jobs=${FUZZ_JOBS:-$(nproc)}
dir=${FUZZ_BUILD_DIR:-build-fuzz}
case $secs$total$jobs in *[!0-9]*)
	echo "fuzz: FUZZ_SECONDS, FUZZ_TOTAL_SECONDS and FUZZ_JOBS must be numbers" >&2
	exit 2
	;;
esac

names=()
for f in "$src"/test/fuzz/fuzz-*.c; do
	[ -f "$f" ] || continue
	n=${f##*/fuzz-}
	n=${n%.c}
	if [ -n "${FUZZ_REGEX:-}" ] && ! printf 'fuzz/%s\n' "$n" | grep -qE -- "$FUZZ_REGEX"; then
		continue
	fi
	names+=("$n")
done
if [ ${#names[@]} -eq 0 ]; then
	echo "fuzz: no harness selected"
	echo "0 passed, 0 failed"
	exit 0
fi

# The budget is per harness; wall time is about rounds * secs with FUZZ_JOBS at once.
if [ "$jobs" -lt 1 ]; then jobs=1; fi
if [ $((${#names[@]} * secs)) -gt "$total" ]; then
	secs=$((total / ${#names[@]}))
	[ "$secs" -ge 10 ] || secs=10
	echo "fuzz: ${#names[@]} harnesses over FUZZ_TOTAL_SECONDS=$total: ${secs}s each"
fi

echo "fuzz: building in $dir (clang, VW_FUZZ=ON)"
mkdir -p "$dir"
# Debug keeps assert() live; -O1 makes it fast enough to fuzz.
if ! cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 \
	-DVW_FUZZ=ON >"$dir/cmake.log" 2>&1 ||
	! cmake --build "$dir" -j"$(nproc)" >"$dir/build.log" 2>&1; then
	tail -40 "$dir/cmake.log" "$dir/build.log" 2>/dev/null
	echo "fuzz: build failed"
	echo "0 passed, ${#names[@]} failed"
	exit 1
fi

rm -rf "$dir/fuzz-artifacts" # a previous run's, which would mislead
work=$(mktemp -d "${TMPDIR:-/tmp}/vwfuzz.XXXXXX") || exit 1
if [ "${FUZZ_KEEP:-0}" = 1 ]; then
	echo "fuzz: keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi

# UBSan only reports and goes on unless told to stop; a report is a failure either way.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# fuzz_one NAME: fuzz one harness; its exit status goes to $work/NAME.rc.
fuzz_one() {
	local n=$1 bin=$dir/test/fuzz-$1 w=$work/$1 rc=0
	mkdir -p "$w/corpus" "$w/artifacts"
	if [ -d "$src/test/fuzz/corpus/$n" ]; then
		cp -R "$src/test/fuzz/corpus/$n/." "$w/corpus/"
	fi
	# The first corpus dir receives new inputs: the copy. -timeout is per input.
	"$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$w/artifacts/" "$w/corpus" >"$w/log" 2>&1 </dev/null || rc=$?
	echo "$rc" >"$w/rc"
}

start=$SECONDS
running=0
for n in "${names[@]}"; do
	mkdir -p "$work/$n"
	if [ ! -x "$dir/test/fuzz-$n" ]; then
		echo "missing" >"$work/$n/rc"
		continue
	fi
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	fuzz_one "$n" &
	running=$((running + 1))
done
wait

passed=0
failed=0
for n in "${names[@]}"; do
	w=$work/$n
	rc=$(cat "$w/rc" 2>/dev/null) || rc=unknown
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$w/log" 2>/dev/null | tail -1)
	why=
	if [ "$rc" = missing ]; then
		why="not built: add it to test/CMakeLists.txt"
	elif [ "$rc" != 0 ]; then
		why="libFuzzer exit status $rc"
	elif grep -qE "(Address|Leak|UndefinedBehavior|Memory)Sanitizer|runtime error:|==ERROR" "$w/log"; then
		why="sanitizer report"
	elif [ -z "$execs" ]; then
		why="no final stats"
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		printf 'ok     fuzz/%-12s %10s execs in %ss\n' "$n" "$execs" "$secs"
	else
		failed=$((failed + 1))
		printf 'FAIL   fuzz/%-12s %10s execs in %ss: %s\n' "$n" "${execs:-?}" "$secs" "$why"
		if [ -f "$w/log" ]; then
			grep -E -m1 -A25 "==ERROR|runtime error:|Sanitizer|deadly signal|Timeout|ALARM" \
				"$w/log" | head -40 | sed 's/^/  | /'
		fi
		# The inputs that failed outlive the work dir: replay with "$bin INPUT".
		if [ -n "$(ls -A "$w/artifacts" 2>/dev/null)" ]; then
			mkdir -p "$dir/fuzz-artifacts/$n"
			cp "$w/artifacts/"* "$dir/fuzz-artifacts/$n/"
			printf '  | artifact: %s\n' "$dir/fuzz-artifacts/$n/"*
		fi
	fi
done
echo "fuzz: ${#names[@]} harnesses in $((SECONDS - start))s of fuzzing"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
