/*
 * isobench-udp-echo: sends every UDP datagram it receives back to its sender, unchanged. The
 * guest's end of the migration suite's 1 ms echo probe (the client namespace sends, this answers,
 * the client times the gaps).
 *
 *   isobench-udp-echo ADDRESS PORT
 *
 * It binds to ADDRESS:PORT only (a test address, never 0.0.0.0) and runs until it is killed.
 * Exit codes: 2 for bad arguments, 1 when the socket cannot be set up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    struct sockaddr_in local;
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    char *end = NULL;
    long port = argc == 3 ? strtol(argv[2], &end, 10) : -1;
    if (argc != 3 || inet_pton(AF_INET, argv[1], &local.sin_addr) != 1 || !end || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "usage: isobench-udp-echo ADDRESS PORT\n");
        return 2;
    }
    local.sin_port = htons((unsigned short)port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        perror("isobench-udp-echo");
        return 1;
    }
    unsigned char buffer[2048];
    for (;;) {
        struct sockaddr_in peer;
        socklen_t peer_length = sizeof peer;
        ssize_t length = recvfrom(fd, buffer, sizeof buffer, 0, (struct sockaddr *)&peer, &peer_length);
        if (length < 0) {
            if (errno == EINTR) continue;
            perror("isobench-udp-echo: recvfrom");
            return 1;
        }
        /* A reply that cannot be sent (a full queue) is a lost echo: the client counts it. */
        (void)sendto(fd, buffer, (size_t)length, 0, (struct sockaddr *)&peer, peer_length);
    }
}
