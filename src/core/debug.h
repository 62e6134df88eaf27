/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * debug.h - whether the library's debug checks run.
 *
 * Debug checks are always compiled and type-checked; HL_DEBUG (the
 * HL_DEBUG CMake option) decides whether they run.  Write them as
 * `if (!hl_debug) return;' or `if (hl_debug && ...)': in other builds the
 * constant folds them away.  Inside the library use this, not
 * hl_debug_enabled(), which is a call (through the PLT) on hot paths.
 *
 * Race windows: some windows between two steps of a protocol are a few
 * instructions wide, so a test's threads almost never run inside them by
 * chance and a bug that needs them stays hidden (one such bug showed once
 * in many hours of runs).  hl__race_window() marks such a window; in
 * debug builds with HL_RACE_YIELD=1 in the environment it gives up the
 * CPU there (one time in four), so that with more threads than CPUs
 * another thread runs inside it.
 */
#ifndef HL_DEBUG_H
#define HL_DEBUG_H

#include <stdbool.h>

#ifdef HL_DEBUG
static const bool hl_debug = true;
#else
static const bool hl_debug = false;
#endif

__attribute__((visibility("hidden"))) void hl__race_window_slow(void);

/* A race window (above); nothing in other builds. */
static inline void
hl__race_window(void)
{
	if (!hl_debug)
		return;
	hl__race_window_slow();
}

#endif /* HL_DEBUG_H */
