/*
 * The sender of linux_netns_forward_pps (bench/peers/linux_forward.ts): 64-byte frames
 * (14 Ethernet + 20 IPv4 + 8 UDP + 22 payload) to one address and port, sendmmsg batches of
 * BATCH from one connected UDP socket, for SECONDS. Prints "sent N seconds S" when done.
 * Built by the bench with the machine's cc; several run at once, one per core.
 *
 *   udp_blast DST_IP DST_PORT SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define PAYLOAD 22

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: udp_blast DST_IP DST_PORT SECONDS\n");
    return 2;
  }
  struct sockaddr_in dst;
  memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
    fprintf(stderr, "udp_blast: bad address %s\n", argv[1]);
    return 2;
  }
  double seconds = atof(argv[3]);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s < 0 || connect(s, (struct sockaddr *)&dst, sizeof dst) != 0) {
    perror("udp_blast: socket/connect");
    return 1;
  }
  int sndbuf = 4 << 20;
  setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  static char payload[PAYLOAD];
  static struct iovec iov[BATCH];
  static struct mmsghdr msgs[BATCH];
  for (int i = 0; i < BATCH; i++) {
    iov[i].iov_base = payload;
    iov[i].iov_len = PAYLOAD;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  double t0 = now(), t = t0;
  while (t - t0 < seconds) {
    for (int k = 0; k < 16; k++) {
      int n = sendmmsg(s, msgs, BATCH, 0);
      if (n > 0) sent += (unsigned long long)n;
    }
    t = now();
  }
  printf("sent %llu seconds %.6f\n", sent, t - t0);
  return 0;
}
