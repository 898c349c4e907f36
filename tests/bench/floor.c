/*
 * The floor for issue 22's first target: the least CPU a downloader can spend moving a TCP
 * stream into the page cache on this machine. tests/bench/datapath.sh compiles it with gcc at
 * bench time (C, not a Rust bench binary: no runtime, no crate, no async executor, nothing
 * between read(2) and write(2) that a reader must check is not doing extra work, and it
 * builds in a second without touching cargo's target dir while others build).
 *
 *   floor recv IP PORT OUT             accept one connection on IP:PORT, write every byte to OUT
 *   floor send IP PORT FILE            connect to IP:PORT and send FILE with sendfile(2)
 *   floor recv-many IP PORT DIR LIST   the stream into the files LIST names, under DIR
 *   floor send-many IP PORT DIR LIST   the files LIST names, under DIR, one after the other
 *
 * LIST has one line per file, in the torrent's order: its length, a space, its path relative
 * to DIR. recv-many is the floor of a many-file torrent: each file is created (and its
 * directory made) when its first byte arrives and closed after its last, as the least a client
 * must do; the per-file cost it pays is this machine's, not a client's (on an ext4 without a
 * journal, creating a file scans past every inode freed in its group in the last minutes).
 *
 * The receiver prints "listening" once it listens and "received N" when the sender closes.
 * Only the receiver is timed (user + sys by /usr/bin/time): one read(2) and one write(2) per
 * 256 KiB, the two copies any client pays (socket to user space, user space to page cache).
 */
#include <arpa/inet.h>
#include <errno.h>
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

/* Listens on sa, says "listening", and returns the one connection accepted (-1 on error). */
static int accept_one(struct sockaddr_in *sa) {
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0) return die("socket"), -1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)sa, sizeof *sa) < 0) return die("bind"), -1;
    if (listen(ls, 1) < 0) return die("listen"), -1;
    printf("listening\n");
    fflush(stdout);
    int c = accept(ls, NULL, NULL);
    if (c < 0) return die("accept"), -1;
    return c;
}

static int recv_mode(struct sockaddr_in *sa, const char *out) {
    int c = accept_one(sa);
    if (c < 0) return 1;
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

/* One file of a LIST: its length and its path (under the directory given). */
struct entry {
    long long len;
    char *path;
};

/* Reads LIST into *out; returns the number of files, or -1. */
static long read_list(const char *dir, const char *list, struct entry **out) {
    FILE *f = fopen(list, "r");
    if (!f) return die("open list"), -1;
    long n = 0, cap = 0;
    struct entry *v = NULL;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
        if (!sp) continue;
        if (nl) *nl = 0;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            v = realloc(v, (size_t)cap * sizeof *v);
            if (!v) return die("realloc"), -1;
        }
        v[n].len = atoll(line);
        size_t need = strlen(dir) + strlen(sp + 1) + 2;
        v[n].path = malloc(need);
        if (!v[n].path) return die("malloc"), -1;
        snprintf(v[n].path, need, "%s/%s", dir, sp + 1);
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

/* Opens PATH for writing, creating it; its directories are made the first time one is missing. */
static int create_file(char *path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0 || errno != ENOENT) return fd;
    for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = 0;
        int r = mkdir(path, 0755);
        *p = '/';
        if (r < 0 && errno != EEXIST) return -1;
    }
    return open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
}

static int recv_many_mode(struct sockaddr_in *sa, const char *dir, const char *list) {
    struct entry *files;
    long n = read_list(dir, list, &files);
    if (n < 0) return 1;
    int c = accept_one(sa);
    if (c < 0) return 1;
    static char buf[BUF];
    long long total = 0, left = 0; /* bytes of file i still to come */
    long i = -1;
    int fd = -1;
    for (;;) {
        ssize_t got = read(c, buf, BUF);
        if (got < 0) return die("read");
        if (got == 0) break;
        total += got;
        for (char *p = buf; got > 0;) {
            while (fd < 0 || left == 0) { /* the next file with bytes to come */
                if (fd >= 0) close(fd);
                fd = -1;
                if (++i >= n) return fprintf(stderr, "more bytes than LIST holds\n"), 1;
                if ((fd = create_file(files[i].path)) < 0) return die("open");
                left = files[i].len;
            }
            size_t take = (size_t)(got < left ? got : left);
            ssize_t w = write(fd, p, take);
            if (w < 0) return die("write");
            p += w, got -= w, left -= w;
        }
    }
    if (fd >= 0) close(fd);
    /* Empty files after the last byte are still files a client must create. */
    while (++i < n) {
        if ((fd = create_file(files[i].path)) < 0) return die("open");
        close(fd);
    }
    printf("received %lld\n", total);
    return 0;
}

static int send_many_mode(struct sockaddr_in *sa, const char *dir, const char *list) {
    struct entry *files;
    long n = read_list(dir, list, &files);
    if (n < 0) return 1;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return die("socket");
    if (connect(s, (struct sockaddr *)sa, sizeof *sa) < 0) return die("connect");
    for (long i = 0; i < n; i++) {
        int fd = open(files[i].path, O_RDONLY);
        if (fd < 0) return die("open");
        off_t off = 0;
        while (off < files[i].len) {
            ssize_t k = sendfile(s, fd, &off, (size_t)(files[i].len - off));
            if (k <= 0) return die("sendfile");
        }
        close(fd);
    }
    close(s);
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

#ifdef FLOOR_SHA256
/*
 * The hashing a v2 downloader must do, as the least it can be: OpenSSL's SHA-256 (its SHA-NI
 * path where the CPU has one) over each 16 KiB leaf, then over each pair of hashes up to the
 * piece (the piece layer a v2 client checks) and up to the file's root. Only its user time is
 * counted, as `openssl dgst`'s is for SHA-1: a client hashes bytes it already holds, so the
 * read(2) from the page cache here is not part of the floor.
 */
#include <openssl/sha.h>

#define LEAF (16 * 1024)

static void hash_pair(unsigned char *a, unsigned char *b, unsigned char *out) {
    unsigned char both[64];
    memcpy(both, a, 32);
    memcpy(both + 32, b, 32);
    SHA256(both, 64, out);
}

/* Reduces n hashes (n a power of two) in place to their merkle root, left in v[0]. */
static void reduce(unsigned char (*v)[32], size_t n) {
    for (; n > 1; n /= 2)
        for (size_t i = 0; i < n / 2; i++) hash_pair(v[2 * i], v[2 * i + 1], v[i]);
}

static size_t pow2_at_least(size_t n) {
    size_t p = 1;
    while (p < n) p *= 2;
    return p;
}

static int v2_hash_mode(const char *file, const char *plen_text) {
    long long plen = atoll(plen_text);
    if (plen < LEAF || (plen & (plen - 1)))
        return fprintf(stderr, "PIECE_LEN: a power of two, at least 16384\n"), 2;
    int fd = open(file, O_RDONLY);
    if (fd < 0) return die("open");
    struct stat st;
    if (fstat(fd, &st) < 0) return die("fstat");
    if (st.st_size == 0) return fprintf(stderr, "empty file: no pieces root\n"), 2;
    size_t per = (size_t)(plen / LEAF), pieces = (size_t)((st.st_size + plen - 1) / plen);
    size_t width = pow2_at_least(pieces);
    unsigned char(*leaves)[32] = calloc(per, 32), (*layer)[32] = calloc(width, 32);
    unsigned char *buf = malloc((size_t)plen), pad[32] = {0};
    if (!leaves || !layer || !buf) return die("malloc");
    /* A piece past the file's end is the root of a piece's worth of zero leaves. */
    for (size_t k = per; k > 1; k /= 2) hash_pair(pad, pad, pad);
    for (size_t p = 0; p < pieces; p++) {
        size_t got = 0, want = (size_t)(st.st_size - (off_t)p * plen < plen ? st.st_size - (off_t)p * plen : plen);
        while (got < want) {
            ssize_t n = read(fd, buf + got, want - got);
            if (n <= 0) return die("read");
            got += (size_t)n;
        }
        size_t n = (got + LEAF - 1) / LEAF;
        for (size_t i = 0; i < n; i++) SHA256(buf + i * LEAF, got - i * LEAF < LEAF ? got - i * LEAF : LEAF, leaves[i]);
        /* A file of one piece has the smallest tree over its leaves; in a longer one every
         * piece's subtree is whole, its missing leaves zero. */
        size_t w = pieces == 1 ? pow2_at_least(n) : per;
        memset(leaves[n], 0, (w - n) * 32);
        reduce(leaves, w);
        memcpy(layer[p], leaves[0], 32);
    }
    for (size_t p = pieces; p < width; p++) memcpy(layer[p], pad, 32);
    reduce(layer, width);
    for (int i = 0; i < 32; i++) printf("%02x", layer[0][i]);
    printf("\n");
    return 0;
}
#endif

int main(int argc, char **argv) {
    struct sockaddr_in sa;
    const char *usage = "usage: floor recv|send IP PORT FILE, floor recv-many|send-many IP PORT DIR LIST\n";
#ifdef FLOOR_SHA256
    if (argc == 4 && strcmp(argv[1], "v2-hash") == 0) return v2_hash_mode(argv[2], argv[3]);
#endif
    if (argc < 5 || addr_of(argv[2], argv[3], &sa) < 0) return fprintf(stderr, "%s", usage), 2;
    if (argc == 5 && strcmp(argv[1], "recv") == 0) return recv_mode(&sa, argv[4]);
    if (argc == 5 && strcmp(argv[1], "send") == 0) return send_mode(&sa, argv[4]);
    if (argc == 6 && strcmp(argv[1], "recv-many") == 0) return recv_many_mode(&sa, argv[4], argv[5]);
    if (argc == 6 && strcmp(argv[1], "send-many") == 0) return send_many_mode(&sa, argv[4], argv[5]);
    fprintf(stderr, "%s", usage);
    return 2;
}
