/* snnc runtime: the test harness shared by the host and the QEMU runner (not part of a
 * deployed model). It streams inputs in and every probe (output, spikes, membranes) out, so a
 * run can be compared step by step with the integer reference.
 *
 * Input stream:  uint32 magic "SNNI", version, steps, batch, input size, input element bytes;
 *                then batch x steps x SNNC_INPUT_SIZE input elements (sample-major).
 * Output stream: uint32 magic "SNNO", version, steps, batch, probe count, then per probe its
 *                element count, element bytes, phase and once flag; then for each sample, in
 *                the order the model runs them (snnc_observe): for each phase, each step's
 *                step probes of that phase, then the phase's once-per-inference probes. Every
 *                integer is little-endian, as on the host and on Cortex-M.
 */
#ifndef SNNC_HARNESS_H
#define SNNC_HARNESS_H

#include <stdint.h>

typedef struct {
    int (*read)(void *ctx, void *buf, uint32_t bytes);        /* 0 on success */
    int (*write)(void *ctx, const void *buf, uint32_t bytes); /* 0 on success */
    void *ctx;
} snnc_io;

enum {
    SNNC_HARNESS_OK = 0,
    SNNC_HARNESS_IO_ERROR = 3,     /* a read or write failed (short file, disk full) */
    SNNC_HARNESS_BAD_INPUT = 4,    /* wrong magic, version or input size */
    SNNC_HARNESS_MODEL_ERROR = 5   /* snnc_init or snnc_step reported an error */
};

#define SNNC_HARNESS_IN_MAGIC 0x494E4E53u  /* "SNNI" */
#define SNNC_HARNESS_OUT_MAGIC 0x4F4E4E53u /* "SNNO" */
#define SNNC_HARNESS_VERSION 2u

/* Runs every sample of the input stream; *samples receives how many completed. */
int snnc_harness_run(const snnc_io *io, uint32_t *samples);

#endif /* SNNC_HARNESS_H */
