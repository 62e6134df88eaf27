# SPDX-License-Identifier: BSD-3-Clause
#
# plot_kv.gp - throughput per mix and engine from the data file of
# `bench_kv --data FILE': one panel per memory case, one group of bars
# per (mix, threads), one bar per engine (the median), with the min-max
# spread of the runs as an error bar.  Log scale: the engines are an
# order of magnitude apart.
#
# usage: gnuplot -e "datafile='bench/results/kv-DATE.dat'" \
#            -e "outfile='bench/results/kv-throughput.png'" bench/plot_kv.gp
#
# The data file: blocks separated by two blank lines, one per memory
# case; the first row of a block is its header ("in memory", then
# "ENGINE min max" per engine), the others "MIX Nt" then median, min and
# max ops/s per engine (NaN for an engine left out).

if (!exists("datafile")) datafile = "bench/results/kv.dat"
if (!exists("outfile")) outfile = "bench/results/kv-throughput.png"

stats datafile using 0 nooutput
nblocks = STATS_blocks
neng = 4
# The panel titles: column 1 of each block's header row.
array panel[nblocks]
do for [b = 1:nblocks] {
	stats datafile index (b - 1) every ::0::0 \
	    using (panel[b] = strcol(1), 0) nooutput
}

# The lowest min over all bars, to start the axis half a decade below.
# An engine left out has NaN columns: valid() skips them, and only the
# engines with data (eng[1..n]) are plotted.
lo = 1e30
array eng[neng]
n = 0
do for [e = 0:neng - 1] {
	c = 3 + 3 * e
	found = 0
	stats datafile using ((valid(c) ? (found = 1, \
	    lo = column(c) < lo ? column(c) : lo) : 0), 0) nooutput
	if (found) {
		n = n + 1
		eng[n] = e
	}
}
ymin = lo < 1e30 && lo > 0 ? 10 ** floor(log10(lo) - 0.5) : 1

if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
	set terminal pngcairo size 1200, 480 * nblocks font "sans,10"
} else {
	set terminal png size 1200, 480 * nblocks
}
set output outfile

set style data histogram
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set format y "10^{%T}"
set yrange [ymin:*]
set ylabel "operations/s (log scale)"
set xlabel "YCSB mix, threads"
set grid ytics mytics
set key outside right top vertical
set datafile missing "NaN"

set multiplot layout nblocks, 1 \
    title "bench\\_kv: hammerlock vs LMDB vs SQLite, median ops/s [min-max]"
do for [b = 1:nblocks] {
	set title panel[b]
	plot for [i = 1:n] datafile index (b - 1) \
	    using (column(2 + 3 * eng[i])):(column(3 + 3 * eng[i])):\
	    (column(4 + 3 * eng[i])):xtic(1) title columnhead(2 + 3 * eng[i]) \
	    linecolor (eng[i] + 1)
}
unset multiplot
