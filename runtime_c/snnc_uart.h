/* snnc runtime: the board-in-the-loop harness. A host (`snnc run`) streams inputs over a serial
 * line, one time step per frame, and reads the output (and optionally every probe) back, with
 * the cycles each step took when the port can count them. Not part of a deployed model: link
 * it next to the model library only for testing on the board.
 *
 * Porting: fill an snnc_uart_port with a blocking putc and getc on the board's UART (8N1, any
 * baud rate the host also uses) and, optionally, a free-running 32-bit cycle counter; then call
 * snnc_uart_serve(&port) from main. It never returns.
 *
 * Frame (both directions, every integer little-endian):
 *   0xA5 0x5A | type u8 | length u32 | payload[length] | crc u16
 * crc is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF) over type, length and payload.
 *
 * Requests (host -> board) and replies (board -> host):
 *   'I' info,  no payload     -> 'i': version, model id, input size, input element bytes,
 *                                timesteps, probe count, flags (bit 0: cycles counted), then per
 *                                probe its element count, element bytes and kind (u32 each)
 *   'R' reset, no payload     -> 'r': status u8 (snnc_init)
 *   'S' step,  mode u8 + one step of inputs (SNNC_INPUT_SIZE elements)
 *                             -> 'o': status u8, cycles u32, then the output probe (mode 0) or
 *                                every probe in snnc_probes order (mode 1)
 *   anything malformed        -> 'e': error code u8 (snnc_uart_error), then the board waits for
 *                                the next 0xA5 0x5A
 */
#ifndef SNNC_UART_H
#define SNNC_UART_H

#include <stdint.h>

typedef struct {
    void (*put)(uint8_t byte); /* blocks until the byte is accepted */
    uint8_t (*get)(void);      /* blocks until a byte arrives */
    uint32_t (*cycles)(void);  /* free-running cycle counter, or NULL when the port has none */
} snnc_uart_port;

#define SNNC_UART_VERSION 1u
#define SNNC_UART_SYNC0 0xA5u
#define SNNC_UART_SYNC1 0x5Au

enum {
    SNNC_UART_INFO = 'I',
    SNNC_UART_RESET = 'R',
    SNNC_UART_STEP = 'S',
    SNNC_UART_INFO_REPLY = 'i',
    SNNC_UART_RESET_REPLY = 'r',
    SNNC_UART_STEP_REPLY = 'o',
    SNNC_UART_ERROR_REPLY = 'e'
};

typedef enum {
    SNNC_UART_BAD_CRC = 1,      /* the checksum did not match: the frame was dropped */
    SNNC_UART_BAD_LENGTH = 2,   /* a payload length the request type does not have */
    SNNC_UART_BAD_TYPE = 3,     /* an unknown request type */
    SNNC_UART_MODEL_ERROR = 4   /* snnc_step reported an error */
} snnc_uart_error;

#define SNNC_UART_FLAG_CYCLES 1u
#define SNNC_UART_MODE_OUTPUT 0u
#define SNNC_UART_MODE_PROBES 1u

/* CRC-16/CCITT-FALSE of n bytes, continuing from crc (start with 0xFFFF). */
uint16_t snnc_uart_crc(uint16_t crc, const uint8_t *data, uint32_t n);

/* Answers requests forever. */
void snnc_uart_serve(const snnc_uart_port *port);

/* One request: reads a frame (skipping bytes until the sync pair) and writes its reply. */
void snnc_uart_serve_one(const snnc_uart_port *port);

#endif /* SNNC_UART_H */
