/*
 * The floor of waiting, for bench/run.sh cost: what the kernel charges for
 * whenready's schedule with nothing else on top. Each port on 127.0.0.1 is tried on
 * whenready's backoff (pauses drawn from [d/2, d], d from 20 ms doubling to
 * 250 ms) with a fresh non-blocking socket (socket, connect, SO_ERROR, close), and
 * the process sleeps in one epoll_pwait2 per wake-up, until SECONDS have passed.
 * With SHARE set, a wake-up is put off (by at most d/8, never past d) when that lets
 * it serve another port's attempt too, as whenready does (src/wait/queue.rs). With
 * FAMILIES 2, an attempt refused on 127.0.0.1 is made on ::1 as well, as whenready
 * tries both addresses of `localhost` (src/probe/net.rs); with 1, on 127.0.0.1 only.
 *
 *   waitfloor SECONDS SHARE FAMILIES PORT...    prints "N attempts, W wake-ups" on stderr
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: waitfloor SECONDS SHARE FAMILIES PORT...\n");
        return 2;
    }
    double secs = atof(argv[1]);
    int share = atoi(argv[2]);
    int families = atoi(argv[3]);
    int n = argc - 4;
    double *soft = calloc(n, sizeof *soft), *hard = calloc(n, sizeof *hard);
    double *ceiling = calloc(n, sizeof *ceiling);
    int *port = calloc(n, sizeof *port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    double start = now();
    long attempts = 0, wakes = 0;
    srand48(getpid());
    for (int i = 0; i < n; i++) {
        port[i] = atoi(argv[4 + i]);
        soft[i] = hard[i] = start;
        ceiling[i] = 0.020;
    }
    for (;;) {
        double t = now();
        if (t - start >= secs)
            break;
        for (int i = 0; i < n; i++) {
            if (soft[i] > t)
                continue;
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port[i])};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port[i])};
            a6.sin6_addr = in6addr_loopback;
            for (int f = 0; f < families; f++) {
                int s = socket(f ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (f)
                    connect(s, (struct sockaddr *)&a6, sizeof a6);
                else
                    connect(s, (struct sockaddr *)&a, sizeof a);
                int e = 0;
                socklen_t l = sizeof e;
                getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &l);
                close(s);
                if (e != ECONNREFUSED)
                    break;
            }
            attempts++;
            double d = ceiling[i], p = d / 2 + drand48() * d / 2;
            ceiling[i] = d * 2 > 0.250 ? 0.250 : d * 2;
            double slack = share ? (d - p < d / 8 ? d - p : d / 8) : 0;
            double after = now();
            soft[i] = after + p;
            hard[i] = after + p + slack;
        }
        /* The earliest due time, put off to a later one while no port is late. */
        double at = 1e300, latest = 1e300;
        for (;;) {
            double next = 1e300;
            int found = -1;
            for (int i = 0; i < n; i++)
                if (soft[i] < next && (at == 1e300 || soft[i] > at)) {
                    next = soft[i];
                    found = i;
                }
            if (found < 0 || (at != 1e300 && next > latest))
                break;
            at = next;
            for (int i = 0; i < n; i++)
                if (soft[i] == next && hard[i] < latest)
                    latest = hard[i];
        }
        double wait = at - now();
        if (wait < 0)
            wait = 0;
        struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
        struct epoll_event ev;
        epoll_pwait2(ep, &ev, 1, &ts, NULL);
        wakes++;
    }
    fprintf(stderr, "%ld attempts, %ld wake-ups\n", attempts, wakes);
    return 0;
}
