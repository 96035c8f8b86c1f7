/* model_text.c - resource texts in one unlinked file (model_text.h): slots appended at
 * the end, sized with room to grow, reused in place when a new version fits, the whole
 * file rewritten when dead slots outweigh live ones. New slots gather in a tail buffer
 * written with one pwrite per MODEL_TEXT_BATCH (a listing adds a thousand a page);
 * otherwise the kernel's page cache is the cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "cache/model_text.h"

/* Dead bytes tolerated beyond the live ones before a rewrite. */
#define MODEL_TEXT_SLACK (8u << 20)
/* New slots are written to the file once this much has gathered. */
#define MODEL_TEXT_BATCH (256u << 10)

struct model_text {
	char *dir;
	int fd, next_fd; /* next_fd: the file being written by a rewrite, else -1 */
	uint64_t end, next_end;
	uint64_t live; /* bytes of slots in use */
	/* the newest slots, not written yet: [tail_off, tail_off + tail_len) = [.., end) */
	char *tail;
	size_t tail_len, tail_cap;
	uint64_t tail_off;
	uint64_t lost_lo, lost_hi; /* slots whose write failed: unreadable (empty range: none) */
};

static int open_unlinked(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

struct model_text *model_text_open(const char *dir)
{
	struct model_text *s;
	const char *d = dir && *dir ? dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = open_unlinked(d);

	if (fd < 0)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->dir = xstrdup(d);
	s->fd = fd;
	s->next_fd = -1;
	return s;
}

void model_text_close(struct model_text *s)
{
	if (!s)
		return;
	free(s->tail); /* unwritten slots die with the file, which is unlinked */
	close(s->fd);
	if (s->next_fd >= 0)
		close(s->next_fd);
	free(s->dir);
	free(s);
}

static int write_at(int fd, uint64_t off, const char *p, size_t len)
{
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		off += (uint64_t)w;
		len -= (size_t)w;
	}
	return 0;
}

static int read_at(int fd, uint64_t off, char *p, size_t len)
{
	while (len) {
		ssize_t r = pread(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		p += r;
		off += (uint64_t)r;
		len -= (size_t)r;
	}
	return 0;
}

/* Writes the gathered slots; a failed write leaves them unreadable (get gives NULL). */
static int tail_flush(struct model_text *s)
{
	int rc;

	if (!s->tail_len)
		return 0;
	rc = write_at(s->fd, s->tail_off, s->tail, s->tail_len);
	if (rc < 0) {
		if (s->lost_hi == s->lost_lo || s->tail_off < s->lost_lo)
			s->lost_lo = s->tail_off;
		if (s->tail_off + s->tail_len > s->lost_hi)
			s->lost_hi = s->tail_off + s->tail_len;
	}
	s->tail_len = 0;
	return rc;
}

/* Whether the slot at off is still in the tail buffer. */
static int in_tail(const struct model_text *s, uint64_t off)
{
	return s->tail_len && off >= s->tail_off && off < s->tail_off + s->tail_len;
}

/* Appends a new slot of cap bytes holding text at s->end, to the tail buffer. */
static int tail_append(struct model_text *s, const char *text, size_t len, uint32_t cap)
{
	if (!s->tail_len)
		s->tail_off = s->end;
	if (s->tail_len + cap > s->tail_cap) {
		s->tail_cap =
		    s->tail_len + cap > MODEL_TEXT_BATCH ? s->tail_len + cap : MODEL_TEXT_BATCH;
		s->tail = xrealloc(s->tail, s->tail_cap);
	}
	memcpy(s->tail + s->tail_len, text, len);
	memset(s->tail + s->tail_len + len, 0, cap - len);
	s->tail_len += cap;
	return s->tail_len >= MODEL_TEXT_BATCH ? tail_flush(s) : 0;
}

/* Room for a text of len: an eighth more, in 64-byte steps, so a training model's
 * growing resource mostly stays in its slot. */
static uint32_t slot_size(size_t len)
{
	size_t cap = (len + len / 8 + 63) & ~(size_t)63;
	return (uint32_t)(cap ? cap : 64);
}

int model_text_put(struct model_text *s, struct model_text_ref *r, const char *text, size_t len)
{
	struct model_text_ref n;
	int rc;

	if (len > UINT32_MAX / 2)
		return -EFBIG;
	if (r->cap && len <= r->cap) {
		if (in_tail(s, r->off)) {
			memcpy(s->tail + (r->off - s->tail_off), text, len);
			rc = 0;
		} else {
			rc = write_at(s->fd, r->off, text, len);
		}
		if (rc == 0)
			r->len = (uint32_t)len;
		return rc;
	}
	n.off = s->end;
	n.cap = slot_size(len);
	n.len = (uint32_t)len;
	rc = tail_append(s, text, len, n.cap);
	s->end += n.cap; /* taken even when the batch's write failed: it is marked lost */
	if (rc < 0)
		return rc; /* the failed batch held this slot too */
	model_text_drop(s, r);
	s->live += n.cap;
	*r = n;
	return 0;
}

char *model_text_get(struct model_text *s, const struct model_text_ref *r)
{
	char *p;

	if (!s || !r->cap || (r->off >= s->lost_lo && r->off < s->lost_hi))
		return NULL;
	p = xmalloc((size_t)r->len + 1);
	if (in_tail(s, r->off)) {
		memcpy(p, s->tail + (r->off - s->tail_off), r->len);
	} else if (read_at(s->fd, r->off, p, r->len) < 0) {
		free(p);
		return NULL;
	}
	p[r->len] = 0;
	return p;
}

void model_text_drop(struct model_text *s, struct model_text_ref *r)
{
	if (s && r->cap)
		s->live -= r->cap;
	memset(r, 0, sizeof *r);
}

int model_text_wants_compaction(const struct model_text *s)
{
	return s && s->next_fd < 0 && s->end - s->live > s->live + MODEL_TEXT_SLACK;
}

int model_text_begin(struct model_text *s)
{
	int fd;

	tail_flush(s); /* the rewrite reads every slot from the old file */
	fd = open_unlinked(s->dir);

	if (fd < 0)
		return fd;
	s->next_fd = fd;
	s->next_end = 0;
	return 0;
}

int model_text_move(struct model_text *s, const struct model_text_ref *r, uint64_t *new_off)
{
	char *p;
	int rc;

	*new_off = 0;
	if (!r->cap)
		return 0;
	p = model_text_get(s, r);
	if (!p)
		return -EIO;
	rc = write_at(s->next_fd, s->next_end, p, r->len);
	free(p);
	if (rc < 0)
		return rc;
	*new_off = s->next_end; /* cap kept: live stays the same */
	s->next_end += r->cap;
	return 0;
}

void model_text_end(struct model_text *s, int ok)
{
	if (ok) {
		close(s->fd);
		s->fd = s->next_fd;
		s->end = s->next_end;
		s->lost_lo = s->lost_hi = 0; /* lost slots were not moved: get gives NULL */
	} else {
		close(s->next_fd);
	}
	s->next_fd = -1;
}
