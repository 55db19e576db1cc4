/* snnc runtime: neuron updates (LIF, IF, CubaLIF and multi-level spikes).
 *
 * One call advances a whole layer by one step, exactly as snnc.reference.integer.neuron_step:
 *   LIF:  u = a << input_shift                  (IF is LIF with dv = 0; with
 *         SNNC_LIF_CURRENT_REGISTER u also overflows like the current, as on Loihi)
 *   CUBA: u = ovf_u(decay(u, du + offset) + (a << input_shift))
 *   v' = ovf_v(decay(v, dv) + u + (bias << input_shift)),  theta = vth << threshold_shift
 *   same-step reset: s = v' > theta (>=), v = reset(v', s)
 *   next-step reset: v = reset(v', v_prev > theta), s = v > theta   (snnTorch)
 *   graded (graded_max > 0): s = clip(floor(v' / theta), 0, graded_max), v = v' - theta * s
 *         (compiled in with SNNC_GRADED, set when the model has a graded layer: the division)
 * Parameters are either one value for the layer (stride 0) or one per neuron (stride 1).
 */
#ifndef SNNC_NEURON_H
#define SNNC_NEURON_H

#include "snnc_types.h"

typedef struct {
    int32_t count;
    const int32_t *dv;   /* voltage decay in [0, 2^D] */
    const int32_t *du;   /* current decay; NULL for LIF/IF (no current state) */
    const int32_t *vth;  /* threshold mantissa */
    const int32_t *bias; /* membrane bias; NULL when the layer has none */
    int32_t dv_stride, du_stride, vth_stride, bias_stride;
    int32_t reset;       /* SNNC_RESET_ZERO / _SUBTRACT / _NONE */
    int32_t reset_next;  /* 1: reset from the previous membrane (snnTorch) */
    int32_t compare_ge;  /* 1: fire on v >= theta instead of v > theta */
    int32_t graded_max;  /* > 0: send spike counts up to this (theta >= 1); 0: binary spikes */
} snnc_neuron_params;

/* Multi-level spikes: s = clip(floor(I / theta + 1/2), 0, levels), theta either the constant vth
 * or alpha_mant * mean|I| / 2^alpha_frac_bits over the middle axis of an (outer, n, inner)
 * view, computed as an exact rational (no division until the final floor). */
typedef struct {
    int32_t outer, n, inner;
    int32_t levels;
    int32_t constant;    /* 1: theta = vth */
    int64_t alpha_mant;
    int64_t vth;
} snnc_multilevel_params;

/* The (current, level) type pairs of the multi-level kernels. */
#define SNNC_MULTILEVEL_TYPES(M)                                                              \
    M(s8, int8_t, s8, int8_t)                                                                 \
    M(s8, int8_t, s32, int32_t)                                                               \
    M(s32, int32_t, s8, int8_t)                                                               \
    M(s32, int32_t, s32, int32_t)                                                             \
    M(s64, int64_t, s8, int8_t)                                                               \
    M(s64, int64_t, s32, int32_t)

/* u may be NULL (LIF/IF). */
#define SNNC_NEURON_PROTO(X, XT, S, ST)                                                       \
    void SNNC_CAT3(snnc_neuron, X, S)(const snnc_neuron_params *p, const XT *current, ST *v,  \
                                      ST *u, int8_t *spikes)
#define SNNC_MULTILEVEL_PROTO(X, XT, O, OT)                                                   \
    void SNNC_CAT3(snnc_multilevel, X, O)(const snnc_multilevel_params *p, const XT *current, \
                                          OT *levels)

#define SNNC_NEURON_DECLARE_(X, XT, S, ST) SNNC_NEURON_PROTO(X, XT, S, ST);
#define SNNC_MULTILEVEL_DECLARE_(X, XT, O, OT) SNNC_MULTILEVEL_PROTO(X, XT, O, OT);
SNNC_TO_WIDE_TYPES(SNNC_NEURON_DECLARE_) /* spikes are int8 (0/1, or counts up to 127) */
SNNC_MULTILEVEL_TYPES(SNNC_MULTILEVEL_DECLARE_)

/* Overflow of the membrane and of the synaptic current, as the profile says. */
static inline int64_t snnc_overflow_v(int64_t x)
{
#if SNNC_VOLTAGE_WRAP
    return snnc_wrap(x, SNNC_STATE_BITS);
#else
    return snnc_saturate(x, SNNC_STATE_BITS);
#endif
}

static inline int64_t snnc_overflow_u(int64_t x)
{
#if SNNC_CURRENT_WRAP
    return snnc_wrap(x, SNNC_CURRENT_BITS);
#else
    return snnc_saturate(x, SNNC_CURRENT_BITS);
#endif
}

static inline int snnc_fires(int64_t v, int64_t theta, int32_t compare_ge)
{
    return compare_ge ? v >= theta : v > theta;
}

static inline int64_t snnc_reset(int64_t v, int fired, int64_t theta, int32_t kind)
{
    if (!fired || kind == SNNC_RESET_NONE) {
        return v;
    }
    return kind == SNNC_RESET_ZERO ? 0 : v - theta;
}

/* A graded spike count: floor(drive / theta) clipped to [0, graded_max] (theta >= 1). */
static inline int64_t snnc_graded_count(int64_t drive, int64_t theta, int32_t graded_max)
{
    const int64_t q = snnc_floor_div(drive, theta);
    return q < 0 ? 0 : (q > graded_max ? graded_max : q);
}

/* floor(top / num) clipped to [0, levels]; 0 where the threshold is not positive. */
static inline int64_t snnc_level(int64_t top, int64_t num, int32_t levels)
{
    if (num <= 0) {
        return 0;
    }
    const int64_t q = snnc_floor_div(top, num);
    return q < 0 ? 0 : (q > levels ? levels : q);
}

#endif /* SNNC_NEURON_H */
