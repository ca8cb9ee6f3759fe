/*
 * ovs-offload-cni: the CNI plugin executable container runtimes start for every pod network
 * operation.
 *
 * It is a courier. For ADD, DEL and CHECK it hands the CNI_* variables and stdin, byte for
 * byte, to the agent over the NetConf's `server_socket` (POST /api/v1/cni), prints what the
 * agent answers on stdout and exits with the code the agent says. Every CNI rule -- the
 * variables each command needs, decoding, versions, the NetConf, the pod identity -- is
 * checked by the agent, with the same code the Node front end (src/cni) runs: there is one
 * implementation of the protocol, not two.
 *
 * Whatever it cannot hand over, it hands to that Node front end instead, next to this file
 * as `ovs-offload-cni-node`, with the same argv, environment and stdin: VERSION, STATUS, GC
 * and unknown commands; stdin that is not a JSON object with a usable `server_socket`; an
 * agent that cannot be reached (the front end then checks the request before answering 11,
 * so a broken config still reads as a broken config, not as "try again"); an agent that
 * predates /api/v1/cni (404).
 *
 * Why C: the runtime starts one plugin process per pod and interface, all at once when a node
 * starts many pods. A Node process costs ~70-100 ms of CPU before its first line runs; this
 * one costs ~1 ms, so a burst of pods waits for the agent's work, not for plugin start-ups.
 * It is linked statically: /opt/cni/bin runs on the host, which owes us nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "netconf.h"

extern char **environ;

/* src/cni/client.ts AGENT_TIMEOUT_MS: the agent bounds its own work below it. */
#define AGENT_TIMEOUT_MS 60000
/* src/agent/cni-server.ts MAX_BODY: larger requests are the Node front end's to refuse. */
#define MAX_BODY (1 << 20)
#define MAX_ANSWER (16 << 20)
#define FALLBACK "ovs-offload-cni-node"
#define LATEST "1.1.0"

/* ---------------------------------------------------------------------------------------- */
/* Answers of our own: only when the agent took the request and then failed us. */

static const char *answer_version(const struct found *f)
{
	static const char *const supported[] = {"0.3.1", "0.4.0", "1.0.0", "1.1.0"};
	if (f->has_version && f->version_is_string)
		for (size_t i = 0; i < sizeof supported / sizeof *supported; i++)
			if (f->version.len == strlen(supported[i]) &&
			    strcmp(f->version.p, supported[i]) == 0)
				return supported[i];
	return LATEST;
}

static void json_string(struct buf *b, const char *s)
{
	buf_str(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			buf_add(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", *p);
			buf_str(b, esc);
		} else {
			buf_add(b, p, 1);
		}
	}
	buf_str(b, "\"");
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Prints the answer and leaves with its code. A reader that went away (EPIPE) is nobody's
 * problem; any other failure to write means the answer did not get out. */
static void emit(const char *out, size_t len, int code)
{
	if (write_all(STDOUT_FILENO, out, len) < 0 && errno != EPIPE)
		exit(code ? code : 1);
	exit(code);
}

/* CNI code 11 (try again later) for an agent that took the request and did not answer: the
 * words the Node front end uses for the same failures (src/cni/client.ts). */
static void fail_agent(const struct found *f, const char *why, const char *details)
{
	struct buf b = {0};
	buf_str(&b, "{\"cniVersion\":");
	json_string(&b, answer_version(f));
	buf_str(&b, ",\"code\":11,\"msg\":");
	json_string(&b, why);
	if (details && *details) {
		buf_str(&b, ",\"details\":");
		json_string(&b, details);
	}
	buf_str(&b, "}\n");
	emit(b.p, b.len, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* The Node front end, for everything this program does not carry itself. */

static char self_dir[PATH_MAX];

static void find_self(const char *argv0)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
	} else if (argv0 && strchr(argv0, '/') && strlen(argv0) < sizeof exe) {
		/* No /proc (a chroot): the path the runtime started us by. */
		strcpy(exe, argv0);
	} else {
		strcpy(exe, "./" FALLBACK);
	}
	char *slash = strrchr(exe, '/');
	if (slash == exe)
		strcpy(self_dir, "/");
	else if (slash) {
		*slash = '\0';
		snprintf(self_dir, sizeof self_dir, "%s", exe);
	} else
		strcpy(self_dir, ".");
}

struct stdin_copy {
	const char *p;
	size_t len;
	int have; /* stdin was read: the Node front end gets these bytes on its stdin */
};

/*
 * Becomes the Node front end. `unreachable` is the answer to give when that front end cannot
 * be started and the agent could not be reached either.
 */
static void fall_back(char **argv, const struct stdin_copy *in, const struct found *f,
		      const char *unreachable_socket, const char *unreachable_why)
{
	char path[PATH_MAX + sizeof FALLBACK + 1];
	snprintf(path, sizeof path, "%s/%s", self_dir, FALLBACK);
	const char *step = "cannot start";
	if (in->have) {
		int fd = memfd_create("cni-stdin", 0);
		if (fd < 0 || write_all(fd, in->p, in->len) < 0 || lseek(fd, 0, SEEK_SET) != 0 ||
		    dup2(fd, STDIN_FILENO) < 0) {
			step = "cannot hand stdin to";
			goto failed;
		}
		if (fd != STDIN_FILENO)
			close(fd);
	}
	execv(path, argv);
failed:;
	int err = errno;
	if (unreachable_socket) {
		char why[PATH_MAX + 128];
		snprintf(why, sizeof why, "ovs-offload agent unreachable at %s: %s",
			 unreachable_socket, unreachable_why);
		fail_agent(f, why,
			   "is the ovs-offload agent running on this node?");
	}
	struct buf b = {0};
	char msg[PATH_MAX + 256];
	snprintf(msg, sizeof msg, "internal error: %s %s: %s", step, path, strerror(err));
	buf_str(&b, "{\"cniVersion\":");
	json_string(&b, answer_version(f));
	buf_str(&b, ",\"code\":999,\"msg\":");
	json_string(&b, msg);
	buf_str(&b, "}\n");
	emit(b.p, b.len, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* The agent. */

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {fd, events, 0};
		int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -1 : r;
	}
}

static const char *errno_name(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EACCES: return "EACCES";
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case ENOTSOCK: return "ENOTSOCK";
	case ENOTDIR: return "ENOTDIR";
	case EAGAIN: return "EAGAIN";
	default: return strerror(e);
	}
}

static int header_is(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

static long header_number(const char *line, size_t len, const char *name)
{
	size_t i = strlen(name) + 1;
	long v = 0;
	int digits = 0;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	for (; i < len && line[i] >= '0' && line[i] <= '9'; i++) {
		if (v > 100000000)
			return -1;
		v = v * 10 + (line[i] - '0');
		digits++;
	}
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return digits && i == len ? v : -1;
}

int main(int argc, char **argv)
{
	(void)argc;
	/* A runtime that stops reading must not kill us with a signal: EPIPE is handled. */
	signal(SIGPIPE, SIG_IGN);
	find_self(argv[0]);

	struct found f = {0};
	struct stdin_copy in = {0};
	const char *cmd = getenv("CNI_COMMAND");
	/* Not ours to carry: the Node front end answers, with stdin untouched (VERSION typed at a
	 * terminal must not wait for end of input). */
	if (!cmd || (strcmp(cmd, "ADD") != 0 && strcmp(cmd, "DEL") != 0 && strcmp(cmd, "CHECK") != 0))
		fall_back(argv, &in, &f, NULL, NULL);

	struct buf conf = {0};
	for (;;) {
		char chunk[65536];
		ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			/* Let the Node front end meet (and report) the same failure. */
			in.p = conf.p ? conf.p : "";
			in.len = conf.len;
			in.have = conf.len > 0;
			fall_back(argv, &in, &f, NULL, NULL);
		}
		if (r == 0)
			break;
		buf_add(&conf, chunk, (size_t)r);
	}
	in.p = conf.p ? conf.p : "";
	in.len = conf.len;
	in.have = 1;

	if (scan_netconf(in.p, in.len, &f) < 0 || !f.has_socket || !f.socket_is_string)
		fall_back(argv, &in, &f, NULL, NULL);
	const char *sock = f.socket.p ? f.socket.p : "";
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int ascii = 1;
	for (size_t i = 0; i < f.socket.len; i++)
		if ((unsigned char)sock[i] >= 0x80 || sock[i] == '\0')
			ascii = 0;
	if (!ascii || f.socket.len == 0 || sock[0] != '/' || f.socket.len >= sizeof addr.sun_path)
		fall_back(argv, &in, &f, NULL, NULL);
	memcpy(addr.sun_path, sock, f.socket.len);

	/* The request: every CNI_* variable as NAME=VALUE\0, an empty one, then stdin. */
	struct buf body = {0};
	for (char **e = environ; *e; e++)
		/* An entry without "=" (a raw execve may pass one) is no variable: Node ignores it. */
		if (strncmp(*e, "CNI_", 4) == 0 && strchr(*e, '='))
			buf_add(&body, *e, strlen(*e) + 1);
	buf_add(&body, "", 1);
	buf_add(&body, in.p, in.len);
	if (body.len > MAX_BODY)
		fall_back(argv, &in, &f, NULL, NULL);

	long long deadline = now_ms() + AGENT_TIMEOUT_MS;
	char why[PATH_MAX + 128];
	const char *details = "is the ovs-offload agent running on this node?";
	/* Non-blocking from the start: a full accept backlog (an agent stuck, or busy with a
	 * burst) makes a blocking AF_UNIX connect wait with no end. */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		fall_back(argv, &in, &f, sock, errno_name(errno));
	while (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			/* The backlog is full: try again shortly, within the deadline. */
			if (now_ms() >= deadline) {
				snprintf(why, sizeof why,
					 "ovs-offload agent unreachable at %s: no answer in %d s", sock,
					 AGENT_TIMEOUT_MS / 1000);
				fail_agent(&f, why, details);
			}
			poll(NULL, 0, 10);
			continue;
		}
		if (errno == EINPROGRESS) {
			int err = 0;
			socklen_t len = sizeof err;
			if (wait_fd(fd, POLLOUT, deadline) > 0 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
				break;
			errno = err ? err : ETIMEDOUT;
		}
		/* Nothing reached the agent: the Node front end checks the request and answers. */
		fall_back(argv, &in, &f, sock, errno_name(errno));
	}

	struct buf req = {0};
	char head[256];
	snprintf(head, sizeof head,
		 "POST /api/v1/cni HTTP/1.1\r\nHost: localhost\r\n"
		 "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 body.len);
	buf_str(&req, head);
	buf_add(&req, body.p, body.len);

	size_t sent = 0;
	while (sent < req.len) {
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w == 0) {
			snprintf(why, sizeof why, "ovs-offload agent unreachable at %s: no answer in %d s",
				 sock, AGENT_TIMEOUT_MS / 1000);
			fail_agent(&f, why, details);
		}
		ssize_t n = w < 0 ? -1 : send(fd, req.p + sent, req.len - sent, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			/* The agent may have answered early (and closed): read what it said. */
			break;
		sent += (size_t)n;
	}

	struct buf ans = {0};
	for (;;) {
		int w = wait_fd(fd, POLLIN, deadline);
		if (w == 0) {
			snprintf(why, sizeof why, "ovs-offload agent unreachable at %s: no answer in %d s",
				 sock, AGENT_TIMEOUT_MS / 1000);
			fail_agent(&f, why, details);
		}
		char chunk[65536];
		ssize_t n = w < 0 ? -1 : recv(fd, chunk, sizeof chunk, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		/* A reset after an answer arrived (an agent that answered before reading all of
		 * the request, then closed): the answer is what counts. */
		if (n < 0 && ans.len > 0)
			break;
		if (n < 0) {
			snprintf(why, sizeof why, "ovs-offload agent unreachable at %s: %s", sock,
				 errno_name(errno));
			fail_agent(&f, why, details);
		}
		if (n == 0)
			break;
		buf_add(&ans, chunk, (size_t)n);
		if (ans.len > MAX_ANSWER)
			break;
	}
	close(fd);

	/* HTTP/1.x <status> ...\r\n headers \r\n\r\n body (the agent sets Content-Length). */
	snprintf(why, sizeof why, "agent at %s sent a malformed answer", sock);
	const char *a = ans.p ? ans.p : "";
	char *end = ans.len ? memmem(a, ans.len, "\r\n\r\n", 4) : NULL;
	/* A NUL in the status line or headers is no HTTP, and would cut the searches below. */
	if (ans.len < 12 || strncmp(a, "HTTP/1.", 7) != 0 || !end || memchr(a, '\0', (size_t)(end - a))) {
		if (ans.len == 0)
			snprintf(why, sizeof why, "ovs-offload agent unreachable at %s: %s", sock,
				 "ECONNRESET");
		fail_agent(&f, why, ans.len == 0 ? details : "");
	}
	int status = atoi(a + 9);
	if (status == 404)
		/* An agent without /api/v1/cni (older than this file): the Node front end speaks
		 * the per-command endpoints every agent has. */
		fall_back(argv, &in, &f, NULL, NULL);
	long code = -1, length = -1;
	for (const char *line = strstr(a, "\r\n") + 2; line < end;) {
		const char *eol = strstr(line, "\r\n");
		size_t len = (size_t)(eol - line);
		if (header_is(line, len, "x-cni-exit-code"))
			code = header_number(line, len, "x-cni-exit-code");
		else if (header_is(line, len, "content-length"))
			length = header_number(line, len, "content-length");
		line = eol + 2;
	}
	const char *out = end + 4;
	size_t have = ans.len - (size_t)(out - a);
	if (status != 200 || code < 0 || code > 255 || length < 0 || (size_t)length != have) {
		if (status != 200 && status > 0)
			snprintf(why, sizeof why, "agent at %s answered HTTP %d", sock, status);
		fail_agent(&f, why, "");
	}
	emit(out, have, (int)code);
}
