/* snnc runtime: board-in-the-loop harness; protocol in snnc_uart.h. */
#include "snnc_uart.h"

#include <stddef.h>

#include "model.h"
#include "snnc_uart_config.h"

#define SNNC_UART_STEP_BYTES (1u + (uint32_t)SNNC_INPUT_SIZE * (uint32_t)sizeof(snnc_input_t))

static snnc_input_t snnc_uart_x[SNNC_INPUT_SIZE];

typedef struct {
    const snnc_uart_port *port;
    uint16_t crc;
} snnc_uart_tx;

uint16_t snnc_uart_crc(uint16_t crc, const uint8_t *data, uint32_t n)
{
    for (uint32_t i = 0; i < n; ++i) {
        crc = (uint16_t)(crc ^ (uint16_t)((uint16_t)data[i] << 8));
        for (int bit = 0; bit < 8; ++bit) {
            crc = (crc & 0x8000u) != 0u ? (uint16_t)((uint16_t)(crc << 1) ^ 0x1021u)
                                        : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

static void snnc_uart_send(snnc_uart_tx *tx, const void *data, uint32_t n)
{
    const uint8_t *bytes = (const uint8_t *)data;
    tx->crc = snnc_uart_crc(tx->crc, bytes, n);
    for (uint32_t i = 0; i < n; ++i) {
        tx->port->put(bytes[i]);
    }
}

static void snnc_uart_send_u32(snnc_uart_tx *tx, uint32_t value)
{
    const uint8_t bytes[4] = {(uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
                              (uint8_t)(value >> 24)};
    snnc_uart_send(tx, bytes, 4u);
}

static snnc_uart_tx snnc_uart_begin(const snnc_uart_port *port, uint8_t type, uint32_t length)
{
    snnc_uart_tx tx = {port, 0xFFFFu};
    port->put(SNNC_UART_SYNC0);
    port->put(SNNC_UART_SYNC1);
    snnc_uart_send(&tx, &type, 1u);
    snnc_uart_send_u32(&tx, length);
    return tx;
}

static void snnc_uart_end(snnc_uart_tx *tx)
{
    const uint16_t crc = tx->crc;
    tx->port->put((uint8_t)crc);
    tx->port->put((uint8_t)(crc >> 8));
}

static void snnc_uart_error_reply(const snnc_uart_port *port, snnc_uart_error code)
{
    const uint8_t byte = (uint8_t)code;
    snnc_uart_tx tx = snnc_uart_begin(port, SNNC_UART_ERROR_REPLY, 1u);
    snnc_uart_send(&tx, &byte, 1u);
    snnc_uart_end(&tx);
}

static void snnc_uart_info_reply(const snnc_uart_port *port)
{
    const uint32_t fields[7] = {
        SNNC_UART_VERSION, SNNC_MODEL_ID, (uint32_t)SNNC_INPUT_SIZE,
        (uint32_t)sizeof(snnc_input_t), (uint32_t)SNNC_TIMESTEPS, (uint32_t)SNNC_PROBE_COUNT,
        port->cycles != NULL ? SNNC_UART_FLAG_CYCLES : 0u};
    snnc_uart_tx tx = snnc_uart_begin(port, SNNC_UART_INFO_REPLY,
                                      4u * (7u + 3u * (uint32_t)SNNC_PROBE_COUNT));
    for (int i = 0; i < 7; ++i) {
        snnc_uart_send_u32(&tx, fields[i]);
    }
    for (int32_t i = 0; i < SNNC_PROBE_COUNT; ++i) {
        snnc_uart_send_u32(&tx, (uint32_t)snnc_probes[i].count);
        snnc_uart_send_u32(&tx, (uint32_t)snnc_probes[i].elem_bytes);
        snnc_uart_send_u32(&tx, (uint32_t)snnc_probes[i].kind);
    }
    snnc_uart_end(&tx);
}

static void snnc_uart_reset_reply(const snnc_uart_port *port)
{
    const uint8_t status = (uint8_t)snnc_init();
    snnc_uart_tx tx = snnc_uart_begin(port, SNNC_UART_RESET_REPLY, 1u);
    snnc_uart_send(&tx, &status, 1u);
    snnc_uart_end(&tx);
}

static uint32_t snnc_probe_bytes(int32_t i)
{
    return (uint32_t)snnc_probes[i].count * (uint32_t)snnc_probes[i].elem_bytes;
}

static void snnc_uart_step_reply(const snnc_uart_port *port, uint8_t mode)
{
    const uint32_t start = port->cycles != NULL ? port->cycles() : 0u;
    const snnc_status status = snnc_step(snnc_uart_x, NULL);
    const uint32_t cycles = port->cycles != NULL ? port->cycles() - start : 0u;
    if (status != SNNC_OK) {
        snnc_uart_error_reply(port, SNNC_UART_MODEL_ERROR);
        return;
    }
    const int32_t probes = mode == SNNC_UART_MODE_PROBES ? SNNC_PROBE_COUNT : 1;
    uint32_t length = 5u;
    for (int32_t i = 0; i < probes; ++i) {
        length += snnc_probe_bytes(i);
    }
    const uint8_t ok = (uint8_t)SNNC_OK;
    snnc_uart_tx tx = snnc_uart_begin(port, SNNC_UART_STEP_REPLY, length);
    snnc_uart_send(&tx, &ok, 1u);
    snnc_uart_send_u32(&tx, cycles);
    for (int32_t i = 0; i < probes; ++i) {
        snnc_uart_send(&tx, snnc_probes[i].data, snnc_probe_bytes(i));
    }
    snnc_uart_end(&tx);
}

/* Reads n bytes into dst (may be NULL to only checksum them), updating crc. */
static uint16_t snnc_uart_receive(const snnc_uart_port *port, uint8_t *dst, uint32_t n,
                                  uint16_t crc)
{
    for (uint32_t i = 0; i < n; ++i) {
        const uint8_t byte = port->get();
        crc = snnc_uart_crc(crc, &byte, 1u);
        if (dst != NULL) {
            dst[i] = byte;
        }
    }
    return crc;
}

static void snnc_uart_sync(const snnc_uart_port *port)
{
    uint8_t previous = port->get();
    for (;;) {
        const uint8_t byte = port->get();
        if (previous == SNNC_UART_SYNC0 && byte == SNNC_UART_SYNC1) {
            return;
        }
        previous = byte;
    }
}

static uint32_t snnc_uart_expected_length(uint8_t type)
{
    return type == SNNC_UART_STEP ? SNNC_UART_STEP_BYTES : 0u;
}

void snnc_uart_serve_one(const snnc_uart_port *port)
{
    uint8_t head[5];
    snnc_uart_sync(port);
    uint16_t crc = snnc_uart_receive(port, head, 5u, 0xFFFFu);
    const uint8_t type = head[0];
    const uint32_t length = (uint32_t)head[1] | (uint32_t)head[2] << 8 | (uint32_t)head[3] << 16
                            | (uint32_t)head[4] << 24;
    const int known = type == SNNC_UART_INFO || type == SNNC_UART_RESET
                      || type == SNNC_UART_STEP;
    if (!known || length != snnc_uart_expected_length(type)) {
        /* the payload is not read: a corrupted length must not make the board wait for bytes
         * that never come; the next frame is found by its sync pair */
        snnc_uart_error_reply(port, known ? SNNC_UART_BAD_LENGTH : SNNC_UART_BAD_TYPE);
        return;
    }
    uint8_t mode = 0u;
    if (type == SNNC_UART_STEP) {
        crc = snnc_uart_receive(port, &mode, 1u, crc);
        crc = snnc_uart_receive(port, (uint8_t *)snnc_uart_x, SNNC_UART_STEP_BYTES - 1u, crc);
    }
    uint8_t sent[2];
    (void)snnc_uart_receive(port, sent, 2u, 0u);
    if (((uint16_t)sent[0] | (uint16_t)((uint16_t)sent[1] << 8)) != crc) {
        snnc_uart_error_reply(port, SNNC_UART_BAD_CRC);
        return;
    }
    if (type == SNNC_UART_INFO) {
        snnc_uart_info_reply(port);
    } else if (type == SNNC_UART_RESET) {
        snnc_uart_reset_reply(port);
    } else {
        snnc_uart_step_reply(port, mode);
    }
}

void snnc_uart_serve(const snnc_uart_port *port)
{
    for (;;) {
        snnc_uart_serve_one(port);
    }
}
