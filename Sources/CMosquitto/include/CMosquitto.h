// C at the edge: libmosquitto (imported directly; its API has no macros or variadics Swift cannot call) plus the few
// pieces Swift cannot do alone. Every symbol of ours is prefixed CMosquitto_. Functions return 0 or a count on
// success; the mosquitto ones return a MOSQ_ERR_* code, the netlink ones -errno.
#ifndef CMosquitto_H
#define CMosquitto_H

#include <mosquitto.h>
#include <mqtt_protocol.h>

/// Stores MQTT 5 CONNECT properties (session expiry interval) for every later connect, without connecting.
///
/// libmosquitto 2.0 keeps CONNECT properties only through mosquitto_connect_bind_v5, which connects *blocking* (a
/// black-holed broker address would hang the caller for minutes). It stores the properties before it validates its
/// arguments, so a call with a keepalive it rejects (1 s) stores them and returns MOSQ_ERR_INVAL without touching
/// the network; mosquitto_connect_bind_async and mosquitto_reconnect_async then send them. The MQTTUplink tests
/// check the effect (a kept session is reported present after a reconnect). Returns MOSQ_ERR_SUCCESS or the error.
int CMosquitto_storeConnectProperties(struct mosquitto *mosq, const char *host, int port,
                                      const mosquitto_property *properties);

// TLS towards the broker. libmosquitto 2.0 checks the broker's name itself and falls back to the certificate's CN
// when it finds no DNS name in the subjectAltName; RFC 6125 (and every browser) refuses that. The client's own
// OpenSSL context adds OpenSSL's check of the subjectAltName alone, and keeps OpenSSL's reason for a refusal.

/// The OpenSSL context given to libmosquitto, and the reason of the last refused certificate.
struct CMosquitto_TLS;

/// Creates an OpenSSL client context and hands it to `mosq` (MOSQ_OPT_SSL_CTX with MOSQ_OPT_SSL_CTX_WITH_DEFAULTS,
/// so libmosquitto still applies mosquitto_tls_set's files and mosquitto_tls_opts_set's options to it).
/// `peerName` (the broker's host name or IP address literal) must appear in the certificate's subjectAltName, a CN
/// alone is not enough; NULL checks no name. Returns NULL with `*result` set to the MOSQ_ERR_* code on failure. Free
/// with CMosquitto_tlsFree after mosquitto_destroy.
struct CMosquitto_TLS *CMosquitto_tlsCreate(struct mosquitto *mosq, const char *peerName, int *result);

/// OpenSSL's reason for the last refused broker certificate ("IP address mismatch", "certificate has expired"...),
/// or "" when none was refused since the last CMosquitto_tlsClearVerifyError. Read it on the thread that runs the
/// libmosquitto loop (the verification runs there).
const char *CMosquitto_tlsVerifyError(const struct CMosquitto_TLS *tls);
void CMosquitto_tlsClearVerifyError(struct CMosquitto_TLS *tls);
void CMosquitto_tlsFree(struct CMosquitto_TLS *tls);

// Netlink route monitoring for LinkWatcher. It lives here because MQTTUplink may import only this C module; it is
// the uplink's view of the vehicle's network (link, address and route changes), nothing else.

/// Opens a NETLINK_ROUTE socket subscribed to link, IPv4/IPv6 address and IPv4/IPv6 route changes.
/// Returns the descriptor (close-on-exec, non-blocking), or -errno.
int CMosquitto_openRouteMonitor(void);

/// Waits at most `timeout_ms` for route-monitor messages and reads every one that is queued. Returns how many were
/// link, address or route changes (0 on timeout), or -errno. -ENOBUFS means the kernel dropped messages: treat it
/// as "something changed".
int CMosquitto_readRouteChanges(int fd, int timeout_ms);

#endif
