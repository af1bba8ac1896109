// C at the edge: SocketCAN and libsocketcan calls that Swift cannot make directly (macros, variadic ioctl,
// CMSG_* control-message parsing, recvmmsg batches). Every symbol is prefixed CSocketCAN_. Functions return 0 or a
// count on success and -errno on failure, so Swift never reads errno after other calls have changed it.
#ifndef CSOCKETCAN_H
#define CSOCKETCAN_H

#include <stdint.h>

/// One frame as it crosses the C boundary: classic or FD, with the kernel's receive time.
typedef struct {
    /// `can_id` as the kernel has it: id plus CAN_EFF_FLAG / CAN_RTR_FLAG / CAN_ERR_FLAG.
    uint32_t can_id;
    /// Payload length (0...64); for remote frames the requested DLC.
    uint8_t len;
    /// CAN FD flags (CANFD_BRS, CANFD_ESI, CANFD_FDF).
    uint8_t flags;
    /// Raw DLC 9...15 of a classic 8-byte frame, else 0.
    uint8_t len8_dlc;
    /// 1 when the frame is CAN FD (read as, or to be sent as, struct canfd_frame).
    uint8_t is_fd;
    /// Kernel receive time (SO_TIMESTAMPNS), or 0 when the kernel gave none.
    int64_t timestamp_sec;
    int32_t timestamp_nsec;
    /// The socket's cumulative count of frames the kernel dropped (SO_RXQ_OVFL) when this one arrived.
    uint32_t dropped_total;
    /// Index of the interface the frame arrived on (sockets bound to every interface see several).
    int32_t interface_index;
    uint8_t data[64];
} CSocketCAN_Frame;

/// Opens a raw CAN socket bound to `interface` (an empty name binds to every CAN interface), with FD frames,
/// kernel receive timestamps and overflow counting enabled, receiving its own sent frames off.
/// Returns the descriptor, or -errno.
int CSocketCAN_open(const char *interface, int enable_fd);

/// Kernel id filters (CAN_RAW_FILTER): `count` pairs of id and mask; count 0 receives nothing but error frames.
int CSocketCAN_setFilters(int fd, const uint32_t *ids, const uint32_t *masks, int count);

/// Which error classes to receive as error frames (CAN_RAW_ERR_FILTER; CAN_ERR_MASK for all).
int CSocketCAN_setErrorFilter(int fd, uint32_t mask);

/// Receives up to `capacity` frames with one recvmmsg, waiting at most `timeout_ms` (-1: forever) for the first.
/// Returns the number of frames (0 on timeout), or -errno (-ENETDOWN when the interface went down).
int CSocketCAN_receiveBatch(int fd, CSocketCAN_Frame *frames, int capacity, int timeout_ms);

/// Sends one frame, waiting at most `timeout_ms` for room in the queue. -ENOBUFS when the driver queue is full,
/// -ETIMEDOUT when the socket stayed unwritable.
int CSocketCAN_send(int fd, const CSocketCAN_Frame *frame, int timeout_ms);

/// Interface index (if_nametoindex), or -ENODEV.
int CSocketCAN_interfaceIndex(const char *interface);

/// Whether the interface is administratively up (IFF_UP) and running (IFF_RUNNING); -errno when it is unknown.
int CSocketCAN_interfaceFlags(const char *interface, int *is_up, int *is_running, int *mtu);

/// The name of the interface with this index, written into `name` (at least 16 bytes); -ENODEV if none.
int CSocketCAN_interfaceName(int index, char *name);

/// Closes the descriptor.
void CSocketCAN_close(int fd);

// libsocketcan: controller state, error counters, bit timing, restart. Virtual (vcan) interfaces do not support
// these: the calls fail and the caller degrades quietly.

/// CAN_STATE_* (0 error-active, 1 warning, 2 passive, 3 bus-off, 4 stopped, 5 sleeping).
int CSocketCAN_getState(const char *interface, int *state);
int CSocketCAN_getErrorCounters(const char *interface, uint16_t *tx_errors, uint16_t *rx_errors);
int CSocketCAN_getBitrate(const char *interface, uint32_t *bitrate, uint32_t *sample_point);
int CSocketCAN_restart(const char *interface);

#endif
