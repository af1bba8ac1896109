#define _GNU_SOURCE
#include "CMosquitto.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

_Static_assert(sizeof(struct sockaddr_nl) == 12, "struct sockaddr_nl layout");

int CMosquitto_storeConnectProperties(struct mosquitto *mosq, const char *host, int port,
                                      const mosquitto_property *properties) {
    // Validate first, so the MOSQ_ERR_INVAL below can only be the deliberate keepalive rejection.
    int rc = mosquitto_property_check_all(CMD_CONNECT, properties);
    if (rc != MOSQ_ERR_SUCCESS) return rc;
    rc = mosquitto_connect_bind_v5(mosq, host, port, 1, NULL, properties);
    if (rc == MOSQ_ERR_INVAL) return MOSQ_ERR_SUCCESS;
    // Anything else means this libmosquitto validates differently: it may even have connected. Say so.
    return rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_NOT_SUPPORTED : rc;
}

int CMosquitto_openRouteMonitor(void) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct sockaddr_nl address;
    memset(&address, 0, sizeof address);
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    return fd;
}

int CMosquitto_readRouteChanges(int fd, int timeout_ms) {
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int ready;
    do {
        ready = poll(&pfd, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return -errno;
    if (ready == 0) return 0;
    int changes = 0;
    char buffer[16384] __attribute__((aligned(__alignof__(struct nlmsghdr))));
    for (;;) {
        ssize_t length = recv(fd, buffer, sizeof buffer, 0);
        if (length < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -errno;
        }
        if (length == 0) break;
        for (struct nlmsghdr *header = (struct nlmsghdr *)buffer; NLMSG_OK(header, length);
             header = NLMSG_NEXT(header, length)) {
            switch (header->nlmsg_type) {
            case RTM_NEWLINK: case RTM_DELLINK:
            case RTM_NEWADDR: case RTM_DELADDR:
            case RTM_NEWROUTE: case RTM_DELROUTE:
                changes++;
                break;
            default:
                break;
            }
        }
    }
    return changes;
}
