/* cmdline.h - the command line around the mount options: the SOURCE word of mount(8)
 * (`tunedfs SOURCE MOUNTPOINT`), the fstab-only words tunedfs ignores, --version and the
 * help text (source.c, usage.c). The options themselves and their checks are main.c's. */
#ifndef TUNEDFS_FS_CMDLINE_H
#define TUNEDFS_FS_CMDLINE_H

#include <fuse_opt.h>

/* If args hold two words that are not options, the first is SOURCE: it is taken out and
 * the options it stands for go in front of the others (so an explicit -o still wins).
 * 0, or -EINVAL after telling the user why on stderr. */
int tfs_source_take(struct fuse_args *args);

/* What a SOURCE word stands for, as the text of one -o argument ("local,backend=vertex");
 * NULL if the word names no backend. The result is the caller's to free. */
char *tfs_source_options(const char *source);

/* 1 for an option that only mount(8), fstab or systemd read (_netdev, noauto, user,
 * users, nofail, x-systemd.*, ...): tunedfs accepts it and does nothing with it. */
int tfs_source_swallowed(const char *opt);

/* mount(8) hands its helpers root's HOME, even for a user's mount: when $HOME is unset
 * or not a directory of the user tunedfs runs as, it is set from the password database,
 * so that the default data, cache and credential paths are the user's. */
void tfs_source_home(void);

/* `tunedfs --version`: ours, then the libraries' as linked at run time. */
void tfs_print_version(void);

/* `tunedfs --help` / `-o help`: the options of every backend, or of one if backend is
 * set; libfuse's own list follows, printed by the caller. */
void tfs_print_usage(const char *prog, const char *backend);

#endif
