#define _GNU_SOURCE
#include "CMosquitto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
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

// TLS: RFC 6125 name checks and OpenSSL's reason for a refused certificate

struct CMosquitto_TLS {
    SSL_CTX *context;
    /// OpenSSL's verify error of the last refused broker certificate ("IP address mismatch"), "" when none.
    char verifyError[160];
};

/// OpenSSL's verdict, unchanged.
static int CMosquitto_keepVerdict(int ok, X509_STORE_CTX *store) {
    (void)store;
    return ok;
}

/// Verifies the broker's chain and name with OpenSSL alone, and keeps the reason when it fails: libmosquitto only
/// logs "certificate verify failed", and the SSL object that knows more is gone by the time the caller hears of it.
///
/// libmosquitto 2.0.11's own verify callback (installed on every connect) is replaced for this verification: it finds
/// its client through an ex_data index that libmosquitto creates only along with a context of its own
/// (net__init_tls), so with ours it finds none and refuses every certificate; and its name check accepts a CN.
static int CMosquitto_verifyAndRemember(X509_STORE_CTX *store, void *argument) {
    struct CMosquitto_TLS *tls = argument;
    X509_STORE_CTX_set_verify_cb(store, CMosquitto_keepVerdict);
    int ok = X509_verify_cert(store);
    if (ok <= 0) {
        snprintf(tls->verifyError, sizeof tls->verifyError, "%s",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
    }
    return ok;
}

struct CMosquitto_TLS *CMosquitto_tlsCreate(struct mosquitto *mosq, const char *peerName, int *result) {
    *result = MOSQ_ERR_NOMEM;
    struct CMosquitto_TLS *tls = calloc(1, sizeof *tls);
    if (tls == NULL) return NULL;
    tls->context = SSL_CTX_new(TLS_client_method());
    if (tls->context == NULL) {
        free(tls);
        *result = MOSQ_ERR_TLS;
        return NULL;
    }
    if (peerName != NULL) {
        X509_VERIFY_PARAM *parameters = SSL_CTX_get0_param(tls->context);
        // RFC 6125: the subjectAltName only. Without this flag OpenSSL falls back to the subject's CN when the
        // certificate has no DNS names.
        X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
        // An address is matched against the SAN's IP entries; set1_host would look for it among the DNS names
        // and refuse every certificate that names the broker by address.
        unsigned char address[16];
        int isAddress = inet_pton(AF_INET, peerName, address) == 1 || inet_pton(AF_INET6, peerName, address) == 1;
        int set = isAddress ? X509_VERIFY_PARAM_set1_ip_asc(parameters, peerName)
                            : X509_VERIFY_PARAM_set1_host(parameters, peerName, 0);
        if (set != 1) {
            SSL_CTX_free(tls->context);
            free(tls);
            *result = MOSQ_ERR_INVAL;
            return NULL;
        }
    }
    SSL_CTX_set_cert_verify_callback(tls->context, CMosquitto_verifyAndRemember, tls);
    // libmosquitto takes a reference of its own (freed in mosquitto_destroy) and, with the defaults on, still
    // applies the TLS version and loads the CA file, the client certificate and its key into it.
    int rc = mosquitto_int_option(mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 1);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_void_option(mosq, MOSQ_OPT_SSL_CTX, tls->context);
    if (rc != MOSQ_ERR_SUCCESS) {
        SSL_CTX_free(tls->context);
        free(tls);
        *result = rc;
        return NULL;
    }
    *result = MOSQ_ERR_SUCCESS;
    return tls;
}

const char *CMosquitto_tlsVerifyError(const struct CMosquitto_TLS *tls) {
    return tls->verifyError;
}

void CMosquitto_tlsClearVerifyError(struct CMosquitto_TLS *tls) {
    tls->verifyError[0] = '\0';
}

void CMosquitto_tlsFree(struct CMosquitto_TLS *tls) {
    if (tls == NULL) return;
    SSL_CTX_free(tls->context);
    free(tls);
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
