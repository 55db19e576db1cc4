/* snnc runtime: fully connected synapses; see snnc_dense.h. */
#include "snnc_dense.h"

#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#define SNNC_HAVE_SMLAD 1
#else
#define SNNC_HAVE_SMLAD 0
#endif

#if SNNC_HAVE_SMLAD
/* Four int8 values as one word; memcpy keeps the unaligned load defined (it becomes one LDR). */
static inline int32_t snnc_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Rotate right by 8 so that SXTB16 picks bytes 1 and 3 instead of 0 and 2. */
static inline int32_t snnc_ror8(int32_t v)
{
    const uint32_t u = (uint32_t)v;
    return (int32_t)((u >> 8) | (u << 24));
}

/* Two rows against the widened input: groups of four weights, two SMLAD per row each. Kept out
 * of line so that at -Os the inner loop's live values stay in registers (no spills). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void snnc_dot2_smlad(const int32_t *xs, const int8_t *w0, const int8_t *w1,
                            int32_t groups, int32_t *acc0, int32_t *acc1)
{
    int32_t a0 = *acc0;
    int32_t a1 = *acc1;
    for (; groups > 0; --groups, xs += 2, w0 += 4, w1 += 4) {
        const int32_t x02 = xs[0];
        const int32_t x13 = xs[1];
        const int32_t v0 = snnc_load4(w0);
        const int32_t v1 = snnc_load4(w1);
        a0 = __smlad(x02, __sxtb16(v0), a0);
        a1 = __smlad(x02, __sxtb16(v1), a1);
        a0 = __smlad(x13, __sxtb16(snnc_ror8(v0)), a0);
        a1 = __smlad(x13, __sxtb16(snnc_ror8(v1)), a1);
    }
    *acc0 = a0;
    *acc1 = a1;
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int32_t snnc_dot_smlad(const int32_t *xs, const int8_t *w0, int32_t groups, int32_t a0)
{
    for (; groups > 0; --groups, xs += 2, w0 += 4) {
        const int32_t v0 = snnc_load4(w0);
        a0 = __smlad(xs[0], __sxtb16(v0), a0);
        a0 = __smlad(xs[1], __sxtb16(snnc_ror8(v0)), a0);
    }
    return a0;
}
#endif

/* The hot QNN kernel: int8 inputs, int8 weights, int32 accumulators. With the DSP extension
 * the input is first widened into scratch, as pairs (x0, x2) and (x1, x3) of 16-bit lanes per
 * group of four (what SXTB16 makes of a word); then each group of four weights of a row costs
 * one load, two SXTB16 and two SMLAD (two MACs each), and two rows share every scratch load.
 * The remainder (n_in not a multiple of 4) and cores without DSP use the plain loop, which the
 * compiler turns into SMLABB/MLA. Exact: the compiler proved the sums fit int32. */
void snnc_dense_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                       int32_t rows, int32_t n_in, int32_t n_out, int32_t *scratch)
{
    const int32_t head = SNNC_HAVE_SMLAD ? n_in & ~3 : 0; /* inputs handled by SMLAD */
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *xr = x + (size_t)r * (size_t)n_in;
        int32_t *yr = y + (size_t)r * (size_t)n_out;
#if SNNC_HAVE_SMLAD
        for (int32_t i = 0; i < head; i += 4) {
            const int32_t xv = snnc_load4(xr + i);
            scratch[i / 2] = __sxtb16(xv);
            scratch[i / 2 + 1] = __sxtb16(snnc_ror8(xv));
        }
#else
        (void)scratch;
#endif
        int32_t o = 0;
        for (; o + 2 <= n_out; o += 2) {
            const int8_t *w0 = w + (size_t)o * (size_t)n_in;
            const int8_t *w1 = w0 + n_in;
            int32_t a0 = bias != NULL ? bias[o] : 0;
            int32_t a1 = bias != NULL ? bias[o + 1] : 0;
#if SNNC_HAVE_SMLAD
            snnc_dot2_smlad(scratch, w0, w1, head / 4, &a0, &a1);
#endif
            for (int32_t i = head; i < n_in; ++i) {
                a0 += xr[i] * w0[i];
                a1 += xr[i] * w1[i];
            }
            yr[o] = a0;
            yr[o + 1] = a1;
        }
        for (; o < n_out; ++o) {
            const int8_t *w0 = w + (size_t)o * (size_t)n_in;
            int32_t a0 = bias != NULL ? bias[o] : 0;
#if SNNC_HAVE_SMLAD
            a0 = snnc_dot_smlad(scratch, w0, head / 4, a0);
#endif
            for (int32_t i = head; i < n_in; ++i) {
                a0 += xr[i] * w0[i];
            }
            yr[o] = a0;
        }
    }
}

int32_t snnc_events_s8(const int8_t *x, int32_t n, uint16_t *idx)
{
    int32_t count = 0;
    for (int32_t i = 0; i < n; ++i) {
        if (x[i] != 0) {
            idx[count++] = (uint16_t)i;
        }
    }
    return count;
}

/* Template instantiations (s8 -> s32 is the hand-written kernel above). A project compiles
 * only those its model calls (SNNC_USE_* in snnc_config.h) unless SNNC_ALL_KERNELS is set. */
#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_DENSE_S8_S64)
#define SNNC_DENSE_GENERIC
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_DENSE_S32_S32)
#define SNNC_DENSE_GENERIC
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int32_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_DENSE_S32_S64)
#define SNNC_DENSE_GENERIC
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_DENSE_S64_S32)
#define SNNC_DENSE_GENERIC
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_DENSE_S64_S64)
#define SNNC_DENSE_GENERIC
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_EVENT_S32)
#define SNNC_EVENT_FAMILY
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_dense_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_EVENT_S64)
#define SNNC_EVENT_FAMILY
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_dense_impl.h"
#endif
