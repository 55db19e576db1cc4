/* snnc runtime: softmax-free spiking self-attention with a hierarchical decay mask.
 *
 * Per head h, for (L, D) inputs Q, K, V split into heads of D / heads columns:
 *   out[n] = (sum_m (Q_h[n] . K_h[m]) * mask[h, |n - m|] * V_h[m]) >> mask_frac_bits
 * with the shift rounding toward minus infinity, exactly as snnc.reference.integer.attention.
 * The decay mask depends only on the distance |n - m|, so it is stored as heads x L values.
 * scores is a scratch row of L int64 values.
 */
#ifndef SNNC_ATTENTION_H
#define SNNC_ATTENTION_H

#include "snnc_types.h"

typedef struct {
    int32_t length, dim, heads;
    const int32_t *mask; /* (heads, length): mask by distance, mask_frac_bits fraction bits */
} snnc_attention_params;

#define SNNC_ATTENTION_PROTO(X, XT, Y, YT)                                                    \
    void SNNC_CAT3(snnc_attention, X, Y)(const snnc_attention_params *p, const XT *q,         \
                                         const XT *k, const XT *v, int64_t *scores, YT *out)

#define SNNC_ATTENTION_DECLARE_(X, XT, Y, YT) SNNC_ATTENTION_PROTO(X, XT, Y, YT);
SNNC_TO_WIDE_TYPES(SNNC_ATTENTION_DECLARE_)

#endif /* SNNC_ATTENTION_H */
