/* snnc runtime: operators without weights: pooling, widening copy, elementwise add, the
 * weight-exponent scale and the count-to-steps spread of the mixed SNN/QNN schedule.
 *
 * Pooling follows snnc.reference.kernels.pool2d in integer mode: max over the real (non-padding)
 * elements of each window, or their sum (average pooling is a sum pool; its 1/area factor lives
 * in the next layer's scale). The compiler rejects windows made only of padding.
 */
#ifndef SNNC_TENSOR_H
#define SNNC_TENSOR_H

#include "snnc_types.h"

/* The (input, output) pairs of the widening kernels: the output is never narrower. */
#define SNNC_WIDEN_TYPES(M)                                                                   \
    M(s8, int8_t, s8, int8_t)                                                                 \
    M(s8, int8_t, s32, int32_t)                                                               \
    M(s8, int8_t, s64, int64_t)                                                               \
    M(s32, int32_t, s32, int32_t)                                                             \
    M(s32, int32_t, s64, int64_t)                                                             \
    M(s64, int64_t, s64, int64_t)

#define SNNC_POOL_MAX_PROTO(X, XT, Y, YT)                                                     \
    void SNNC_CAT3(snnc_pool_max, X, Y)(const snnc_geom *g, const XT *x, YT *y)
#define SNNC_POOL_SUM_PROTO(X, XT, Y, YT)                                                     \
    void SNNC_CAT3(snnc_pool_sum, X, Y)(const snnc_geom *g, const XT *x, YT *y)
/* y[i] = x[i] */
#define SNNC_COPY_PROTO(X, XT, Y, YT)                                                         \
    void SNNC_CAT3(snnc_copy, X, Y)(const XT *x, YT *y, int32_t n)
/* y[i] += x[i] */
#define SNNC_ADD_PROTO(X, XT, Y, YT)                                                          \
    void SNNC_CAT3(snnc_add, X, Y)(const XT *x, YT *y, int32_t n)

/* Step t (0..steps-1) of a count spread evenly over steps steps (the deterministic rate code
 * of snnc.reference.mapped.spread): y[i] = floor((t+1) x[i] / steps) - floor(t x[i] / steps).
 * A step's value never exceeds its count, so y may be as narrow as x. */
#define SNNC_SPREAD_PROTO(X, XT, Y, YT)                                                       \
    void SNNC_CAT3(snnc_spread, X, Y)(const XT *x, YT *y, int32_t n, int32_t t, int32_t steps)

/* y = y * 2^shift + bias[c] over (outer, channels, inner) values, bias NULL for none: a weight
 * layer whose weights are int8 mantissas times 2^shift (its weight exponent) runs its kernel
 * on the mantissas without bias, then this. The compiler proves every value fits YT. */
#define SNNC_SCALE_PROTO(X, XT, Y, YT)                                                        \
    void SNNC_CAT3(snnc_scale, X, Y)(YT *y, int32_t outer, int32_t channels, int32_t inner,  \
                                     int32_t shift, const int32_t *bias)

#define SNNC_TENSOR_DECLARE_(X, XT, Y, YT)                                                    \
    SNNC_SCALE_PROTO(X, XT, Y, YT);                                                           \
    SNNC_POOL_MAX_PROTO(X, XT, Y, YT);                                                        \
    SNNC_POOL_SUM_PROTO(X, XT, Y, YT);                                                        \
    SNNC_COPY_PROTO(X, XT, Y, YT);                                                            \
    SNNC_ADD_PROTO(X, XT, Y, YT);                                                             \
    SNNC_SPREAD_PROTO(X, XT, Y, YT);
SNNC_WIDEN_TYPES(SNNC_TENSOR_DECLARE_)

#endif /* SNNC_TENSOR_H */
