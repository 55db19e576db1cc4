/* snnc runtime: fully connected synapses, dense and event-driven.
 *
 * y = (x @ W.T) * 2^shift + b over the last axis of a (rows, n_in) tensor, W the int8
 * mantissas of weights with exponent shift (0 without one): a kernel with a shift argument
 * sums the mantissas and applies the shift and the bias itself (snnc_shift_bias_*), shift 0
 * starts the sums at the bias. Two ways to compute it:
 * - dense: every weight of W (n_out, n_in, row-major) is multiplied with its input. The int8
 *   input / int32 output case uses the Cortex-M DSP instruction SMLAD (two 16-bit MACs per
 *   instruction) when the compiler targets a core that has it.
 * - event-driven: only the active inputs (non-zero, listed once per step by snnc_events_s8) add
 *   their weight column. Columns are stored either densely (W transposed, n_in x n_out) or
 *   compressed (CSR by input: row_ptr, cols, vals). Work is proportional to the spike count.
 * Accumulators have the output's type; the compiler chose that type so no partial sum overflows.
 */
#ifndef SNNC_DENSE_H
#define SNNC_DENSE_H

#include "snnc_types.h"

/* The output types of the event-driven kernels (their input is always int8 spikes/levels). */
#define SNNC_EVENT_TYPES(M) M(s32, int32_t) M(s64, int64_t)

#define SNNC_DENSE_PROTO(X, XT, Y, YT)                                                        \
    void SNNC_CAT3(snnc_dense, X, Y)(const XT *x, const int8_t *w, const int32_t *bias,       \
                                     YT *y, int32_t rows, int32_t n_in, int32_t n_out,         \
                                     int32_t shift)

/* x == NULL: binary events (every listed input is 1), no multiplication. */
#define SNNC_EVENT_DENSE_PROTO(Y, YT)                                                         \
    void SNNC_CAT2(snnc_event_dense, Y)(const uint16_t *idx, int32_t count, const int8_t *x,  \
                                        const int8_t *wt, const int32_t *bias, YT *y,          \
                                        int32_t rows, int32_t n_in, int32_t n_out,             \
                                        int32_t shift)

#define SNNC_EVENT_CSR_PROTO(Y, YT)                                                           \
    void SNNC_CAT2(snnc_event_csr, Y)(const uint16_t *idx, int32_t count, const int8_t *x,    \
                                      const int32_t *row_ptr, const uint16_t *cols,           \
                                      const int8_t *vals, const int32_t *bias, YT *y,          \
                                      int32_t rows, int32_t n_in, int32_t n_out)

/* The int8 -> int32 kernels (spiking and QNN layers alike) are hand-written, with Helium and
 * DSP code paths (see snnc_dense.c), and take a scratch area.
 *
 * snnc_dense_s8_s32: W row-major (n_out, n_in); scratch unused (may be NULL). The layout of
 * cores with Helium or without DSP.
 *
 * snnc_dense_blk4_s8_s32: W blocked for SMLAD, the layout of cores with the DSP extension.
 * Rows 4b..4b+3 form block b: for each group g of four inputs, 16 bytes (row 4b's weights
 * 4g..4g+3, then row 4b+1's, ...), then the four rows' last n_in % 4 weights, row by row;
 * the n_out % 4 rows after the last block follow row-major. Every block is a multiple of four
 * bytes long, so with a word-aligned W every block is word-aligned. scratch holds the input
 * widened to 16-bit pairs, SNNC_DENSE_SCRATCH(n_in) words, filled once per row of x. */
#define SNNC_DENSE_SCRATCH(n_in) ((((n_in) + 3) / 4) * 2)
void snnc_dense_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                       int32_t rows, int32_t n_in, int32_t n_out, int32_t *scratch,
                       int32_t shift);
void snnc_dense_blk4_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                            int32_t rows, int32_t n_in, int32_t n_out, int32_t *scratch,
                            int32_t shift);

/* Event-driven, binary events, dense columns (W transposed) whose partial sums the compiler
 * proved to fit int16: every sum of a subset of one output's weights lies in
 * [-32768, 32767]. The sums are kept two to a word in acc (SNNC_EVENT16_SCRATCH(n_out)
 * words), which halves the work per event on cores with DSP or Helium. */
#define SNNC_EVENT16_SCRATCH(n_out) ((((n_out) + 7) / 8) * 4)
void snnc_event_dense16_s32(const uint16_t *idx, int32_t count, const int8_t *wt,
                            const int32_t *bias, int32_t *y, int32_t rows, int32_t n_in,
                            int32_t n_out, int32_t *acc, int32_t shift);

/* Event-driven on CSR columns whose column indices are 32-bit words, the CSR layout of cores
 * with the DSP extension (one LDRD fetches two synapses' columns: 3.75 instructions per
 * synapse against 4.25 with 16-bit indices, for two more bytes of flash per synapse).
 * row_ptr and vals as in snnc_event_csr_s32; vals has three zero bytes after its last weight
 * (the DSP code reads a row's last n % 4 weights as one word). */
void snnc_event_csr32_s32(const uint16_t *idx, int32_t count, const int8_t *x,
                          const int32_t *row_ptr, const uint32_t *cols, const int8_t *vals,
                          const int32_t *bias, int32_t *y, int32_t rows, int32_t n_in,
                          int32_t n_out);

#define SNNC_DENSE_DECLARE_(X, XT, Y, YT) SNNC_DENSE_PROTO(X, XT, Y, YT);
#define SNNC_EVENT_DECLARE_(Y, YT) SNNC_EVENT_DENSE_PROTO(Y, YT); SNNC_EVENT_CSR_PROTO(Y, YT);
SNNC_DENSE_DECLARE_(s8, int8_t, s64, int64_t)
SNNC_DENSE_DECLARE_(s32, int32_t, s32, int32_t)
SNNC_DENSE_DECLARE_(s32, int32_t, s64, int64_t)
SNNC_DENSE_DECLARE_(s64, int64_t, s32, int32_t)
SNNC_DENSE_DECLARE_(s64, int64_t, s64, int64_t)
SNNC_EVENT_TYPES(SNNC_EVENT_DECLARE_)

/* Writes the flat indices of the non-zero entries of x[0..n) in ascending order to idx and
 * returns their number: the address-event list of one step. */
int32_t snnc_events_s8(const int8_t *x, int32_t n, uint16_t *idx);

/* Sets each of the rows x n_out outputs to its bias (or 0). */
#define SNNC_FILL_BIAS_PROTO(Y, YT)                                                           \
    void SNNC_CAT2(snnc_fill_bias, Y)(YT *y, const int32_t *bias, int32_t rows, int32_t n_out)
#define SNNC_FILL_DECLARE_(Y, YT) SNNC_FILL_BIAS_PROTO(Y, YT);
SNNC_EVENT_TYPES(SNNC_FILL_DECLARE_)

#endif /* SNNC_DENSE_H */
