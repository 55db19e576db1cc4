/* Template body of the typed tensor kernels; see snnc_tensor.h.
 * Included by snnc_tensor.c with SNNC_X / SNNC_X_T and SNNC_Y / SNNC_Y_T defined. */

SNNC_POOL_MAX_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    for (int32_t c = 0; c < g->in_c; ++c) {
        const SNNC_X_T *xc = x + (size_t)c * (size_t)(g->in_h * g->in_w);
        SNNC_Y_T *yc = y + (size_t)c * (size_t)(g->out_h * g->out_w);
        for (int32_t oy = 0; oy < g->out_h; ++oy) {
            for (int32_t ox = 0; ox < g->out_w; ++ox) {
                SNNC_X_T best = 0;
                int have = 0;
                for (int32_t ky = 0; ky < g->k_h; ++ky) {
                    const int32_t iy = oy * g->stride_h - g->pad_top + ky;
                    if (iy < 0 || iy >= g->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < g->k_w; ++kx) {
                        const int32_t ix = ox * g->stride_w - g->pad_left + kx;
                        if (ix < 0 || ix >= g->in_w) {
                            continue;
                        }
                        const SNNC_X_T value = xc[iy * g->in_w + ix];
                        if (!have || value > best) {
                            best = value;
                            have = 1;
                        }
                    }
                }
                yc[oy * g->out_w + ox] = best;
            }
        }
    }
}

SNNC_POOL_SUM_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    for (int32_t c = 0; c < g->in_c; ++c) {
        const SNNC_X_T *xc = x + (size_t)c * (size_t)(g->in_h * g->in_w);
        SNNC_Y_T *yc = y + (size_t)c * (size_t)(g->out_h * g->out_w);
        for (int32_t oy = 0; oy < g->out_h; ++oy) {
            for (int32_t ox = 0; ox < g->out_w; ++ox) {
                SNNC_Y_T acc = 0;
                for (int32_t ky = 0; ky < g->k_h; ++ky) {
                    const int32_t iy = oy * g->stride_h - g->pad_top + ky;
                    if (iy < 0 || iy >= g->in_h) {
                        continue;
                    }
                    for (int32_t kx = 0; kx < g->k_w; ++kx) {
                        const int32_t ix = ox * g->stride_w - g->pad_left + kx;
                        if (ix >= 0 && ix < g->in_w) {
                            acc = (SNNC_Y_T)(acc + xc[iy * g->in_w + ix]);
                        }
                    }
                }
                yc[oy * g->out_w + ox] = acc;
            }
        }
    }
}

SNNC_SCALE_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    const SNNC_Y_T factor = (SNNC_Y_T)((SNNC_Y_T)1 << shift); /* no shift of negative values */
    for (int32_t o = 0; o < outer; ++o) {
        for (int32_t c = 0; c < channels; ++c) {
            const SNNC_Y_T add = bias != NULL ? (SNNC_Y_T)bias[c] : 0;
            SNNC_Y_T *yc = y + ((size_t)o * (size_t)channels + (size_t)c) * (size_t)inner;
            for (int32_t i = 0; i < inner; ++i) {
                yc[i] = (SNNC_Y_T)(yc[i] * factor + add);
            }
        }
    }
}

SNNC_COPY_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    for (int32_t i = 0; i < n; ++i) {
        y[i] = x[i];
    }
}

SNNC_ADD_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    for (int32_t i = 0; i < n; ++i) {
        y[i] = (SNNC_Y_T)(y[i] + x[i]);
    }
}

SNNC_SPREAD_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    const int64_t t1 = (int64_t)t + 1;
    for (int32_t i = 0; i < n; ++i) {
        const int64_t c = (int64_t)x[i];
        y[i] = (SNNC_Y_T)(snnc_floor_div(t1 * c, steps) - snnc_floor_div((int64_t)t * c, steps));
    }
}

#undef SNNC_X
#undef SNNC_X_T
#undef SNNC_Y
#undef SNNC_Y_T
