/* snnc runtime: test harness; see snnc_harness.h. */
#include "snnc_harness.h"

#include <stddef.h>

#include "model.h"

static snnc_input_t snnc_harness_x[SNNC_INPUT_SIZE];

static int snnc_write_u32(const snnc_io *io, uint32_t value)
{
    return io->write(io->ctx, &value, (uint32_t)sizeof value);
}

static int snnc_write_header(const snnc_io *io, uint32_t steps, uint32_t batch)
{
    const uint32_t head[5] = {SNNC_HARNESS_OUT_MAGIC, SNNC_HARNESS_VERSION, steps, batch,
                              (uint32_t)SNNC_PROBE_COUNT};
    if (io->write(io->ctx, head, (uint32_t)sizeof head) != 0) {
        return SNNC_HARNESS_IO_ERROR;
    }
    for (int32_t i = 0; i < SNNC_PROBE_COUNT; ++i) {
        if (snnc_write_u32(io, (uint32_t)snnc_probes[i].count) != 0
            || snnc_write_u32(io, (uint32_t)snnc_probes[i].elem_bytes) != 0
            || snnc_write_u32(io, (uint32_t)snnc_probes[i].phase) != 0
            || snnc_write_u32(io, (uint32_t)snnc_probes[i].once) != 0) {
            return SNNC_HARNESS_IO_ERROR;
        }
    }
    return SNNC_HARNESS_OK;
}

typedef struct {
    const snnc_io *io;
    int status;
} snnc_harness_sink;

/* The observer: writes the probes that are current after this step or once-per-inference
 * point of this phase. */
static void snnc_write_probes(int32_t phase, int32_t once, void *ctx)
{
    snnc_harness_sink *sink = (snnc_harness_sink *)ctx;
    for (int32_t i = 0; i < SNNC_PROBE_COUNT && sink->status == SNNC_HARNESS_OK; ++i) {
        const snnc_probe *p = &snnc_probes[i];
        if (p->phase != phase || p->once != once) {
            continue;
        }
        if (sink->io->write(sink->io->ctx, p->data,
                            (uint32_t)p->count * (uint32_t)p->elem_bytes) != 0) {
            sink->status = SNNC_HARNESS_IO_ERROR;
        }
    }
}

int snnc_harness_run(const snnc_io *io, uint32_t *samples)
{
    uint32_t head[6];
    *samples = 0;
    if (io->read(io->ctx, head, (uint32_t)sizeof head) != 0) {
        return SNNC_HARNESS_IO_ERROR;
    }
    if (head[0] != SNNC_HARNESS_IN_MAGIC || head[1] != SNNC_HARNESS_VERSION
        || head[4] != (uint32_t)SNNC_INPUT_SIZE || head[5] != (uint32_t)sizeof(snnc_input_t)) {
        return SNNC_HARNESS_BAD_INPUT;
    }
    const uint32_t steps = head[2];
    const uint32_t batch = head[3];
    snnc_harness_sink sink = {io, snnc_write_header(io, steps, batch)};
    snnc_observe(snnc_write_probes, &sink);
    for (uint32_t b = 0; b < batch && sink.status == SNNC_HARNESS_OK; ++b) {
        if (snnc_init() != SNNC_OK) {
            return SNNC_HARNESS_MODEL_ERROR;
        }
        for (uint32_t t = 0; t < steps && sink.status == SNNC_HARNESS_OK; ++t) {
            if (io->read(io->ctx, snnc_harness_x, (uint32_t)sizeof snnc_harness_x) != 0) {
                return SNNC_HARNESS_IO_ERROR;
            }
            if (snnc_step(snnc_harness_x, NULL) != SNNC_OK) {
                return SNNC_HARNESS_MODEL_ERROR;
            }
        }
        if (sink.status == SNNC_HARNESS_OK && snnc_finish(NULL) != SNNC_OK) {
            return SNNC_HARNESS_MODEL_ERROR;
        }
        if (sink.status == SNNC_HARNESS_OK) {
            *samples = b + 1;
        }
    }
    snnc_observe(NULL, NULL);
    return sink.status;
}
