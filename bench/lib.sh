# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers shared by bench/run.sh and bench/realdocker.sh: reading Prometheus scrapes.

# mval FILE SERIES: the value of one sample ("name" or 'name{label="x"}').
mval() { awk -v s="$2" '$1 == s { print $2; exit }' "$1"; }

# hq BEFORE AFTER HISTOGRAM Q: quantile of the observations between two scrapes, interpolated
# linearly inside its bucket as Prometheus' histogram_quantile() does; in seconds.
hq() {
	awk -v name="$3" -v q="$4" '
	function le_of(s) { sub(/.*le="/, "", s); sub(/".*/, "", s); return s }
	index($1, name "_bucket{") != 1 { next }
	FNR == NR { before[le_of($1)] = $2; next }
	{ le[n] = le_of($1); c[n] = $2 - before[le[n]]; n++ }
	END {
		if (n == 0 || c[n - 1] == 0) { print "nan"; exit }
		rank = q * c[n - 1]; lo = 0; below = 0
		for (i = 0; i < n; i++) {
			if (c[i] >= rank) {
				if (le[i] == "+Inf") { print lo; exit }
				if (c[i] == below) { print le[i]; exit }
				printf "%.6f\n", lo + (le[i] - lo) * (rank - below) / (c[i] - below)
				exit
			}
			lo = le[i]; below = c[i]
		}
	}' "$1" "$2"
}

sec2ms() { awk -v s="$1" 'BEGIN { if (s == "nan") print "n/a"; else printf "%.2f", s * 1000 }'; }

# median V...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
