/* draft.c - the on-disk draft store. Placeholder until the full store lands. */
#include <errno.h>
#include <stdlib.h>

#include "cache/draft.h"

int draft_store_open(const char *dir, struct draft_store **out)
{
	*out = NULL;
	return -ENOSYS;
}

void draft_store_close(struct draft_store *ds)
{
}

int draft_list(struct draft_store *ds, char ***names, size_t *n)
{
	return -ENOSYS;
}

int draft_create(struct draft_store *ds, const char *name)
{
	return -ENOSYS;
}

int draft_remove(struct draft_store *ds, const char *name)
{
	return -ENOSYS;
}

int draft_exists(struct draft_store *ds, const char *name)
{
	return 0;
}

int draft_read(struct draft_store *ds, const char *name, const char *file, char **data, size_t *len)
{
	return -ENOSYS;
}

int draft_write(struct draft_store *ds, const char *name, const char *file, const char *data,
		size_t len)
{
	return -ENOSYS;
}

int draft_mark_submitted(struct draft_store *ds, const char *name, const char *op_name)
{
	return -ENOSYS;
}

int draft_submitted(struct draft_store *ds, const char *name, char **op_name)
{
	return 0;
}
