/* Template body of the typed convolution kernels; see snnc_conv.h.
 *
 * Included by snnc_conv.c with SNNC_Y / SNNC_Y_T (output = accumulator) and either
 * SNNC_CONV_DIRECT plus SNNC_X / SNNC_X_T / SNNC_P_T (product type), or SNNC_CONV_EVENT.
 */

#ifdef SNNC_CONV_DIRECT
SNNC_CONV_PROTO(SNNC_X, SNNC_X_T, SNNC_Y, SNNC_Y_T)
{
    const int32_t in_per_group = g->in_c / g->groups;
    const int32_t out_per_group = g->out_c / g->groups;
    const int32_t window = g->k_h * g->k_w;
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
    for (int32_t o = 0; o < g->out_c; ++o) {
        const int32_t c0 = (o / out_per_group) * in_per_group;
        const int8_t *wo = w + (size_t)o * (size_t)(in_per_group * window);
        SNNC_Y_T *yo = y + (size_t)o * (size_t)(g->out_h * g->out_w);
        for (int32_t oy = 0; oy < g->out_h; ++oy) {
            for (int32_t ox = 0; ox < g->out_w; ++ox) {
                SNNC_Y_T acc = start != NULL ? (SNNC_Y_T)start[o] : 0;
                for (int32_t cl = 0; cl < in_per_group; ++cl) {
                    const SNNC_X_T *xc = x + (size_t)(c0 + cl) * (size_t)(g->in_h * g->in_w);
                    const int8_t *wc = wo + (size_t)cl * (size_t)window;
                    for (int32_t ky = 0; ky < g->k_h; ++ky) {
                        const int32_t iy = oy * g->stride_h - g->pad_top + ky * g->dil_h;
                        if (iy < 0 || iy >= g->in_h) {
                            continue;
                        }
                        for (int32_t kx = 0; kx < g->k_w; ++kx) {
                            const int32_t ix = ox * g->stride_w - g->pad_left + kx * g->dil_w;
                            if (ix < 0 || ix >= g->in_w) {
                                continue;
                            }
                            acc += (SNNC_Y_T)((SNNC_P_T)xc[iy * g->in_w + ix]
                                              * (SNNC_P_T)wc[ky * g->k_w + kx]);
                        }
                    }
                }
                yo[oy * g->out_w + ox] = acc;
            }
        }
    }
    if (SNNC_SHIFTED(shift)) {
        SNNC_CAT2(snnc_shift_bias, SNNC_Y)(y, 1, g->out_c, g->out_h * g->out_w, shift, bias);
    }
}
#undef SNNC_CONV_DIRECT
#endif

#ifdef SNNC_CONV_EVENT
SNNC_CONV_EVENT_PROTO(SNNC_Y, SNNC_Y_T)
{
    const int32_t in_per_group = g->in_c / g->groups;
    const int32_t out_per_group = g->out_c / g->groups;
    const int32_t in_plane = g->in_h * g->in_w;
    const int32_t out_plane = g->out_h * g->out_w;
    const int32_t *start = SNNC_SHIFTED(shift) ? NULL : bias; /* with a shift the bias comes after it */
    for (int32_t o = 0; o < g->out_c; ++o) {
        SNNC_Y_T *yo = y + (size_t)o * (size_t)out_plane;
        const SNNC_Y_T b = start != NULL ? (SNNC_Y_T)start[o] : 0;
        for (int32_t k = 0; k < out_plane; ++k) {
            yo[k] = b;
        }
    }
    for (int32_t e = 0; e < count; ++e) {
        const int32_t i = (int32_t)idx[e];
        const int32_t c = i / in_plane;
        const int32_t iy = (i % in_plane) / g->in_w;
        const int32_t ix = i % g->in_w;
        const SNNC_Y_T value = x != NULL ? (SNNC_Y_T)x[i] : 1;
        SNNC_Y_T *yg = y + (size_t)(c / in_per_group) * (size_t)(out_per_group * out_plane);
        const int8_t *wc = w_event + (size_t)c * (size_t)(g->k_h * g->k_w * out_per_group);
        for (int32_t ky = 0; ky < g->k_h; ++ky) {
            /* output row oy reads input row oy * stride - pad + ky * dil */
            const int32_t ty = iy + g->pad_top - ky * g->dil_h;
            if (ty < 0 || ty % g->stride_h != 0 || ty / g->stride_h >= g->out_h) {
                continue;
            }
            for (int32_t kx = 0; kx < g->k_w; ++kx) {
                const int32_t tx = ix + g->pad_left - kx * g->dil_w;
                if (tx < 0 || tx % g->stride_w != 0 || tx / g->stride_w >= g->out_w) {
                    continue;
                }
                const int8_t *wk = wc + (size_t)((ky * g->k_w + kx) * out_per_group);
                SNNC_Y_T *yp = yg + (ty / g->stride_h) * g->out_w + tx / g->stride_w;
                for (int32_t ol = 0; ol < out_per_group; ++ol) {
                    yp[(size_t)ol * (size_t)out_plane] += value * wk[ol];
                }
            }
        }
    }
    if (SNNC_SHIFTED(shift)) {
        SNNC_CAT2(snnc_shift_bias, SNNC_Y)(y, 1, g->out_c, out_plane, shift, bias);
    }
}
#undef SNNC_CONV_EVENT
#endif

#undef SNNC_X
#undef SNNC_X_T
#undef SNNC_Y
#undef SNNC_Y_T
#undef SNNC_P_T
