/* Template body of the typed attention kernels; see snnc_attention.h.
 * Included by snnc_attention.c with SNNC_X / SNNC_X_T and SNNC_Y / SNNC_Y_T defined. */

SNNC_ATTENTION_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    const int32_t d_head = p->dim / p->heads;
    for (int32_t h = 0; h < p->heads; ++h) {
        const int32_t col = h * d_head;
        const int32_t *mask = p->mask + (size_t)h * (size_t)p->length;
        for (int32_t n = 0; n < p->length; ++n) {
            const SNNC_X_T *qn = q + (size_t)n * (size_t)p->dim + col;
            for (int32_t m = 0; m < p->length; ++m) {
                const SNNC_X_T *km = k + (size_t)m * (size_t)p->dim + col;
                int64_t dot = 0;
                for (int32_t j = 0; j < d_head; ++j) {
                    dot += (int64_t)qn[j] * (int64_t)km[j];
                }
                scores[m] = dot * mask[n > m ? n - m : m - n];
            }
            SNNC_Y_T *on = out + (size_t)n * (size_t)p->dim + col;
            for (int32_t j = 0; j < d_head; ++j) {
                int64_t acc = 0;
                for (int32_t m = 0; m < p->length; ++m) {
                    acc += scores[m] * (int64_t)v[(size_t)m * (size_t)p->dim + (size_t)(col + j)];
                }
                on[j] = (SNNC_Y_T)snnc_floor_shift(acc, SNNC_MASK_FRAC_BITS);
            }
        }
    }
}

#undef SNNC_X
#undef SNNC_X_T
#undef SNNC_Y
#undef SNNC_Y_T
