/* notify.h - telling systemd (Type=notify) that the mount is ready or going, by the
 * datagram protocol of sd_notify(3) without linking libsystemd. Nothing else. */
#ifndef TUNEDFS_FS_NOTIFY_H
#define TUNEDFS_FS_NOTIFY_H

/* Keeps $NOTIFY_SOCKET and removes it from the environment, so that no child (the
 * private tunedfs-server) speaks for us. Call once, before any fork. */
void tfs_notify_take(void);

/* Sends STATE ("READY=1", "STOPPING=1") if systemd asked for it: 0 or -errno. */
int tfs_notify(const char *state);

#endif
