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
            || snnc_write_u32(io, (uint32_t)snnc_probes[i].elem_bytes) != 0) {
            return SNNC_HARNESS_IO_ERROR;
        }
    }
    return SNNC_HARNESS_OK;
}

static int snnc_write_probes(const snnc_io *io)
{
    for (int32_t i = 0; i < SNNC_PROBE_COUNT; ++i) {
        const snnc_probe *p = &snnc_probes[i];
        if (io->write(io->ctx, p->data, (uint32_t)p->count * (uint32_t)p->elem_bytes) != 0) {
            return SNNC_HARNESS_IO_ERROR;
        }
    }
    return SNNC_HARNESS_OK;
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
    int status = snnc_write_header(io, steps, batch);
    for (uint32_t b = 0; b < batch && status == SNNC_HARNESS_OK; ++b) {
        if (snnc_init() != SNNC_OK) {
            return SNNC_HARNESS_MODEL_ERROR;
        }
        for (uint32_t t = 0; t < steps && status == SNNC_HARNESS_OK; ++t) {
            if (io->read(io->ctx, snnc_harness_x, (uint32_t)sizeof snnc_harness_x) != 0) {
                return SNNC_HARNESS_IO_ERROR;
            }
            if (snnc_step(snnc_harness_x, NULL) != SNNC_OK) {
                return SNNC_HARNESS_MODEL_ERROR;
            }
            status = snnc_write_probes(io);
        }
        if (status == SNNC_HARNESS_OK) {
            *samples = b + 1;
        }
    }
    return status;
}
