/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * hammerlock.h - umbrella header of libhammerlock.
 *
 *   hammerlock/types.h  struct hl_lock, the refs and lockval word layouts,
 *                       memory ordering and overflow rules
 *   hammerlock/refs.h   reference count with load/unload interlock
 *   hammerlock/lock.h   shared/exclusive lock with owner recursion
 *   hammerlock/diag.h   fatal handler, statistics, sleeper dumps
 */
#ifndef HAMMERLOCK_H
#define HAMMERLOCK_H

#define HL_VERSION_MAJOR  0
#define HL_VERSION_MINOR  1
#define HL_VERSION_PATCH  0
#define HL_VERSION_STRING "0.1.0"

#include <hammerlock/types.h>
#include <hammerlock/refs.h>
#include <hammerlock/lock.h>
#include <hammerlock/diag.h>
#include <hammerlock/format.h>
#include <hammerlock/io.h>
#include <hammerlock/cache.h>

#endif /* HAMMERLOCK_H */
