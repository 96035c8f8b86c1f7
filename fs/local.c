/* local.c - `-o local`: a private tunedfs-server on a unix socket in a 0700 directory,
 * started after daemonizing (its parent-death signal follows the process that made it)
 * and stopped with the mount. Finding the binary and reading its address live here. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fs/tunedfs.h"

struct tfs_local {
	pid_t pid;
	char *rundir;
	char *sock;
};

static int executable(const char *p)
{
	return access(p, X_OK) == 0;
}

/* env TUNEDFS_SERVER, next to this binary, the tree's server/ when run from a build tree
 * (a build.ninja above fs/; an installed tunedfs never looks there), the install dir. */
static char *find_server(void)
{
	char self[PATH_MAX], cand[PATH_MAX + 64];
	const char *env = getenv("TUNEDFS_SERVER");
	ssize_t n;

	if (env && *env)
		return tfs_xstrdup(env);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = 0;
	if (strrchr(self, '/')) {
		*strrchr(self, '/') = 0;
		snprintf(cand, sizeof cand, "%s/tunedfs-server", self);
		if (executable(cand))
			return tfs_xstrdup(cand);
		snprintf(cand, sizeof cand, "%s/../build.ninja", self);
		if (access(cand, F_OK) == 0) {
			snprintf(cand, sizeof cand, "%s/../server/tunedfs-server", self);
			if (executable(cand))
				return tfs_xstrdup(cand);
		}
	}
	snprintf(cand, sizeof cand, "%s/tunedfs-server", TUNEDFS_BINDIR);
	if (executable(cand))
		return tfs_xstrdup(cand);
	return NULL;
}

/* A run directory holds "owner" (the pid of the tunedfs that made it) and the server's
 * socket. One whose owner is gone (a tunedfs killed with -9 cleans up nothing) is removed
 * by the next start; one without an owner file only once it is a minute old (it may be
 * another start's, between its mkdtemp and its owner file). */
static void sweep_one(const char *dir, uid_t uid)
{
	char path[PATH_MAX + 16], buf[32] = "";
	struct stat st;
	ssize_t n;
	int fd;
	long pid;

	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid)
		return;
	snprintf(path, sizeof path, "%s/owner", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (time(NULL) - st.st_mtime > 60)
			rmdir(dir); /* only when empty */
		return;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	pid = n > 0 ? strtol(buf, NULL, 10) : 0;
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH)) {
		snprintf(path, sizeof path, "%s/server.sock", dir);
		unlink(path);
		snprintf(path, sizeof path, "%s/owner", dir);
		unlink(path);
		rmdir(dir);
	}
}

static void sweep_rundirs(const char *base)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(base);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "tunedfs.", 8) != 0 || strlen(de->d_name) != 14)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		sweep_one(path, getuid());
	}
	closedir(d);
}

static char *make_rundir(void)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	char tmpl[PATH_MAX], owner[PATH_MAX + 8], pid[32];
	int fd, n;

	if (!base || !*base || access(base, W_OK) != 0)
		base = "/tmp";
	sweep_rundirs(base);
	snprintf(tmpl, sizeof tmpl, "%s/tunedfs.XXXXXX", base);
	if (!mkdtemp(tmpl)) /* mkdtemp makes it 0700 */
		return NULL;
	snprintf(owner, sizeof owner, "%s/owner", tmpl);
	n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	fd = open(owner, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, pid, (size_t)n) != n) {
		int e = fd < 0 ? errno : EIO;
		if (fd >= 0)
			close(fd);
		unlink(owner);
		rmdir(tmpl);
		errno = e;
		return NULL;
	}
	close(fd);
	return tfs_xstrdup(tmpl);
}

/* The server's environment: only what names the place and the language, never a secret
 * (an API key, a credentials file, a token) that the private server has no use for.
 * Built before fork. */
static int env_kept(const char *kv)
{
	static const char *const keep[] = {
	    "PATH=",   "HOME=",		"LANG=",	  "LC_",	   "TZ=",
	    "TMPDIR=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "TSAN_OPTIONS="};

	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
		if (strncmp(kv, keep[i], strlen(keep[i])) == 0)
			return 1;
	return 0;
}

static char **server_env(void)
{
	extern char **environ;
	size_t n = 0, o = 0;
	char **env;

	while (environ[n])
		n++;
	env = tfs_xmalloc((n + 1) * sizeof *env);
	for (size_t i = 0; i < n; i++)
		if (env_kept(environ[i]))
			env[o++] = environ[i];
	env[o] = NULL;
	return env;
}

static void child(const char *bin, char *const argv[], char *const envp[], int out_fd, pid_t parent)
{
	int null = open("/dev/null", O_RDWR);

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		if (fcntl(STDERR_FILENO, F_GETFD) < 0)
			dup2(null, STDERR_FILENO);
	}
	dup2(out_fd, STDOUT_FILENO);
	execve(bin, argv, envp);
	_exit(127);
}

/* Reads the first line within 30 s. */
static int read_first_line(int fd, char *line, size_t size)
{
	size_t len = 0;
	time_t deadline = time(NULL) + 30;

	while (len + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - time(NULL));
		ssize_t n;
		if (left <= 0 || poll(&p, 1, left * 1000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, line + len, 1);
		if (n <= 0)
			return -EPIPE;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = 0;
	return 0;
}

int tfs_local_start(const char *server_data, struct tfs_local **out, char **url)
{
	struct tfs_local *ls;
	char *bin = find_server();
	char line[PATH_MAX + 16];
	int pipefd[2], rc;
	pid_t parent = getpid();
	char *argv[] = {"tunedfs-server", "--socket", NULL, "--data-dir", NULL, NULL};
	char **envp;

	if (!bin) {
		tfs_log(LOG_ERR,
			"-o local: tunedfs-server not found next to tunedfs nor in %s "
			"(set TUNEDFS_SERVER)",
			TUNEDFS_BINDIR);
		return -ENOENT;
	}
	if (mkdir(server_data, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		tfs_log(LOG_ERR, "-o local: cannot create %s: %s", server_data, strerror(errno));
		free(bin);
		return rc;
	}
	ls = tfs_xmalloc(sizeof *ls);
	memset(ls, 0, sizeof *ls);
	ls->rundir = make_rundir();
	if (!ls->rundir || pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		tfs_log(LOG_ERR, "-o local: cannot make a run directory: %s", strerror(errno));
		free(bin);
		tfs_local_stop(ls);
		return rc;
	}
	ls->sock = tfs_xmalloc(strlen(ls->rundir) + sizeof "/server.sock");
	sprintf(ls->sock, "%s/server.sock", ls->rundir);
	argv[2] = ls->sock;
	argv[4] = (char *)server_data;
	envp = server_env();
	ls->pid = fork();
	if (ls->pid == 0)
		child(bin, argv, envp, pipefd[1], parent);
	close(pipefd[1]);
	free(bin);
	free(envp);
	if (ls->pid < 0) {
		rc = -errno;
		close(pipefd[0]);
		ls->pid = 0;
		tfs_local_stop(ls);
		return rc;
	}
	rc = read_first_line(pipefd[0], line, sizeof line);
	close(pipefd[0]);
	if (rc < 0 || strncmp(line, "unix:", 5) != 0) {
		tfs_log(LOG_ERR, "-o local: tunedfs-server did not start (%s)",
			rc < 0 ? strerror(-rc) : "unexpected first line");
		tfs_local_stop(ls);
		return rc < 0 ? rc : -EPROTO;
	}
	*url = tfs_xstrdup(line);
	*out = ls;
	return 0;
}

void tfs_local_stop(struct tfs_local *ls)
{
	if (!ls)
		return;
	if (ls->pid > 0) {
		int status, i;
		kill(ls->pid, SIGTERM);
		/* 10 s for a clean stop, then it is killed */
		for (i = 0; i < 100 && waitpid(ls->pid, &status, WNOHANG) == 0; i++)
			usleep(100 * 1000);
		if (i == 100) {
			kill(ls->pid, SIGKILL);
			waitpid(ls->pid, &status, 0);
		}
	}
	if (ls->sock)
		unlink(ls->sock);
	if (ls->rundir) {
		char owner[PATH_MAX + 8];
		snprintf(owner, sizeof owner, "%s/owner", ls->rundir);
		unlink(owner);
		rmdir(ls->rundir);
	}
	free(ls->sock);
	free(ls->rundir);
	free(ls);
}
