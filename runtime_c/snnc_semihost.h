/* snnc runtime: Arm semihosting calls for the QEMU harness (never linked into a deployed
 * model: BKPT 0xAB faults on a board without a debugger attached).
 *
 * Call convention: r0 = operation, r1 = pointer to the argument block, BKPT 0xAB; r0 = result.
 */
#ifndef SNNC_SEMIHOST_H
#define SNNC_SEMIHOST_H

#include <stdint.h>

enum {
    SNNC_SYS_OPEN = 0x01,
    SNNC_SYS_CLOSE = 0x02,
    SNNC_SYS_WRITE0 = 0x04,
    SNNC_SYS_WRITE = 0x05,
    SNNC_SYS_READ = 0x06,
    SNNC_SYS_GET_CMDLINE = 0x15,
    SNNC_SYS_EXIT = 0x18,
    SNNC_SYS_EXIT_EXTENDED = 0x20
};

/* ADP_Stopped_ApplicationExit: with SYS_EXIT_EXTENDED the second word is the exit status. */
#define SNNC_ADP_APPLICATION_EXIT 0x20026u

static inline int32_t snnc_semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static inline void snnc_semihost_print(const char *text)
{
    (void)snnc_semihost(SNNC_SYS_WRITE0, text);
}

/* Ends the emulation with an exit status QEMU passes on to its own process. */
static inline void snnc_semihost_exit(int status)
{
    const uint32_t block[2] = {SNNC_ADP_APPLICATION_EXIT, (uint32_t)status};
    (void)snnc_semihost(SNNC_SYS_EXIT_EXTENDED, block);
    (void)snnc_semihost(SNNC_SYS_EXIT, (const void *)(uintptr_t)SNNC_ADP_APPLICATION_EXIT);
    for (;;) {
    }
}

#endif /* SNNC_SEMIHOST_H */
