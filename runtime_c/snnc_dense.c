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
#endif

/* The hot QNN kernel: int8 inputs, int8 weights, int32 accumulators. Two output rows share each
 * input load; with the DSP extension each 4-byte group costs two SXTB16 pairs and two SMLADs per
 * row. The remainder (n_in not a multiple of 4) and cores without DSP use the plain loop, which
 * the compiler turns into SMLABB/MLA. Exact: the compiler proved the sums fit int32. */
void snnc_dense_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                       int32_t rows, int32_t n_in, int32_t n_out)
{
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *xr = x + (size_t)r * (size_t)n_in;
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        int32_t o = 0;
        for (; o + 2 <= n_out; o += 2) {
            const int8_t *w0 = w + (size_t)o * (size_t)n_in;
            const int8_t *w1 = w0 + n_in;
            int32_t a0 = bias != NULL ? bias[o] : 0;
            int32_t a1 = bias != NULL ? bias[o + 1] : 0;
            int32_t i = 0;
#if SNNC_HAVE_SMLAD
            for (; i + 4 <= n_in; i += 4) {
                const int32_t xv = snnc_load4(xr + i);
                const int32_t x02 = __sxtb16(xv);
                const int32_t x13 = __sxtb16(snnc_ror8(xv));
                int32_t wv = snnc_load4(w0 + i);
                a0 = __smlad(x02, __sxtb16(wv), a0);
                a0 = __smlad(x13, __sxtb16(snnc_ror8(wv)), a0);
                wv = snnc_load4(w1 + i);
                a1 = __smlad(x02, __sxtb16(wv), a1);
                a1 = __smlad(x13, __sxtb16(snnc_ror8(wv)), a1);
            }
#endif
            for (; i < n_in; ++i) {
                a0 += xr[i] * w0[i];
                a1 += xr[i] * w1[i];
            }
            yr[o] = a0;
            yr[o + 1] = a1;
        }
        for (; o < n_out; ++o) {
            const int8_t *w0 = w + (size_t)o * (size_t)n_in;
            int32_t a0 = bias != NULL ? bias[o] : 0;
            int32_t i = 0;
#if SNNC_HAVE_SMLAD
            for (; i + 4 <= n_in; i += 4) {
                const int32_t xv = snnc_load4(xr + i);
                const int32_t wv = snnc_load4(w0 + i);
                a0 = __smlad(__sxtb16(xv), __sxtb16(wv), a0);
                a0 = __smlad(__sxtb16(snnc_ror8(xv)), __sxtb16(snnc_ror8(wv)), a0);
            }
#endif
            for (; i < n_in; ++i) {
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

/* Generic instantiations (s8 -> s32 is the hand-written kernel above). */
#define SNNC_DENSE_GENERIC
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"

#define SNNC_DENSE_GENERIC
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int32_t
#include "snnc_dense_impl.h"

#define SNNC_DENSE_GENERIC
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"

#define SNNC_DENSE_GENERIC
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"

#define SNNC_DENSE_GENERIC
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_dense_impl.h"

#define SNNC_EVENT_FAMILY
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_dense_impl.h"

#define SNNC_EVENT_FAMILY
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_dense_impl.h"
