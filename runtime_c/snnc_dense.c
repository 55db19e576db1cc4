/* snnc runtime: fully connected synapses; see snnc_dense.h.
 *
 * Three implementations of the int8 kernels, chosen when the project is compiled:
 * - Helium (MVE, __ARM_FEATURE_MVE: Cortex-M55): 16 int8 lanes; a dense row is a sum of
 *   VMLADAVA dot products (16 MACs per instruction), a weight column is added with widening
 *   vector loads;
 * - DSP (__ARM_FEATURE_DSP: Cortex-M4/M7): SMLAD (two 16-bit MACs), SXTB16/SXTAB16 (two
 *   lanes extended and added at once), SXTAB (a byte extended and added);
 * - portable C (the host build, other cores): the same arithmetic one value at a time.
 * Each reads the same weight layout, so a project runs bit-identically on the host and on the
 * target. All three are exact: the compiler proved every sum fits its accumulator.
 */
#include "snnc_dense.h"

#include <string.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define SNNC_HAVE_MVE 1
#else
#define SNNC_HAVE_MVE 0
#endif

#if !SNNC_HAVE_MVE && defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__)
#include <arm_acle.h>
#define SNNC_HAVE_DSP 1
#else
#define SNNC_HAVE_DSP 0
#endif

#if defined(__GNUC__)
#define SNNC_NOINLINE __attribute__((noinline))
#else
#define SNNC_NOINLINE
#endif

/* Four bytes as one word; memcpy keeps an unaligned load defined (it becomes one LDR). */
static inline uint32_t snnc_load4(const void *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if SNNC_HAVE_DSP
/* SXTB16 (bytes 0 and 2 of w sign-extended into two 16-bit lanes) and SXTAB16 (the same
 * added to acc's lanes), without and with w rotated right by 8 (bytes 1 and 3): one
 * instruction each. Written out because GCC's __sxtb16 does not fold the rotation. */
static inline uint32_t snnc_sxtb16(uint32_t w)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(w));
    return r;
}

static inline uint32_t snnc_sxtb16_ror8(uint32_t w)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}

static inline uint32_t snnc_sxtab16(uint32_t acc, uint32_t w)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(acc), "r"(w));
    return r;
}

static inline uint32_t snnc_sxtab16_ror8(uint32_t acc, uint32_t w)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(w));
    return r;
}
#endif

/* ------------------------------------------------------------------ dense, int8 -> int32 */

#if SNNC_HAVE_MVE
/* Four rows of W (row-major, n_in apart) against x: one vector load of x serves four
 * VMLADAVA (16 MACs each), pointers advance by post-increment: 64 MACs in 11 instructions.
 * The last partial vector is predicated (masked lanes load as zero). Accumulators start at the
 * bias (or 0) and end in y[0..3]. */
SNNC_NOINLINE static void snnc_block4_mve(const int8_t *x, const int8_t *w, int32_t n_in,
                                          const int32_t *bias, int32_t *y)
{
    const int8_t *w1 = w + n_in, *w2 = w1 + n_in, *w3 = w2 + n_in;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    if (bias != NULL) {
        a0 = bias[0];
        a1 = bias[1];
        a2 = bias[2];
        a3 = bias[3];
    }
    int32_t k = n_in >> 4;
    if (k > 0) { /* as asm: GCC 12 keeps the five pointers on the stack */
        __asm__ volatile(
            "1:\n\t"
            "vldrb.8     q0, [%[x]], #16\n\t"
            "vldrb.8     q1, [%[w0]], #16\n\t"
            "vmladava.s8 %[a0], q0, q1\n\t"
            "vldrb.8     q1, [%[w1]], #16\n\t"
            "vmladava.s8 %[a1], q0, q1\n\t"
            "vldrb.8     q1, [%[w2]], #16\n\t"
            "vmladava.s8 %[a2], q0, q1\n\t"
            "vldrb.8     q1, [%[w3]], #16\n\t"
            "vmladava.s8 %[a3], q0, q1\n\t"
            "subs        %[k], %[k], #1\n\t"
            "bne         1b\n\t"
            /* "Te": an even-numbered core register, as VMLADAVA's accumulator must be */
            : [a0] "+Te"(a0), [a1] "+Te"(a1), [a2] "+Te"(a2), [a3] "+Te"(a3), [x] "+r"(x),
              [w0] "+r"(w), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [k] "+r"(k)
            :
            : "q0", "q1", "cc", "memory");
    }
    if ((n_in & 15) != 0) {
        const mve_pred16_t p = vctp8q((uint32_t)(n_in & 15));
        const int8x16_t xv = vldrbq_z_s8(x, p);
        a0 = vmladavaq_s8(a0, xv, vldrbq_z_s8(w, p));
        a1 = vmladavaq_s8(a1, xv, vldrbq_z_s8(w1, p));
        a2 = vmladavaq_s8(a2, xv, vldrbq_z_s8(w2, p));
        a3 = vmladavaq_s8(a3, xv, vldrbq_z_s8(w3, p));
    }
    y[0] = a0;
    y[1] = a1;
    y[2] = a2;
    y[3] = a3;
}

static int32_t snnc_dot1_mve(const int8_t *x, const int8_t *w, int32_t n_in, int32_t a)
{
    for (int32_t k = n_in >> 4; k > 0; --k, x += 16, w += 16) {
        a = vmladavaq_s8(a, vldrbq_s8(x), vldrbq_s8(w));
    }
    if ((n_in & 15) != 0) {
        const mve_pred16_t p = vctp8q((uint32_t)(n_in & 15));
        a = vmladavaq_s8(a, vldrbq_z_s8(x, p), vldrbq_z_s8(w, p));
    }
    return a;
}
#endif

SNNC_NOINLINE static int32_t snnc_dot1_c(const int8_t *x, const int8_t *w, int32_t n, int32_t a)
{
    for (int32_t i = 0; i < n; ++i) {
        a += (int32_t)x[i] * (int32_t)w[i];
    }
    return a;
}

#if SNNC_HAVE_DSP
static int32_t snnc_dot1_smlad(const uint32_t *xs, const int8_t *w, int32_t groups, int32_t a);
static void snnc_widen_input(const int8_t *x, int32_t groups, uint32_t *xs);
#endif

/* Row-major W: four rows at a time with Helium; with DSP one row at a time against the input
 * widened into scratch (SNNC_DENSE_SCRATCH(n_in) words; snnc_dense_blk4_s8_s32, whose layout
 * suits SMLAD better, is what the compiler emits for these cores); portable C otherwise. */
void snnc_dense_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                       int32_t rows, int32_t n_in, int32_t n_out, int32_t *scratch,
                       int32_t shift)
{
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
#if !SNNC_HAVE_DSP
    (void)scratch;
#endif
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *xr = x + (size_t)r * (size_t)n_in;
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        int32_t o = 0;
#if SNNC_HAVE_DSP
        const int32_t head = n_in & ~3;
        snnc_widen_input(xr, n_in / 4, (uint32_t *)scratch);
        for (; o < n_out; ++o) {
            const int8_t *wo = w + (size_t)o * (size_t)n_in;
            const int32_t a = snnc_dot1_smlad((const uint32_t *)scratch, wo, n_in / 4,
                                              start != NULL ? start[o] : 0);
            yr[o] = snnc_dot1_c(xr + head, wo + head, n_in - head, a);
        }
#endif
#if SNNC_HAVE_MVE
        for (; o + 4 <= n_out; o += 4) {
            snnc_block4_mve(xr, w + (size_t)o * (size_t)n_in, n_in,
                            start != NULL ? start + o : NULL, yr + o);
        }
#endif
        for (; o < n_out; ++o) {
            const int8_t *wo = w + (size_t)o * (size_t)n_in;
            const int32_t a = start != NULL ? start[o] : 0;
#if SNNC_HAVE_MVE
            yr[o] = snnc_dot1_mve(xr, wo, n_in, a);
#else
            yr[o] = snnc_dot1_c(xr, wo, n_in, a);
#endif
        }
    }
    if (SNNC_SHIFTED(shift)) {
        snnc_shift_bias_s32(y, rows, n_out, 1, shift, bias);
    }
}

#if SNNC_HAVE_DSP
/* One block of four rows against the widened input, the SMLAD inner loop: per group of four
 * inputs, the input pair words (x0, x2), (x1, x3) are loaded once (one LDRD) and the four
 * rows' 16 weight bytes (two LDRD) each give two SXTB16 and two SMLAD: 16 MACs in 19
 * instructions, two groups per iteration so the loop costs 2 per 32 MACs (an odd count enters
 * at the second half). Written as one asm loop: at -Os GCC spills one of its live registers.
 * Accumulators start at the bias (or 0) and end in y[0..3]. groups > 0, w word-aligned. */
SNNC_NOINLINE static void snnc_block4_smlad(const uint32_t *xs, const int8_t *w, int32_t groups,
                                            const int32_t *bias, int32_t *y)
{
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    uint32_t x02, x13, wa, wb, t;
    if (bias != NULL) {
        a0 = bias[0];
        a1 = bias[1];
        a2 = bias[2];
        a3 = bias[3];
    }
#define SNNC_SMLAD_GROUP                                                                      \
    "ldrd   %[x02], %[x13], [%[xs]], #8\n\t"                                                  \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                                                     \
    "sxtb16 %[t], %[wa]\n\t"                                                                  \
    "smlad  %[a0], %[x02], %[t], %[a0]\n\t"                                                   \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                                                         \
    "smlad  %[a0], %[x13], %[wa], %[a0]\n\t"                                                  \
    "sxtb16 %[t], %[wb]\n\t"                                                                  \
    "smlad  %[a1], %[x02], %[t], %[a1]\n\t"                                                   \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                                                         \
    "smlad  %[a1], %[x13], %[wb], %[a1]\n\t"                                                  \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"                                                     \
    "sxtb16 %[t], %[wa]\n\t"                                                                  \
    "smlad  %[a2], %[x02], %[t], %[a2]\n\t"                                                   \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                                                         \
    "smlad  %[a2], %[x13], %[wa], %[a2]\n\t"                                                  \
    "sxtb16 %[t], %[wb]\n\t"                                                                  \
    "smlad  %[a3], %[x02], %[t], %[a3]\n\t"                                                   \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                                                         \
    "smlad  %[a3], %[x13], %[wb], %[a3]\n\t"
    __asm__ volatile(
        "tst    %[n], #1\n\t"
        "beq    1f\n\t"
        "adds   %[n], %[n], #1\n\t"
        "b      2f\n"
        "1:\n\t" SNNC_SMLAD_GROUP
        "2:\n\t" SNNC_SMLAD_GROUP
        "subs   %[n], %[n], #2\n\t"
        "bne    1b\n\t"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [xs] "+r"(xs),
          [w] "+r"(w), [n] "+r"(groups), [x02] "=&r"(x02), [x13] "=&r"(x13), [wa] "=&r"(wa),
          [wb] "=&r"(wb), [t] "=&r"(t)
        :
        : "cc", "memory");
#undef SNNC_SMLAD_GROUP
    y[0] = a0;
    y[1] = a1;
    y[2] = a2;
    y[3] = a3;
}

/* x[0..4 groups) as 16-bit pairs, two words per group of four: (x0, x2) and (x1, x3). */
static void snnc_widen_input(const int8_t *x, int32_t groups, uint32_t *xs)
{
    for (int32_t g = 0; g < groups; ++g, x += 4, xs += 2) {
        const uint32_t v = snnc_load4(x);
        xs[0] = snnc_sxtb16(v);
        xs[1] = snnc_sxtb16_ror8(v);
    }
}

/* One row-major row against the widened input (the rows after the last block of four). */
static int32_t snnc_dot1_smlad(const uint32_t *xs, const int8_t *w, int32_t groups, int32_t a)
{
    for (; groups > 0; --groups, xs += 2, w += 4) {
        const uint32_t v = snnc_load4(w);
        a = __smlad((int32_t)xs[0], (int32_t)snnc_sxtb16(v), a);
        a = __smlad((int32_t)xs[1], (int32_t)snnc_sxtb16_ror8(v), a);
    }
    return a;
}
#endif

/* Blocked layout (see snnc_dense.h): rows 4b..4b+3 of W form block b, groups of four inputs
 * interleaved by row (16 bytes per group), then the four rows' last n_in % 4 weights; the
 * n_out % 4 rows after the last block follow row-major. With the DSP extension the input is
 * first widened into scratch (two words per group of four, as SXTB16 pairs them) once per row
 * of x, and every block costs 1.25 instructions per MAC in its inner loop. */
void snnc_dense_blk4_s8_s32(const int8_t *x, const int8_t *w, const int32_t *bias, int32_t *y,
                            int32_t rows, int32_t n_in, int32_t n_out, int32_t *scratch,
                            int32_t shift)
{
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
    const int32_t groups = n_in / 4, tail = n_in % 4, blocks = n_out / 4;
    const int32_t head = 4 * groups;
#if SNNC_HAVE_DSP
    uint32_t *xs = (uint32_t *)scratch;
    const int aligned = ((uintptr_t)w & 3u) == 0u;
#else
    (void)scratch;
#endif
    for (int32_t r = 0; r < rows; ++r) {
        const int8_t *xr = x + (size_t)r * (size_t)n_in;
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        const int8_t *wp = w;
#if SNNC_HAVE_DSP
        snnc_widen_input(xr, groups, xs);
#endif
        for (int32_t b = 0; b < blocks; ++b, yr += 4) {
            const int32_t *bb = start != NULL ? start + 4 * b : NULL;
            /* LDRD needs a word-aligned W (the compiler aligns it); otherwise portable C */
#if SNNC_HAVE_DSP
            if (groups > 0 && aligned) {
                snnc_block4_smlad(xs, wp, groups, bb, yr);
            } else
#endif
            {
                for (int k = 0; k < 4; ++k) { /* row k's groups are 16 bytes apart */
                    int32_t a = bb != NULL ? bb[k] : 0;
                    const int8_t *wk = wp + 4 * k;
                    for (int32_t g = 0; g < groups; ++g, wk += 16) {
                        const int8_t *xg = xr + 4 * g;
                        a += xg[0] * wk[0] + xg[1] * wk[1] + xg[2] * wk[2] + xg[3] * wk[3];
                    }
                    yr[k] = a;
                }
            }
            wp += 16 * groups;
            if (tail != 0) {
                for (int k = 0; k < 4; ++k) {
                    yr[k] = snnc_dot1_c(xr + head, wp + k * tail, tail, yr[k]);
                }
                wp += 4 * tail;
            }
        }
        for (int32_t o = 4 * blocks; o < n_out; ++o, wp += n_in) {
            int32_t a = start != NULL ? start[o] : 0;
#if SNNC_HAVE_DSP
            a = snnc_dot1_smlad(xs, wp, groups, a);
#else
            a = snnc_dot1_c(xr, wp, head, a);
#endif
            *yr++ = snnc_dot1_c(xr + head, wp + head, tail, a);
        }
    }
    if (SNNC_SHIFTED(shift)) {
        snnc_shift_bias_s32(y, rows, n_out, 1, shift, bias);
    }
}

/* ------------------------------------------------------------ event list of one step */

/* Four zero bytes at a time are skipped with one load and one compare. */
int32_t snnc_events_s8(const int8_t *x, int32_t n, uint16_t *idx)
{
    int32_t count = 0;
    int32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const uint32_t w = snnc_load4(x + i);
        if (w == 0u) {
            continue;
        }
        /* little-endian: byte k of memory is bits 8k..8k+7 of the word (elsewhere the bytes
         * are read one by one, to keep the list ascending) */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) &&                              \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if ((w & 0xFFu) != 0u) {
            idx[count++] = (uint16_t)i;
        }
        if ((w & 0xFF00u) != 0u) {
            idx[count++] = (uint16_t)(i + 1);
        }
        if ((w & 0xFF0000u) != 0u) {
            idx[count++] = (uint16_t)(i + 2);
        }
        if ((w & 0xFF000000u) != 0u) {
            idx[count++] = (uint16_t)(i + 3);
        }
#else
        for (int32_t k = i; k < i + 4; ++k) {
            if (x[k] != 0) {
                idx[count++] = (uint16_t)k;
            }
        }
#endif
    }
    for (; i < n; ++i) {
        if (x[i] != 0) {
            idx[count++] = (uint16_t)i;
        }
    }
    return count;
}

/* --------------------------------------------- column updates of the event-driven kernels
 * snnc_col_add_Y: y[0..n) += col[0..n) (a binary event); snnc_col_mla_Y: += value * col;
 * snnc_csr_add_Y / snnc_csr_mla_Y: y[cols[k]] += (value *) vals[k] for k < n. */

static inline void snnc_col_add_s32(int32_t *y, const int8_t *col, int32_t n)
{
    int32_t k = 0;
#if SNNC_HAVE_MVE
    /* Eight outputs per iteration: widening loads of four weights, vector adds. */
    int32_t groups = n >> 3;
    if (groups > 0) {
        __asm__ volatile(
            "1:\n\t"
            "vldrb.s32 q0, [%[col]], #4\n\t"
            "vldrw.u32 q1, [%[y]]\n\t"
            "vadd.i32  q1, q1, q0\n\t"
            "vstrw.32  q1, [%[y]], #16\n\t"
            "vldrb.s32 q0, [%[col]], #4\n\t"
            "vldrw.u32 q1, [%[y]]\n\t"
            "vadd.i32  q1, q1, q0\n\t"
            "vstrw.32  q1, [%[y]], #16\n\t"
            "subs      %[n], %[n], #1\n\t"
            "bne       1b\n\t"
            : [y] "+r"(y), [col] "+r"(col), [n] "+r"(groups)
            :
            : "q0", "q1", "cc", "memory");
    }
    for (; k < (n & 7); k += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)((n & 7) - k));
        vstrwq_p_s32(y + k, vaddq_s32(vldrwq_z_s32(y + k, p), vldrbq_z_s32(col + k, p)), p);
    }
#elif SNNC_HAVE_DSP
    /* Eight outputs per iteration: two weight words (LDR takes them unaligned), four LDRD/STRD
     * of accumulators, each byte added by one SXTAB: 2 instructions per output. */
    int32_t groups = n >> 3;
    if (groups > 0) {
        uint32_t w0, w1, a0, a1;
        __asm__ volatile(
            "1:\n\t"
            "ldr    %[w0], [%[col]], #4\n\t"
            "ldr    %[w1], [%[col]], #4\n\t"
            "ldrd   %[a0], %[a1], [%[y]]\n\t"
            "sxtab  %[a0], %[a0], %[w0]\n\t"
            "sxtab  %[a1], %[a1], %[w0], ror #8\n\t"
            "strd   %[a0], %[a1], [%[y]], #8\n\t"
            "ldrd   %[a0], %[a1], [%[y]]\n\t"
            "sxtab  %[a0], %[a0], %[w0], ror #16\n\t"
            "sxtab  %[a1], %[a1], %[w0], ror #24\n\t"
            "strd   %[a0], %[a1], [%[y]], #8\n\t"
            "ldrd   %[a0], %[a1], [%[y]]\n\t"
            "sxtab  %[a0], %[a0], %[w1]\n\t"
            "sxtab  %[a1], %[a1], %[w1], ror #8\n\t"
            "strd   %[a0], %[a1], [%[y]], #8\n\t"
            "ldrd   %[a0], %[a1], [%[y]]\n\t"
            "sxtab  %[a0], %[a0], %[w1], ror #16\n\t"
            "sxtab  %[a1], %[a1], %[w1], ror #24\n\t"
            "strd   %[a0], %[a1], [%[y]], #8\n\t"
            "subs   %[n], %[n], #1\n\t"
            "bne    1b\n\t"
            : [y] "+r"(y), [col] "+r"(col), [n] "+r"(groups), [w0] "=&r"(w0), [w1] "=&r"(w1),
              [a0] "=&r"(a0), [a1] "=&r"(a1)
            :
            : "cc", "memory");
        k = n & ~7;
    }
    for (; k < n; ++k) {
        *y++ += *col++;
    }
#else
    for (; k < n; ++k) {
        y[k] += col[k];
    }
#endif
}

static inline void snnc_col_mla_s32(int32_t *y, const int8_t *col, int32_t value, int32_t n)
{
    int32_t k = 0;
#if SNNC_HAVE_MVE
    for (; k < n; k += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - k));
        vstrwq_p_s32(y + k, vmlaq_n_s32(vldrwq_z_s32(y + k, p), vldrbq_z_s32(col + k, p),
                                        value), p);
    }
#elif SNNC_HAVE_DSP
    /* SXTB16 pairs the bytes; SMLABB/SMLATB multiply one lane by the value and add. */
    for (; k + 4 <= n; k += 4, y += 4, col += 4) {
        const uint32_t w = snnc_load4(col);
        const int32_t w02 = (int32_t)snnc_sxtb16(w);
        const int32_t w13 = (int32_t)snnc_sxtb16_ror8(w);
        y[0] = __smlabb(w02, value, y[0]);
        y[1] = __smlabb(w13, value, y[1]);
        y[2] = __smlatb(w02, value, y[2]);
        y[3] = __smlatb(w13, value, y[3]);
    }
    for (; k < n; ++k) {
        *y++ += value * *col++;
    }
#else
    for (; k < n; ++k) {
        y[k] += value * col[k];
    }
#endif
}

static inline void snnc_csr_add_s32(int32_t *y, const uint16_t *cols, const int8_t *vals,
                                    int32_t n)
{
    int32_t k = 0;
#if SNNC_HAVE_MVE
    /* Four synapses per gather and scatter (the column indices of one input are distinct, so
     * no lane is written twice): eight per iteration in 12 instructions. */
    int32_t groups = n >> 3;
    if (groups > 0) {
        __asm__ volatile(
            "1:\n\t"
            "vldrh.u32 q0, [%[cols]], #8\n\t"
            "vldrb.s32 q1, [%[vals]], #4\n\t"
            "vldrw.u32 q2, [%[y], q0, uxtw #2]\n\t"
            "vadd.i32  q2, q2, q1\n\t"
            "vstrw.32  q2, [%[y], q0, uxtw #2]\n\t"
            "vldrh.u32 q0, [%[cols]], #8\n\t"
            "vldrb.s32 q1, [%[vals]], #4\n\t"
            "vldrw.u32 q2, [%[y], q0, uxtw #2]\n\t"
            "vadd.i32  q2, q2, q1\n\t"
            "vstrw.32  q2, [%[y], q0, uxtw #2]\n\t"
            "subs      %[n], %[n], #1\n\t"
            "bne       1b\n\t"
            : [cols] "+r"(cols), [vals] "+r"(vals), [n] "+r"(groups)
            : [y] "r"(y)
            : "q0", "q1", "q2", "cc", "memory");
    }
    for (; k < (n & 7); k += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)((n & 7) - k));
        const uint32x4_t c = vldrhq_z_u32(cols + k, p);
        const int32x4_t a = vldrwq_gather_shifted_offset_z_s32(y, c, p);
        vstrwq_scatter_shifted_offset_p_s32(y, c, vaddq_s32(a, vldrbq_z_s32(vals + k, p)), p);
    }
#else
    for (; k < n; ++k) {
        y[cols[k]] += vals[k];
    }
#endif
}

static inline void snnc_csr_mla_s32(int32_t *y, const uint16_t *cols, const int8_t *vals,
                                    int32_t value, int32_t n)
{
    int32_t k = 0;
#if SNNC_HAVE_MVE
    for (; k < n; k += 4) {
        const mve_pred16_t p = vctp32q((uint32_t)(n - k));
        const uint32x4_t c = vldrhq_z_u32(cols + k, p);
        const int32x4_t a = vldrwq_gather_shifted_offset_z_s32(y, c, p);
        vstrwq_scatter_shifted_offset_p_s32(
            y, c, vmlaq_n_s32(a, vldrbq_z_s32(vals + k, p), value), p);
    }
#else
    for (; k < n; ++k) {
        y[cols[k]] += value * vals[k];
    }
#endif
}

static inline void snnc_col_add_s64(int64_t *y, const int8_t *col, int32_t n)
{
    for (int32_t k = 0; k < n; ++k) {
        y[k] += col[k];
    }
}

static inline void snnc_col_mla_s64(int64_t *y, const int8_t *col, int64_t value, int32_t n)
{
    for (int32_t k = 0; k < n; ++k) {
        y[k] += value * col[k];
    }
}

static inline void snnc_csr_add_s64(int64_t *y, const uint16_t *cols, const int8_t *vals,
                                    int32_t n)
{
    for (int32_t k = 0; k < n; ++k) {
        y[cols[k]] += vals[k];
    }
}

static inline void snnc_csr_mla_s64(int64_t *y, const uint16_t *cols, const int8_t *vals,
                                    int64_t value, int32_t n)
{
    for (int32_t k = 0; k < n; ++k) {
        y[cols[k]] += value * vals[k];
    }
}

/* The binary events idx[0..count) of one row of x (global indices, row starting at base). */
static inline void snnc_csr_events_s32(int32_t *y, const uint16_t *idx, int32_t count,
                                       int32_t base, const int32_t *row_ptr,
                                       const uint16_t *cols, const int8_t *vals)
{
    for (int32_t e = 0; e < count; ++e) {
        const int32_t local = (int32_t)idx[e] - base;
        snnc_csr_add_s32(y, cols + row_ptr[local], vals + row_ptr[local],
                         row_ptr[local + 1] - row_ptr[local]);
    }
}

static inline void snnc_csr_events_s64(int64_t *y, const uint16_t *idx, int32_t count,
                                       int32_t base, const int32_t *row_ptr,
                                       const uint16_t *cols, const int8_t *vals)
{
    for (int32_t e = 0; e < count; ++e) {
        const int32_t local = (int32_t)idx[e] - base;
        snnc_csr_add_s64(y, cols + row_ptr[local], vals + row_ptr[local],
                         row_ptr[local + 1] - row_ptr[local]);
    }
}

/* --------------------------------------------- event-driven with 16-bit accumulators */

/* Binary events, partial sums proven to fit int16 (see snnc_dense.h). acc holds the row's
 * sums, two per word; they start at zero and are widened and added to the bias at the end
 * of each row of x, so the per-event work is 16-bit: with DSP a word of four weights is
 * added to two accumulator words by two SXTAB16 (lanes (y0, y2) and (y1, y3)); with Helium
 * eight int16 lanes per vector. */
void snnc_event_dense16_s32(const uint16_t *idx, int32_t count, const int8_t *wt,
                            const int32_t *bias, int32_t *y, int32_t rows, int32_t n_in,
                            int32_t n_out, int32_t *acc, int32_t shift)
{
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
#if SNNC_HAVE_MVE || SNNC_HAVE_DSP
    const int32_t words = SNNC_EVENT16_SCRATCH(n_out);
    int32_t e = 0;
    for (int32_t r = 0; r < rows; ++r) {
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        const int32_t row_end = (r + 1) * n_in;
        for (int32_t k = 0; k < words; ++k) {
            acc[k] = 0;
        }
        for (; e < count && (int32_t)idx[e] < row_end; ++e) {
            const int8_t *col = wt + (size_t)((int32_t)idx[e] - r * n_in) * (size_t)n_out;
            int32_t k = 0;
#if SNNC_HAVE_MVE
            int32_t *a = acc;
            int32_t groups = n_out >> 4;
            if (groups > 0) { /* sixteen outputs: two widening loads, two int16 vector adds */
                __asm__ volatile(
                    "1:\n\t"
                    "vldrb.s16 q0, [%[col]], #8\n\t"
                    "vldrw.u32 q1, [%[a]]\n\t"
                    "vadd.i16  q1, q1, q0\n\t"
                    "vstrw.32  q1, [%[a]], #16\n\t"
                    "vldrb.s16 q0, [%[col]], #8\n\t"
                    "vldrw.u32 q1, [%[a]]\n\t"
                    "vadd.i16  q1, q1, q0\n\t"
                    "vstrw.32  q1, [%[a]], #16\n\t"
                    "subs      %[n], %[n], #1\n\t"
                    "bne       1b\n\t"
                    : [a] "+r"(a), [col] "+r"(col), [n] "+r"(groups)
                    :
                    : "q0", "q1", "cc", "memory");
                k = n_out & ~15;
            }
            for (; k < n_out; k += 8, a += 4, col += 8) {
                const mve_pred16_t p = vctp16q((uint32_t)(n_out - k));
                int16x8_t a0 = vreinterpretq_s16_s32(vldrwq_s32(a));
                a0 = vaddq_s16(a0, vldrbq_z_s16(col, p));
                vstrwq_s32(a, vreinterpretq_s32_s16(a0));
            }
#else
            uint32_t *a = (uint32_t *)acc;
            int32_t groups = n_out >> 3;
            if (groups > 0) { /* eight outputs in two LDR, two LDRD, four SXTAB16, two STRD */
                uint32_t w0, w1, p0, p1;
                __asm__ volatile(
                    "1:\n\t"
                    "ldr     %[w0], [%[col]], #4\n\t"
                    "ldr     %[w1], [%[col]], #4\n\t"
                    "ldrd    %[p0], %[p1], [%[a]]\n\t"
                    "sxtab16 %[p0], %[p0], %[w0]\n\t"
                    "sxtab16 %[p1], %[p1], %[w0], ror #8\n\t"
                    "strd    %[p0], %[p1], [%[a]], #8\n\t"
                    "ldrd    %[p0], %[p1], [%[a]]\n\t"
                    "sxtab16 %[p0], %[p0], %[w1]\n\t"
                    "sxtab16 %[p1], %[p1], %[w1], ror #8\n\t"
                    "strd    %[p0], %[p1], [%[a]], #8\n\t"
                    "subs    %[n], %[n], #1\n\t"
                    "bne     1b\n\t"
                    : [a] "+r"(a), [col] "+r"(col), [n] "+r"(groups), [w0] "=&r"(w0),
                      [w1] "=&r"(w1), [p0] "=&r"(p0), [p1] "=&r"(p1)
                    :
                    : "cc", "memory");
                k = n_out & ~7;
            }
            for (; k < n_out; k += 4, a += 2, col += 4) { /* the last one partial */
                uint32_t w0 = 0;
                memcpy(&w0, col, (size_t)(n_out - k < 4 ? n_out - k : 4));
                a[0] = snnc_sxtab16(a[0], w0);
                a[1] = snnc_sxtab16_ror8(a[1], w0);
            }
#endif
        }
        /* Widen: the int16 lanes back to int32, plus the bias. */
#if SNNC_HAVE_MVE
        for (int32_t o = 0; o < n_out; ++o) { /* natural order, two lanes per word */
            const uint32_t word = (uint32_t)acc[o >> 1];
            const int16_t v = (int16_t)((o & 1) ? word >> 16 : word);
            yr[o] = (start != NULL ? start[o] : 0) + v;
        }
#else
        for (int32_t o = 0; o < n_out; o += 4) { /* words (y0, y2), (y1, y3) per four */
            const uint32_t a02 = (uint32_t)acc[o / 2], a13 = (uint32_t)acc[o / 2 + 1];
            const int16_t v[4] = {(int16_t)a02, (int16_t)a13, (int16_t)(a02 >> 16),
                                  (int16_t)(a13 >> 16)};
            for (int32_t k = 0; k < 4 && o + k < n_out; ++k) {
                yr[o + k] = (start != NULL ? start[o + k] : 0) + v[k];
            }
        }
#endif
    }
#else
    /* Portable: the same sums in int32, straight into y. */
    (void)acc;
    int32_t e = 0;
    for (int32_t r = 0; r < rows; ++r) {
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        for (int32_t o = 0; o < n_out; ++o) {
            yr[o] = start != NULL ? start[o] : 0;
        }
        for (; e < count && (int32_t)idx[e] < (r + 1) * n_in; ++e) {
            const int8_t *col = wt + (size_t)((int32_t)idx[e] - r * n_in) * (size_t)n_out;
            snnc_col_add_s32(yr, col, n_out);
        }
    }
#endif
    if (SNNC_SHIFTED(shift)) {
        snnc_shift_bias_s32(y, rows, n_out, 1, shift, bias);
    }
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

/* --------------------------------------------- event-driven on CSR columns with word indices
 * The CSR layout of cores with the DSP extension (snnc_dense.h): column indices as 32-bit
 * words, so one LDRD fetches the columns of two synapses. */
#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_EVENT_S32)
#if SNNC_HAVE_DSP
/* All binary events of one row of x, in one asm loop (GCC keeps the per-event values on the
 * stack otherwise). Per event: its row pointers (one LDRD), then n % 4 synapses from one word
 * of weights (vals has three bytes of padding after its end, so the word never leaves it),
 * then groups of four, two per iteration: one word of weights, and per pair of synapses one
 * LDRD of their columns, then per synapse LDR, SXTAB (the weight byte sign-extended and
 * added) and STR, 3.75 instructions per synapse. rp is row_ptr moved back by base entries,
 * so the global event index addresses it. count > 0. */
SNNC_NOINLINE static void snnc_csr32_events_dsp(int32_t *y, const uint16_t *idx, int32_t count,
                                                const int32_t *rp, const uint32_t *cols,
                                                const int8_t *vals)
{
    uint32_t i, k0, k1, v, w, c, a;
#define SNNC_CSR_SYNAPSE(rot)                                                                 \
    "ldr    %[c], [%[k0]], #4\n\t"                                                            \
    "ldr    %[a], [%[y], %[c], lsl #2]\n\t"                                                   \
    "sxtab  %[a], %[a], %[w], ror #" rot "\n\t"                                               \
    "str    %[a], [%[y], %[c], lsl #2]\n\t"
#define SNNC_CSR_PAIR(rot0, rot1)                                                             \
    "ldrd   %[c], %[a], [%[k0]], #8\n\t"                                                      \
    "ldr    %[i], [%[y], %[c], lsl #2]\n\t"                                                   \
    "sxtab  %[i], %[i], %[w], ror #" rot0 "\n\t"                                              \
    "str    %[i], [%[y], %[c], lsl #2]\n\t"                                                   \
    "ldr    %[c], [%[y], %[a], lsl #2]\n\t"                                                   \
    "sxtab  %[c], %[c], %[w], ror #" rot1 "\n\t"                                              \
    "str    %[c], [%[y], %[a], lsl #2]\n\t"
#define SNNC_CSR_QUAD                                                                         \
    "ldr    %[w], [%[v]], #4\n\t" SNNC_CSR_PAIR("0", "8") SNNC_CSR_PAIR("16", "24")
    __asm__ volatile(
        "1:\n\t"
        "ldrh   %[i], [%[idx]], #2\n\t"
        "add    %[i], %[rp], %[i], lsl #2\n\t"
        "ldrd   %[k0], %[k1], [%[i]]\n\t"
        "subs   %[k1], %[k1], %[k0]\n\t"         /* synapses of this input */
        "beq    9f\n\t"
        "add    %[v], %[vals], %[k0]\n\t"
        "add    %[k0], %[cols], %[k0], lsl #2\n\t" /* k0: the column pointer from here on */
        "ands   %[i], %[k1], #3\n\t"
        "beq    4f\n\t"
        "ldr    %[w], [%[v]]\n\t"                 /* n % 4 synapses from one word */
        "add    %[v], %[v], %[i]\n\t"
        SNNC_CSR_SYNAPSE("0")
        "cmp    %[i], #1\n\t"
        "beq    4f\n\t"
        SNNC_CSR_SYNAPSE("8")
        "cmp    %[i], #2\n\t"
        "beq    4f\n\t"
        SNNC_CSR_SYNAPSE("16")
        "4:\n\t"
        "lsrs   %[k1], %[k1], #2\n\t"             /* groups of four */
        "beq    9f\n\t"
        "tst    %[k1], #1\n\t"
        "beq    5f\n\t"
        "adds   %[k1], %[k1], #1\n\t"             /* an odd count enters at the second half */
        "b      6f\n"
        "5:\n\t" SNNC_CSR_QUAD
        "6:\n\t" SNNC_CSR_QUAD
        "subs   %[k1], %[k1], #2\n\t"
        "bne    5b\n"
        "9:\n\t"
        "subs   %[n], %[n], #1\n\t"
        "bne    1b\n\t"
        : [idx] "+r"(idx), [n] "+r"(count), [i] "=&r"(i), [k0] "=&r"(k0), [k1] "=&r"(k1),
          [v] "=&r"(v), [w] "=&r"(w), [c] "=&r"(c), [a] "=&r"(a)
        : [y] "r"(y), [rp] "r"(rp), [cols] "r"(cols), [vals] "r"(vals)
        : "cc", "memory");
#undef SNNC_CSR_QUAD
#undef SNNC_CSR_PAIR
#undef SNNC_CSR_SYNAPSE
}
#endif

void snnc_event_csr32_s32(const uint16_t *idx, int32_t count, const int8_t *x,
                          const int32_t *row_ptr, const uint32_t *cols, const int8_t *vals,
                          const int32_t *bias, int32_t *y, int32_t rows, int32_t n_in,
                          int32_t n_out)
{
    int32_t e = 0;
    snnc_fill_bias_s32(y, bias, rows, n_out);
    for (int32_t r = 0; r < rows && e < count; ++r) {
        int32_t *yr = y + (size_t)r * (size_t)n_out;
        const int32_t base = r * n_in;
        int32_t end = count; /* events are sorted: those of row r come next */
        if (r + 1 < rows) {
            for (end = e; end < count && (int32_t)idx[end] < base + n_in; ++end) {
            }
        }
#if SNNC_HAVE_DSP
        if (x == NULL) {
            if (end > e) {
                /* row_ptr - base as an address computation the asm does not dereference out
                 * of range */
                const int32_t *rp = (const int32_t *)((uintptr_t)row_ptr - (uintptr_t)base * 4u);
                snnc_csr32_events_dsp(yr, idx + e, end - e, rp, cols, vals);
            }
            e = end;
            continue;
        }
#endif
        for (; e < end; ++e) {
            const int32_t i = (int32_t)idx[e];
            const int32_t lo = row_ptr[i - base], hi = row_ptr[i - base + 1];
            if (x == NULL) {
                for (int32_t k = lo; k < hi; ++k) {
                    yr[cols[k]] += vals[k];
                }
            } else {
                const int32_t value = x[i];
                for (int32_t k = lo; k < hi; ++k) {
                    yr[cols[k]] += value * vals[k];
                }
            }
        }
    }
}
#endif
