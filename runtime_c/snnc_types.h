/* snnc runtime: element types and the exact fixed-point arithmetic of the numeric profile.
 *
 * Every helper here mirrors one line of snnc.reference.integer, the bit-exact specification.
 * Intermediates are int64_t; the compiler has proven (by range analysis of the model) that no
 * int64_t intermediate overflows, so the C result equals the reference's unbounded integers.
 * The profile constants (SNNC_DECAY_BITS, ...) come from the generated snnc_config.h, which makes
 * the profile switches compile-time constants.
 *
 * C99, no heap, no VLAs, no floating point, no implementation-defined shifts of negative values.
 */
#ifndef SNNC_TYPES_H
#define SNNC_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "snnc_config.h"

/* Suffixes used by the typed kernel families: s8 = int8_t, s32 = int32_t, s64 = int64_t. */
#define SNNC_CAT2_(a, b) a##_##b
#define SNNC_CAT2(a, b) SNNC_CAT2_(a, b)
#define SNNC_CAT3_(a, b, c) a##_##b##_##c
#define SNNC_CAT3(a, b, c) SNNC_CAT3_(a, b, c)

/* Type pairs the typed kernel families are instantiated for: (input suffix, input type, output
 * suffix, output type). Synapses and neurons read any width and write 32 or 64 bits. */
#define SNNC_TO_WIDE_TYPES(M)                                                                 \
    M(s8, int8_t, s32, int32_t)                                                               \
    M(s8, int8_t, s64, int64_t)                                                               \
    M(s32, int32_t, s32, int32_t)                                                             \
    M(s32, int32_t, s64, int64_t)                                                             \
    M(s64, int64_t, s32, int32_t)                                                             \
    M(s64, int64_t, s64, int64_t)

/* Geometry of a 2-D window operator (convolution or pooling) on CHW tensors. Pooling uses
 * out_c = in_c, groups = in_c and dilation 1. Padding is (top, left); bottom/right padding only
 * shows in out_h/out_w. */
typedef struct {
    int32_t in_c, in_h, in_w;
    int32_t out_c, out_h, out_w;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left;
    int32_t dil_h, dil_w;
    int32_t groups;
} snnc_geom;

/* Reset kinds of LIF/CubaLIF (snnc.ir.layers.ResetKind). */
enum { SNNC_RESET_ZERO = 0, SNNC_RESET_SUBTRACT = 1, SNNC_RESET_NONE = 2 };

/* x / 2^s rounded toward minus infinity. ~x is non-negative for negative x, so both shifts act
 * on non-negative values and the result does not depend on how the compiler shifts negatives
 * (GCC and Clang turn this into one arithmetic shift). */
static inline int64_t snnc_floor_shift(int64_t x, int s)
{
    return x < 0 ? ~(~x >> s) : x >> s;
}

/* x / 2^s rounded as the profile says: toward minus infinity or toward zero. */
static inline int64_t snnc_round_shift(int64_t x, int s)
{
#if SNNC_ROUND_TRUNC
    return x < 0 ? -((-x) >> s) : x >> s;
#else
    return snnc_floor_shift(x, s);
#endif
}

/* x * 2^s; a left shift of a negative value is undefined behaviour in C99. */
static inline int64_t snnc_shl(int64_t x, int s)
{
    return x * ((int64_t)1 << s);
}

/* decay(x, d) = rnd(x * (2^D - d), D). */
static inline int64_t snnc_decay(int64_t x, int64_t d)
{
    return snnc_round_shift(x * (((int64_t)1 << SNNC_DECAY_BITS) - d), SNNC_DECAY_BITS);
}

/* Clip to +-(2^(bits-1) - 1), the symmetric saturation of the reference. */
static inline int64_t snnc_saturate(int64_t x, int bits)
{
    const int64_t lim = ((int64_t)1 << (bits - 1)) - 1;
    return x > lim ? lim : (x < -lim ? -lim : x);
}

/* Wrap into (-2^(bits-1), 2^(bits-1)] like Lava: ((x - 1 + h) mod 2^bits) - h + 1. The
 * modulo is taken on the unsigned image, which C defines for every value. */
static inline int64_t snnc_wrap(int64_t x, int bits)
{
    const int64_t half = (int64_t)1 << (bits - 1);
    const uint64_t mask = ((uint64_t)1 << bits) - 1u;
    const uint64_t m = ((uint64_t)x - 1u + (uint64_t)half) & mask;
    return (int64_t)m - half + 1;
}

/* floor(a / b) for b > 0 (C division truncates toward zero). */
static inline int64_t snnc_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if (a % b != 0 && a < 0) {
        q -= 1;
    }
    return q;
}

/* Whether the weight kernels' shift argument is compiled in: only for models with weight
 * exponents (SNNC_USE_WEIGHT_EXP), so the others carry no shift step. SNNC_SHIFTED(shift):
 * this call shifts its sums (and so adds the bias after the shift, not before the sums). */
#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_WEIGHT_EXP)
#define SNNC_SHIFTED(shift) ((shift) != 0)
#else
#define SNNC_SHIFTED(shift) ((void)(shift), 0)
#endif

/* y = y * 2^shift + bias[c] over (outer, channels, inner) values, bias NULL for none: the end
 * of a weight layer whose weights are int8 mantissas times 2^shift (its weight exponent). Its
 * kernel sums the mantissas without the bias, then applies this itself (one call per layer;
 * snnc_scale_* is the same step as an operator of its own). The compiler proves every value
 * fits the type; the factor multiplies, so no negative value is shifted. */
#define SNNC_SHIFT_BIAS_DEFINE_(Y, YT)                                                        \
    static inline void SNNC_CAT2(snnc_shift_bias, Y)(                                         \
        YT *y, int32_t outer, int32_t channels, int32_t inner, int32_t shift,                 \
        const int32_t *bias)                                                                  \
    {                                                                                         \
        const YT factor = (YT)((YT)1 << shift);                                               \
        for (int32_t o = 0; o < outer; ++o) {                                                 \
            for (int32_t c = 0; c < channels; ++c) {                                          \
                const YT add = bias != NULL ? (YT)bias[c] : 0;                                \
                for (int32_t i = 0; i < inner; ++i, ++y) {                                    \
                    *y = (YT)(*y * factor + add);                                             \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }
SNNC_SHIFT_BIAS_DEFINE_(s8, int8_t)
SNNC_SHIFT_BIAS_DEFINE_(s32, int32_t)
SNNC_SHIFT_BIAS_DEFINE_(s64, int64_t)

#endif /* SNNC_TYPES_H */
