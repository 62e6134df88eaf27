/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * race.h - widening race windows for tests.
 *
 * Some windows between two steps of a protocol are a few instructions
 * wide: a test's threads almost never run inside them by chance, so a
 * bug that needs them stays hidden (one such bug showed once in many
 * hours of runs).  hl__race_window() marks such a window.  In debug
 * builds (HL_DEBUG), with HL_RACE_YIELD=1 in the environment, it gives
 * up the CPU there, so that with more threads than CPUs another thread
 * runs inside the window; otherwise it does nothing, and in other builds
 * it is an empty inline function.
 */
#ifndef HL_RACE_H
#define HL_RACE_H

__attribute__((visibility("hidden"))) void hl__race_window_slow(void);

static inline void
hl__race_window(void)
{
#ifdef HL_DEBUG
	hl__race_window_slow();
#endif
}

#endif /* HL_RACE_H */
