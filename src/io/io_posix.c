/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_posix.c - the POSIX I/O backend: pread/pwrite/fdatasync on plain
 * descriptors and page-aligned heap memory.  It keeps no state, so one
 * static instance serves every caller and every thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/fs.h>
#include <sys/ioctl.h>
#endif

#include <hammerlock/io.h>

/* Offsets and ends of transfers must fit in off_t. */
static bool
range_ok(size_t len, uint64_t off)
{
	return off <= INT64_MAX && len <= INT64_MAX - off;
}

/* One call moves at most SSIZE_MAX bytes (the return must fit). */
static size_t
clamp_len(size_t len)
{
	return len > SSIZE_MAX ? SSIZE_MAX : len;
}

static int
posix_open(struct hl_io *io, const char *path, int flags, int *fdp)
{
	int oflags = O_CLOEXEC;
	int fd;

	(void)io;
	if (path == NULL || fdp == NULL)
		return EINVAL;
	if (flags == HL_IO_RDONLY)
		oflags |= O_RDONLY;
	else if (flags == HL_IO_RDWR)
		oflags |= O_RDWR;
	else
		return EINVAL;
	/* Opening a regular file does not sleep interruptibly, but a FIFO or
	 * a device might; a few retries are enough. */
	for (int i = 0;; i++) {
		fd = open(path, oflags);
		if (fd >= 0)
			break;
		if (errno != EINTR || i >= HL_IO_RETRIES)
			return errno;
	}
	*fdp = fd;
	return 0;
}

static int
posix_close(struct hl_io *io, int fd)
{
	(void)io;
	/* On Linux the descriptor is released even when close() reports
	 * EINTR, so retrying could close someone else's descriptor. */
	if (close(fd) != 0 && errno != EINTR)
		return errno;
	return 0;
}

static int
posix_size(struct hl_io *io, int fd, uint64_t *sizep)
{
	struct stat st;

	(void)io;
	if (sizep == NULL)
		return EINVAL;
	if (fstat(fd, &st) != 0)
		return errno;
	if (S_ISREG(st.st_mode)) {
		*sizep = (uint64_t)st.st_size;
		return 0;
	}
	if (S_ISBLK(st.st_mode)) {
#if defined(__linux__) && defined(BLKGETSIZE64)
		uint64_t bytes;

		if (ioctl(fd, BLKGETSIZE64, &bytes) != 0)
			return errno;
		*sizep = bytes;
		return 0;
#else
		return ENOTSUP;
#endif
	}
	return EINVAL;
}

static ssize_t
posix_read(struct hl_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t r;

	(void)io;
	if (!range_ok(len, off))
		return -EINVAL;
	r = pread(fd, buf, clamp_len(len), (off_t)off);
	return r < 0 ? -errno : r;
}

static ssize_t
posix_write(struct hl_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t r;

	(void)io;
	if (!range_ok(len, off))
		return -EINVAL;
	r = pwrite(fd, buf, clamp_len(len), (off_t)off);
	return r < 0 ? -errno : r;
}

static int
posix_sync(struct hl_io *io, int fd)
{
	(void)io;
	return fdatasync(fd) != 0 ? errno : 0;
}

static void *
posix_alloc(struct hl_io *io, size_t len)
{
	(void)io;
	if (len == 0)
		len = 1;
	if (len > SIZE_MAX - (HL_IO_ALIGN - 1))
		return NULL;
	len = (len + HL_IO_ALIGN - 1) & ~(size_t)(HL_IO_ALIGN - 1);
	return aligned_alloc(HL_IO_ALIGN, len);
}

static void
posix_free(struct hl_io *io, void *p, size_t len)
{
	(void)io;
	(void)len;
	free(p);
}

static void
posix_destroy(struct hl_io *io)
{
	(void)io; /* the shared instance lives as long as the program */
}

static const struct hl_io_ops posix_ops = {
    .open = posix_open,
    .close = posix_close,
    .size = posix_size,
    .read = posix_read,
    .write = posix_write,
    .sync = posix_sync,
    .alloc = posix_alloc,
    .free = posix_free,
    .destroy = posix_destroy,
};

static struct hl_io posix_io = {&posix_ops};

HL_EXPORT struct hl_io *
hl_io_posix(void)
{
	return &posix_io;
}
