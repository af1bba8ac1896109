#define _GNU_SOURCE
#include "CSocketCAN.h"

#include <errno.h>
#include <libsocketcan.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct can_frame) == 16, "struct can_frame layout");
_Static_assert(sizeof(struct canfd_frame) == 72, "struct canfd_frame layout");
_Static_assert(CAN_MTU == 16 && CANFD_MTU == 72, "CAN MTUs");

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

int CSocketCAN_open(const char *interface, int enable_fd) {
    int fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0) return -errno;
    int on = 1;
    if (enable_fd && setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof on) < 0) goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) goto fail;
    // Not fatal: old kernels lack it, and then drops are simply not counted.
    (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
    // A larger receive queue rides out bursts while the reader thread is descheduled: forced past rmem_max where
    // the process may (CAP_NET_ADMIN), else as large as rmem_max allows. Not fatal either way.
    int receive_buffer = 1 << 20;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) < 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    struct sockaddr_can address;
    memset(&address, 0, sizeof address);
    address.can_family = AF_CAN;
    if (interface && interface[0]) {
        unsigned index = if_nametoindex(interface);
        if (index == 0) { errno = ENODEV; goto fail; }
        address.can_ifindex = (int)index;
    }
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) goto fail;
    return fd;
fail:;
    int error = errno;
    close(fd);
    return -error;
}

int CSocketCAN_setFilters(int fd, const uint32_t *ids, const uint32_t *masks, int count) {
    if (count < 0 || count > 4096) return -EINVAL;
    struct can_filter filters[count > 0 ? count : 1];
    for (int i = 0; i < count; i++) {
        filters[i].can_id = ids[i];
        filters[i].can_mask = masks[i];
    }
    if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, count > 0 ? filters : NULL,
                   (socklen_t)(sizeof(struct can_filter) * (size_t)count)) < 0)
        return -errno;
    return 0;
}

int CSocketCAN_setErrorFilter(int fd, uint32_t mask) {
    can_err_mask_t value = mask & CAN_ERR_MASK;
    if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &value, sizeof value) < 0) return -errno;
    return 0;
}

enum { batch_limit = 64 };

int CSocketCAN_receiveBatch(int fd, CSocketCAN_Frame *frames, int capacity, int timeout_ms) {
    if (capacity <= 0) return 0;
    if (capacity > batch_limit) capacity = batch_limit;
    struct pollfd waiter = {.fd = fd, .events = POLLIN};
    int ready;
    do {
        ready = poll(&waiter, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return -errno;
    if (ready == 0) return 0;
    if (waiter.revents & (POLLERR | POLLNVAL)) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
        return -(error ? error : ENETDOWN);
    }

    struct canfd_frame buffers[batch_limit];
    struct iovec vectors[batch_limit];
    struct mmsghdr messages[batch_limit];
    struct sockaddr_can sources[batch_limit];
    char control[batch_limit][CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(uint32_t))];
    memset(messages, 0, sizeof(struct mmsghdr) * (size_t)capacity);
    for (int i = 0; i < capacity; i++) {
        vectors[i].iov_base = &buffers[i];
        vectors[i].iov_len = sizeof buffers[i];
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        messages[i].msg_hdr.msg_name = &sources[i];
        messages[i].msg_hdr.msg_namelen = sizeof sources[i];
        messages[i].msg_hdr.msg_control = control[i];
        messages[i].msg_hdr.msg_controllen = sizeof control[i];
    }
    int count;
    do {
        count = recvmmsg(fd, messages, (unsigned)capacity, MSG_DONTWAIT, NULL);
    } while (count < 0 && errno == EINTR);
    if (count < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;

    for (int i = 0; i < count; i++) {
        CSocketCAN_Frame *out = &frames[i];
        memset(out, 0, sizeof *out);
        const struct canfd_frame *in = &buffers[i];
        out->can_id = in->can_id;
        out->interface_index = sources[i].can_ifindex;
        if (messages[i].msg_len == CANFD_MTU) {
            out->is_fd = 1;
            out->flags = in->flags;
            out->len = in->len > 64 ? 64 : in->len;
        } else {
            const struct can_frame *classic = (const struct can_frame *)in;
            out->len = classic->len > 8 ? 8 : classic->len;
            if (classic->len == 8 && classic->len8_dlc > 8 && classic->len8_dlc <= 15) out->len8_dlc = classic->len8_dlc;
        }
        if (!(in->can_id & CAN_RTR_FLAG)) memcpy(out->data, in->data, out->len);
        for (struct cmsghdr *header = CMSG_FIRSTHDR(&messages[i].msg_hdr); header;
             header = CMSG_NXTHDR(&messages[i].msg_hdr, header)) {
            if (header->cmsg_level != SOL_SOCKET) continue;
            if (header->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec stamp;
                memcpy(&stamp, CMSG_DATA(header), sizeof stamp);
                out->timestamp_sec = stamp.tv_sec;
                out->timestamp_nsec = (int32_t)stamp.tv_nsec;
            } else if (header->cmsg_type == SO_RXQ_OVFL) {
                memcpy(&out->dropped_total, CMSG_DATA(header), sizeof out->dropped_total);
            }
        }
    }
    return count;
}

int CSocketCAN_send(int fd, const CSocketCAN_Frame *frame, int timeout_ms) {
    struct canfd_frame out;
    memset(&out, 0, sizeof out);
    out.can_id = frame->can_id;
    size_t size;
    if (frame->is_fd) {
        out.len = frame->len > 64 ? 64 : frame->len;
        out.flags = frame->flags;
        memcpy(out.data, frame->data, out.len);
        size = CANFD_MTU;
    } else {
        struct can_frame *classic = (struct can_frame *)&out;
        classic->len = frame->len > 8 ? 8 : frame->len;
        if (classic->len == 8 && frame->len8_dlc > 8) classic->len8_dlc = frame->len8_dlc;
        if (!(frame->can_id & CAN_RTR_FLAG)) memcpy(classic->data, frame->data, classic->len);
        size = CAN_MTU;
    }
    struct pollfd waiter = {.fd = fd, .events = POLLOUT};
    int ready;
    do {
        ready = poll(&waiter, 1, timeout_ms);
    } while (ready < 0 && errno == EINTR);
    if (ready < 0) return -errno;
    if (ready == 0) return -ETIMEDOUT;
    ssize_t written;
    do {
        written = write(fd, &out, size);
    } while (written < 0 && errno == EINTR);
    if (written < 0) return -errno;
    if ((size_t)written != size) return -EIO;
    return 0;
}

int CSocketCAN_interfaceIndex(const char *interface) {
    unsigned index = if_nametoindex(interface);
    return index ? (int)index : -ENODEV;
}

int CSocketCAN_interfaceFlags(const char *interface, int *is_up, int *is_running, int *mtu) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) fd = socket(PF_CAN, SOCK_RAW | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0) return -errno;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    strncpy(request.ifr_name, interface, IFNAMSIZ - 1);
    int result = 0;
    if (ioctl(fd, SIOCGIFFLAGS, &request) < 0) {
        result = -errno;
    } else {
        *is_up = (request.ifr_flags & IFF_UP) != 0;
        *is_running = (request.ifr_flags & IFF_RUNNING) != 0;
        if (ioctl(fd, SIOCGIFMTU, &request) == 0) *mtu = request.ifr_mtu;
    }
    close(fd);
    return result;
}

int CSocketCAN_interfaceName(int index, char *name) {
    return if_indextoname((unsigned)index, name) ? 0 : -ENODEV;
}

void CSocketCAN_close(int fd) { close(fd); }

int CSocketCAN_getState(const char *interface, int *state) {
    return can_get_state(interface, state) == 0 ? 0 : -EOPNOTSUPP;
}

int CSocketCAN_getErrorCounters(const char *interface, uint16_t *tx_errors, uint16_t *rx_errors) {
    struct can_berr_counter counters;
    if (can_get_berr_counter(interface, &counters) != 0) return -EOPNOTSUPP;
    *tx_errors = counters.txerr;
    *rx_errors = counters.rxerr;
    return 0;
}

int CSocketCAN_getBitrate(const char *interface, uint32_t *bitrate, uint32_t *sample_point) {
    struct can_bittiming timing;
    if (can_get_bittiming(interface, &timing) != 0) return -EOPNOTSUPP;
    *bitrate = timing.bitrate;
    *sample_point = timing.sample_point;
    return 0;
}

int CSocketCAN_restart(const char *interface) {
    return can_do_restart(interface) == 0 ? 0 : -EOPNOTSUPP;
}
