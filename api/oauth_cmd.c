/* oauth_cmd.c - the access-token command: `/bin/sh -c CMD` run with fork/exec, its
 * stdout through a pipe is the token, the whole process group killed at the deadline.
 * When to run it again is the token cache's business (oauth.c). The command line is the
 * user's own; no secret is added to it, and its output never reaches a message. */
#include "api/oauth.h"
#include "api/backend.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OAUTH_OUTPUT_MAX (64 << 10)

static void oauth_cmd_error(struct backend_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void oauth_cmd_error(struct backend_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = BACKEND_ERROR_CREDENTIALS;
	err->http_status = 0;
	err->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

static int oauth_cmd_header_safe(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s == 0x7f)
			return 0;
	return 1;
}

static long oauth_ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* In the child only async-signal-safe calls: the parent may have many threads. */
static void oauth_child_exec(const char *cmd, int out_fd, int null_fd)
{
	setpgid(0, 0);
	if (dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0)
		_exit(127);
#ifdef SYS_close_range
	syscall(SYS_close_range, 3U, ~0U, 0U);
#else
	for (int fd = 3; fd < 4096; fd++)
		close(fd);
#endif
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

/* Collects stdout until EOF or the deadline; returns 1 on EOF, 0 on timeout. */
static int oauth_collect(int fd, const struct timespec *deadline, char *buf, size_t *len)
{
	for (;;) {
		long left = oauth_ms_left(deadline);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char scratch[512];
		ssize_t n;

		if (left <= 0)
			return 0;
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		n = read(fd, scratch, sizeof(scratch));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
		if (*len + (size_t)n > OAUTH_OUTPUT_MAX)
			n = (ssize_t)(OAUTH_OUTPUT_MAX - *len);
		memcpy(buf + *len, scratch, (size_t)n);
		*len += (size_t)n;
		memset(scratch, 0, sizeof(scratch));
	}
}

/* Waits for the child until the deadline, then kills its whole process group. */
static int oauth_reap(pid_t pid, const struct timespec *deadline, int *timed_out)
{
	int status = 0;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 && oauth_ms_left(deadline) > 0)
		usleep(5000);
	if (r == 0) {
		*timed_out = 1;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	}
	if (r < 0)
		return 0; /* SIGCHLD ignored by the program: the status is gone, trust stdout */
	return status;
}

static int oauth_command_output(char *buf, size_t len, int status, int timed_out,
				struct oauth_token *out, struct backend_error *err)
{
	char *s = buf, *e = buf + len;

	if (timed_out) {
		oauth_cmd_error(err, "token_command did not finish in time and was killed");
		return -EACCES;
	}
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
		oauth_cmd_error(err, "token_command failed (%s %d)",
				WIFSIGNALED(status) ? "signal" : "exit status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		return -EACCES;
	}
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	*e = '\0';
	if (!oauth_cmd_header_safe(s)) {
		oauth_cmd_error(err, "token_command printed %s on stdout",
				*s ? "more than one token" : "no token");
		return -EACCES;
	}
	out->access_token = xstrdup(s);
	return 0;
}

int oauth_token_command(const char *cmd, long timeout_ms, struct oauth_token *out,
			struct backend_error *err)
{
	struct timespec deadline;
	char *buf;
	size_t len = 0;
	int pfd[2], null_fd, status, timed_out = 0, rc;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;
		if (null_fd >= 0)
			close(null_fd);
		oauth_cmd_error(err, "cannot run token_command: %s", strerror(e));
		return -EACCES;
	}
	pid = fork();
	if (pid == 0)
		oauth_child_exec(cmd, pfd[1], null_fd);
	close(pfd[1]);
	close(null_fd);
	if (pid < 0) {
		int e = errno;
		close(pfd[0]);
		oauth_cmd_error(err, "cannot run token_command: %s", strerror(e));
		return -EACCES;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (timeout_ms > 0 ? timeout_ms : 30000) / 1000;
	deadline.tv_nsec += (timeout_ms > 0 ? timeout_ms : 30000) % 1000 * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	buf = xmalloc(OAUTH_OUTPUT_MAX + 1);
	if (!oauth_collect(pfd[0], &deadline, buf, &len))
		deadline.tv_sec = 0; /* already late: reap at once */
	close(pfd[0]);
	status = oauth_reap(pid, &deadline, &timed_out);
	rc = oauth_command_output(buf, len, status, timed_out, out, err);
	memset(buf, 0, len);
	free(buf);
	return rc;
}
