/*
 * The floor for issue 22's first target: the least CPU a downloader can spend moving a TCP
 * stream into the page cache on this machine. tests/bench/datapath.sh compiles it with gcc at
 * bench time (C, not a Rust bench binary: no runtime, no crate, no async executor, nothing
 * between read(2) and write(2) that a reader must check is not doing extra work, and it
 * builds in a second without touching cargo's target dir while others build).
 *
 *   floor recv IP PORT OUT     accept one connection on IP:PORT, write every byte to OUT
 *   floor send IP PORT FILE    connect to IP:PORT and send FILE with sendfile(2)
 *
 * The receiver prints "listening" once it listens and "received N" when the sender closes.
 * Only the receiver is timed (user + sys by /usr/bin/time): one read(2) and one write(2) per
 * 256 KiB, the two copies any client pays (socket to user space, user space to page cache).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF (256 * 1024)

static int die(const char *what) {
    perror(what);
    return 1;
}

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)atoi(port));
    return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static int recv_mode(struct sockaddr_in *sa, const char *out) {
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return die("socket");
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)sa, sizeof *sa) < 0) return die("bind");
    if (listen(ls, 1) < 0) return die("listen");
    printf("listening\n");
    fflush(stdout);
    int c = accept(ls, NULL, NULL);
    if (c < 0) return die("accept");
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return die("open");
    static char buf[BUF];
    long long total = 0;
    for (;;) {
        ssize_t n = read(c, buf, BUF);
        if (n < 0) return die("read");
        if (n == 0) break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0) return die("write");
            off += w;
        }
        total += n;
    }
    close(fd);
    printf("received %lld\n", total);
    return 0;
}

static int send_mode(struct sockaddr_in *sa, const char *file) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return die("socket");
    if (connect(s, (struct sockaddr *)sa, sizeof *sa) < 0) return die("connect");
    int fd = open(file, O_RDONLY);
    if (fd < 0) return die("open");
    struct stat st;
    if (fstat(fd, &st) < 0) return die("fstat");
    off_t off = 0;
    while (off < st.st_size) {
        ssize_t n = sendfile(s, fd, &off, (size_t)(st.st_size - off));
        if (n <= 0) return die("sendfile");
    }
    close(s);
    return 0;
}

int main(int argc, char **argv) {
    struct sockaddr_in sa;
    if (argc != 5 || addr_of(argv[2], argv[3], &sa) < 0) {
        fprintf(stderr, "usage: floor recv|send IP PORT FILE\n");
        return 2;
    }
    if (strcmp(argv[1], "recv") == 0) return recv_mode(&sa, argv[4]);
    if (strcmp(argv[1], "send") == 0) return send_mode(&sa, argv[4]);
    fprintf(stderr, "usage: floor recv|send IP PORT FILE\n");
    return 2;
}
