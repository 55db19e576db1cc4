/* Template body of the typed fully connected kernels; see snnc_dense.h.
 *
 * Included by snnc_dense.c once per type combination with these macros defined (the event
 * kernels call the column helpers snnc_col_add_Y, snnc_col_mla_Y, snnc_csr_events_Y and
 * snnc_csr_mla_Y defined there, which have the fast paths of the 32-bit case):
 *   SNNC_X / SNNC_X_T   input suffix and type (dense kernel only, when SNNC_DENSE_GENERIC)
 *   SNNC_Y / SNNC_Y_T   output (= accumulator) suffix and type
 *   SNNC_P_T            type of one product x * w (int64_t when either side is 64-bit)
 * No include guard on purpose; every macro is undefined at the end.
 */

#ifdef SNNC_DENSE_GENERIC
SNNC_DENSE_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
    for (int32_t r = 0; r < rows; ++r) {
        const SNNC_X_T *xr = x + (size_t)r * (size_t)n_in;
        SNNC_Y_T *yr = y + (size_t)r * (size_t)n_out;
        const int8_t *wo = w;
        for (int32_t o = 0; o < n_out; ++o, wo += n_in) {
            SNNC_Y_T acc = start != NULL ? (SNNC_Y_T)start[o] : 0;
            for (int32_t i = 0; i < n_in; ++i) {
                acc += (SNNC_Y_T)((SNNC_P_T)xr[i] * (SNNC_P_T)wo[i]);
            }
            yr[o] = acc;
        }
    }
    if (SNNC_SHIFTED(shift)) {
        SNNC_CAT2(snnc_shift_bias, SNNC_Y)(y, rows, n_out, 1, shift, bias);
    }
}
#undef SNNC_DENSE_GENERIC
#endif

#ifdef SNNC_EVENT_FAMILY
SNNC_FILL_BIAS_PROTO(SNNC_Y, SNNC_Y_T)
{
    for (int32_t r = 0; r < rows; ++r) {
        SNNC_Y_T *yr = y + (size_t)r * (size_t)n_out;
        for (int32_t o = 0; o < n_out; ++o) {
            yr[o] = bias != NULL ? (SNNC_Y_T)bias[o] : 0;
        }
    }
}

SNNC_EVENT_DENSE_PROTO(SNNC_Y, SNNC_Y_T)
{
    int32_t row_end = n_in;
    SNNC_Y_T *yr = y;
    /* with a shift the bias comes after it */
    SNNC_CAT2(snnc_fill_bias, SNNC_Y)(y, SNNC_SHIFTED(shift) ? NULL : bias, rows, n_out);
    for (int32_t e = 0; e < count; ++e) {
        const int32_t i = (int32_t)idx[e];
        while (i >= row_end) { /* events are sorted: advance to the row holding input i */
            row_end += n_in;
            yr += n_out;
        }
        const int8_t *col = wt + (size_t)(i - (row_end - n_in)) * (size_t)n_out;
        if (x == NULL) {
            SNNC_CAT2(snnc_col_add, SNNC_Y)(yr, col, n_out);
        } else {
            SNNC_CAT2(snnc_col_mla, SNNC_Y)(yr, col, (SNNC_Y_T)x[i], n_out);
        }
    }
    if (SNNC_SHIFTED(shift)) {
        SNNC_CAT2(snnc_shift_bias, SNNC_Y)(y, rows, n_out, 1, shift, bias);
    }
}

SNNC_EVENT_CSR_PROTO(SNNC_Y, SNNC_Y_T)
{
    int32_t e = 0;
    SNNC_CAT2(snnc_fill_bias, SNNC_Y)(y, bias, rows, n_out);
    for (int32_t r = 0; r < rows && e < count; ++r) {
        SNNC_Y_T *yr = y + (size_t)r * (size_t)n_out;
        const int32_t base = r * n_in;
        int32_t end = count; /* events are sorted: those of row r come next */
        if (r + 1 < rows) {
            for (end = e; end < count && (int32_t)idx[end] < base + n_in; ++end) {
            }
        }
        if (x == NULL) {
            SNNC_CAT2(snnc_csr_events, SNNC_Y)(yr, idx + e, end - e, base, row_ptr, cols, vals);
        } else {
            for (int32_t k = e; k < end; ++k) {
                const int32_t i = (int32_t)idx[k];
                const int32_t lo = row_ptr[i - base];
                SNNC_CAT2(snnc_csr_mla, SNNC_Y)(yr, cols + lo, vals + lo, (SNNC_Y_T)x[i],
                                                row_ptr[i - base + 1] - lo);
            }
        }
        e = end;
    }
}
#undef SNNC_EVENT_FAMILY
#endif

#undef SNNC_X
#undef SNNC_X_T
#undef SNNC_Y
#undef SNNC_Y_T
#undef SNNC_P_T
