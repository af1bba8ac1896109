// LD_PRELOAD shim for Debian's user-mode-linux 6.1 (linux.uml) on hosts whose XSAVE area is not the size UML
// was built for (2696 bytes: x87/SSE/AVX/AVX-512/PKRU).
//
// UML saves and restores each guest process's FPU/vector state with
// ptrace(PTRACE_{GET,SET}REGSET, pid, NT_X86_XSTATE, {buf, 2696}). The host kernel's SETREGSET accepts only a
// buffer of exactly its own user XSAVE size, so on a host with a larger area (Intel CPUs with AMX: ~11 KiB)
// every SETREGSET fails with EFAULT and the first guest process dies:
//   "userspace - ptrace set fp regs failed, errno = 14" / "Kernel panic - not syncing: Attempted to kill init!"
// This shim performs both calls with the host's full size and copies the part UML knows about, so x87, SSE,
// AVX and AVX-512 registers are still switched correctly between guest threads. State components that do not
// fit UML's buffer (AMX tiles, which no guest can enable anyway) are put back into their initial state.
// It changes nothing when the sizes already agree. Built and preloaded by run-in-guest.sh.
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#define BIG (64 * 1024)
#define XSTATE_BV_OFFSET 512
#define XCOMP_BV_OFFSET 520

typedef long (*ptrace_fn)(int, pid_t, void *, void *);
static ptrace_fn real_ptrace;
static unsigned char big[BIG] __attribute__((aligned(64)));

// Mask of xstate components (standard format) that lie entirely within the first `len` bytes. Cached: CPUID
// is slow in a virtual machine (each one exits to the hypervisor) and this runs on every guest context switch.
static uint64_t components_within(size_t len) {
    static size_t cached_len;
    static uint64_t cached_mask;
    if (len == cached_len) return cached_mask;
    uint64_t mask = 3; // x87 and SSE live in the 512-byte legacy area
    for (unsigned i = 2; i < 63; i++) {
        unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
        if (!__get_cpuid_count(0xD, i, &eax, &ebx, &ecx, &edx) || eax == 0) continue;
        if ((size_t)ebx + eax <= len) mask |= 1ull << i;
    }
    cached_len = len;
    cached_mask = mask;
    return mask;
}

long ptrace(enum __ptrace_request request, ...) {
    va_list ap;
    va_start(ap, request);
    pid_t pid = va_arg(ap, pid_t);
    void *addr = va_arg(ap, void *);
    void *data = va_arg(ap, void *);
    va_end(ap);
    if (!real_ptrace) real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");

    if ((request != PTRACE_GETREGSET && request != PTRACE_SETREGSET) || (uintptr_t)addr != NT_X86_XSTATE || !data)
        return real_ptrace(request, pid, addr, data);

    static size_t host_size; // the host's user XSAVE size, the same for every process
    struct iovec *caller = data;
    struct iovec full = {big, BIG};
    if (!host_size) {
        if (real_ptrace(PTRACE_GETREGSET, pid, addr, &full) < 0) return -1; // errno from the host
        host_size = full.iov_len;
    }
    if (caller->iov_len == host_size) return real_ptrace(request, pid, addr, data);

    size_t n = caller->iov_len < host_size ? caller->iov_len : host_size;
    if (request == PTRACE_GETREGSET) {
        if (real_ptrace(PTRACE_GETREGSET, pid, addr, &full) < 0) return -1;
        memcpy(caller->iov_base, big, n);
        caller->iov_len = n;
        return 0;
    }
    // SETREGSET: the caller's bytes, the rest in initial state, and the header saying so.
    memset(big, 0, host_size);
    memcpy(big, caller->iov_base, n);
    if (n >= XCOMP_BV_OFFSET + 8) {
        uint64_t bv;
        memcpy(&bv, big + XSTATE_BV_OFFSET, 8);
        bv &= components_within(n);
        memcpy(big + XSTATE_BV_OFFSET, &bv, 8);
        memset(big + XCOMP_BV_OFFSET, 0, 8); // standard (uncompacted) format
    }
    full.iov_len = host_size;
    return real_ptrace(PTRACE_SETREGSET, pid, addr, &full);
}
