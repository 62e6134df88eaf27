/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_util.c - backend-independent helpers: whole transfers over a
 * backend's single attempts, and destruction.
 */
#include <errno.h>
#include <stdint.h>

#include <hammerlock/io.h>

HL_EXPORT void
hl_io_destroy(struct hl_io *io)
{
	if (io != NULL && io->ops != NULL && io->ops->destroy != NULL)
		io->ops->destroy(io);
}

/*
 * The loop shared by both directions.  `stall' counts calls in a row that
 * moved nothing; any progress resets it.  A read that returns 0 has met
 * the end of the file and cannot make progress, so it fails at once.
 */
static int
io_full(struct hl_io *io, int fd, void *rbuf, const void *wbuf, size_t len,
    uint64_t off)
{
	size_t done = 0;
	int stall = 0;

	if (io == NULL || io->ops == NULL || (rbuf == NULL && wbuf == NULL))
		return EINVAL;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return EINVAL;
	while (done < len) {
		size_t want = len - done;
		ssize_t r;

		if (rbuf != NULL)
			r = io->ops->read(
			    io, fd, (char *)rbuf + done, want, off + done);
		else
			r = io->ops->write(io, fd, (const char *)wbuf + done,
			    want, off + done);
		if (r > 0) {
			if ((size_t)r > want)
				return EIO; /* a backend bug; do not overrun */
			done += (size_t)r;
			stall = 0;
			continue;
		}
		if (r == 0 && rbuf != NULL)
			return EIO; /* end of file before len bytes */
		if (r < 0 && r != -EINTR)
			return (int)-r;
		if (++stall > HL_IO_RETRIES)
			return r == 0 ? EIO : EINTR;
	}
	return 0;
}

HL_EXPORT int
hl_io_read_full(struct hl_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	if (len == 0)
		return io != NULL && io->ops != NULL ? 0 : EINVAL;
	return io_full(io, fd, buf, NULL, len, off);
}

HL_EXPORT int
hl_io_write_full(
    struct hl_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	if (len == 0)
		return io != NULL && io->ops != NULL ? 0 : EINVAL;
	return io_full(io, fd, NULL, buf, len, off);
}
