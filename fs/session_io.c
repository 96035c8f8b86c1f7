/* session_io.c - the FUSE session's reads, writes and splices of /dev/fuse: the plain system
 * calls, but the INIT reply carries FUSE_PARALLEL_DIROPS when wanted, which libfuse before
 * 3.17.1 never passes on (the kernel then held a directory's lock across every lookup), and
 * reads that wait for an answer go to park.c instead of a worker thread. */
#include "fs/tunedfs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <linux/fuse.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config.h"

#if HAVE_FUSE_CUSTOM_IO

static uint64_t init_unique; /* the INIT request's, once read; 0 before */
static int parallel_wanted;  /* set by the init callback */

void tfs_session_want_parallel(int on)
{
	__atomic_store_n(&parallel_wanted, on, __ATOMIC_RELEASE);
}

/* A request libfuse is given, or one park.c took (then the next is read): a worker never
 * sits in a read that waits for an answer. Cancelling (the loop's end) stays possible in
 * read() only, never while park.c holds a lock. */
static ssize_t tfs_session_read(int fd, void *buf, size_t len, void *userdata)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		struct fuse_in_header in;
		int old, taken;

		if (n < (ssize_t)sizeof(in))
			return n;
		memcpy(&in, buf, sizeof(in));
		if (in.opcode == FUSE_INIT)
			__atomic_store_n(&init_unique, in.unique, __ATOMIC_RELEASE);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		taken = tfs_park_take(fd, buf, (size_t)n);
		pthread_setcancelstate(old, NULL);
		if (!taken)
			return n;
	}
}

static ssize_t tfs_session_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct fuse_out_header out;
	struct fuse_init_out init;
	struct iovec mine[2];
	uint64_t unique = __atomic_load_n(&init_unique, __ATOMIC_ACQUIRE);

	/* the INIT reply: the header, then fuse_init_out (the flags at the same place in
	 * every size of it the kernel takes) */
	if (unique == 0 || count != 2 || iov[0].iov_len != sizeof(out) ||
	    iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(init.flags) ||
	    iov[1].iov_len > sizeof(init))
		return writev(fd, iov, count);
	memcpy(&out, iov[0].iov_base, sizeof(out));
	if (out.unique != unique || out.error != 0)
		return writev(fd, iov, count);
	__atomic_store_n(&init_unique, 0, __ATOMIC_RELEASE);
	memcpy(&init, iov[1].iov_base, iov[1].iov_len);
	if (__atomic_load_n(&parallel_wanted, __ATOMIC_ACQUIRE))
		init.flags |= FUSE_PARALLEL_DIROPS;
	mine[0] = iov[0];
	mine[1].iov_base = &init;
	mine[1].iov_len = iov[1].iov_len;
	return writev(fd, mine, 2);
}

/* Splicing as libfuse does it without custom I/O, so large writes move as they did. */
static ssize_t tfs_session_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				  unsigned int flags, void *userdata)
{
	return splice(fdin, (loff_t *)offin, fdout, (loff_t *)offout, len, flags);
}

int tfs_session_io(struct fuse *fuse)
{
	static const struct fuse_custom_io io = {
	    .read = tfs_session_read,
	    .writev = tfs_session_writev,
	    .splice_receive = tfs_session_splice,
	    .splice_send = tfs_session_splice,
	};
	struct fuse_session *se = fuse_get_session(fuse);

	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
#else
int tfs_session_io(struct fuse *fuse)
{
	return 0; /* libfuse before 3.13: its own I/O, and no parallel directory operations */
}

void tfs_session_want_parallel(int on)
{
}
#endif
