/* source.c - what differs when mount(8) runs tunedfs: the SOURCE word put before the
 * mount point, turned into the -o options it stands for; the fstab-only options tunedfs
 * ignores; a HOME that is root's. It does not check the options: main.c does. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"
#include "fs/cmdline.h"

/* The words a SOURCE may be, and the options each means. */
static const struct {
	const char *word;
	const char *opts;
} sources[] = {
    {"gemini", "backend=gemini"},
    {"vertex", "backend=vertex"},
    {"openai", "backend=openai"},
    {"local", "local"},
    {"local-gemini", "local,backend=gemini"},
    {"local-vertex", "local,backend=vertex"},
    {"local-openai", "local,backend=openai"},
};

static int is_url(const char *s)
{
	return strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0 ||
	       strncmp(s, "unix:", 5) == 0;
}

/* fuse_opt splits -o on commas; a backslash keeps one (or itself) in the value. */
static char *escaped(const char *prefix, const char *value)
{
	size_t n = strlen(prefix), i = n;
	char *out = xmalloc(n + 2 * strlen(value) + 1);

	memcpy(out, prefix, n);
	for (; *value; value++) {
		if (*value == ',' || *value == '\\')
			out[i++] = '\\';
		out[i++] = *value;
	}
	out[i] = 0;
	return out;
}

char *tfs_source_options(const char *source)
{
	for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
		if (strcmp(source, sources[i].word) == 0)
			return xstrdup(sources[i].opts);
	if (is_url(source))
		return escaped("endpoint=", source);
	return NULL;
}

/* Indexes of the words that are neither options nor an option's value (-o X). */
static int positionals(const struct fuse_args *args, int *pos, int max)
{
	int n = 0, rest = 0;

	for (int i = 1; i < args->argc; i++) {
		const char *a = args->argv[i];
		if (!rest && strcmp(a, "--") == 0) {
			rest = 1;
		} else if (!rest && a[0] == '-' && a[1]) {
			if (strcmp(a, "-o") == 0)
				i++;
		} else if (n < max) {
			pos[n++] = i;
		} else {
			return max + 1;
		}
	}
	return n;
}

int tfs_source_take(struct fuse_args *args)
{
	struct fuse_args out = FUSE_ARGS_INIT(0, NULL);
	int pos[2], n = positionals(args, pos, 2);
	char *opts;

	if (n != 2)
		return 0; /* none, or too many: libfuse says which */
	opts = tfs_source_options(args->argv[pos[0]]);
	if (!opts) {
		fprintf(stderr,
			"tunedfs: error: unknown source `%s' (gemini, vertex, openai, local, "
			"local-vertex, local-openai, or a URL)\nsee 'tunedfs --help'\n",
			args->argv[pos[0]]);
		return -EINVAL;
	}
	if (fuse_opt_add_arg(&out, args->argv[0]) != 0 || fuse_opt_add_arg(&out, "-o") != 0 ||
	    fuse_opt_add_arg(&out, opts) != 0)
		xalloc_die(strlen(opts));
	for (int i = 1; i < args->argc; i++)
		if (i != pos[0] && fuse_opt_add_arg(&out, args->argv[i]) != 0)
			xalloc_die(strlen(args->argv[i]));
	free(opts);
	fuse_opt_free_args(args);
	*args = out;
	return 0;
}

int tfs_source_swallowed(const char *opt)
{
	static const char *const words[] = {"_netdev", "auto",	"noauto", "user",
					    "nouser",  "users", "nofail", "defaults"};

	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strcmp(opt, words[i]) == 0)
			return 1;
	/* mount(8): x-* options are for userspace programs (systemd's x-systemd.*, ...) */
	return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

void tfs_source_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;
	struct stat st;

	if (home && *home == '/' && stat(home, &st) == 0 && st.st_uid == getuid())
		return;
	pw = getpwuid(getuid());
	if (pw && pw->pw_dir && *pw->pw_dir == '/')
		setenv("HOME", pw->pw_dir, 1);
}
