/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fd-util.h"
#include "img-streamer.pb-c.h"
#include "log.h"
#include "macro.h"
#include "streamer-proto.h"

#define REQUEST_MAX 4096

int streamer_listen(int dir_fd, const char *name, uid_t uid, gid_t gid, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%i/%s", dir_fd, name);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0 || listen(fd, 1) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int streamer_accept(int listen_fd, int stop_fd, uid_t uid) {
        for (;;) {
                struct pollfd p[] = { { .fd = listen_fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
                if (poll(p, ELEMENTSOF(p), -1) < 0 && errno != EINTR)
                        return negative_errno();
                if (p[1].revents)
                        return -ECANCELED;
                if (!(p[0].revents & POLLIN))
                        continue;
                _cleanup_close_ int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                struct ucred cred;
                socklen_t l = sizeof(cred);
                if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                        continue;
                if (cred.uid != uid && cred.uid != 0) {
                        log_warning("Refused an image stream from PID %i, which is not CRIU's.", (int) cred.pid);
                        continue;
                }
                return TAKE_FD(fd);
        }
}

static int recv_exact(int fd, void *buf, size_t n) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = recv(fd, (char *) buf + done, n - done, MSG_WAITALL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : done == 0 ? 0 : -EPIPE;
                done += (size_t) k;
        }
        return 1;
}

int streamer_recv_request(int fd, char **ret_name) {
        uint32_t len;
        int r = recv_exact(fd, &len, sizeof(len));
        if (r <= 0)
                return r;
        if (len == 0 || len > REQUEST_MAX)
                return -EBADMSG;
        uint8_t buf[REQUEST_MAX];
        r = recv_exact(fd, buf, len);
        if (r <= 0)
                return r < 0 ? r : -EPIPE;
        ImgStreamerRequestEntry *req = img_streamer_request_entry__unpack(NULL, len, buf);
        if (!req)
                return -EBADMSG;
        char *name = strdup(req->filename);
        img_streamer_request_entry__free_unpacked(req, NULL);
        if (!name)
                return -ENOMEM;
        *ret_name = name;
        return 1;
}

int streamer_send_reply(int fd, bool exists) {
        ImgStreamerReplyEntry reply = IMG_STREAMER_REPLY_ENTRY__INIT;
        reply.exists = exists;
        uint8_t buf[16];
        uint32_t len = (uint32_t) img_streamer_reply_entry__get_packed_size(&reply);
        memcpy(buf, &len, sizeof(len));
        img_streamer_reply_entry__pack(&reply, buf + sizeof(len));
        return loop_write(fd, buf, sizeof(len) + len);
}

int streamer_recv_pipe(int fd, int *ret) {
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        union {
                struct cmsghdr h;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof(control) };
        ssize_t k;
        do
                k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        while (k < 0 && errno == EINTR);
        if (k <= 0)
                return k < 0 ? negative_errno() : -EPIPE;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EBADMSG;
        int p;
        memcpy(&p, CMSG_DATA(c), sizeof(int));
        /* Our end only waits on CRIU through poll(), beside a stop fd. */
        /* A page image passes through in 1 MiB steps rather than the default 64 KiB: a sixteenth
         * of the wakeups on both sides. Best effort: the limit is the system's. */
        (void) fcntl(p, F_SETPIPE_SZ, 1 << 20);
        if (fcntl(p, F_SETFL, O_NONBLOCK) < 0) {
                safe_close(p);
                return negative_errno();
        }
        *ret = p;
        return 0;
}

