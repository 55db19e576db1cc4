/* snnc runtime: 2-D convolution synapses (ONNX Conv semantics: NCHW, OIHW, zero padding).
 *
 * y = conv(x, W) * 2^shift + b: W the int8 mantissas of weights with exponent shift (0 without
 * one); the kernels apply the shift and the bias themselves, as the dense ones (snnc_dense.h).
 *
 * - direct: each output sums its receptive field; no im2col buffer, so RAM stays at the size of
 *   the input and output tensors.
 * - event-driven: each active input scatters its weights into the outputs it reaches. Weights
 *   are reordered to (in_c, k_h, k_w, out_c / groups) so one event reads contiguous weights.
 *   Work is proportional to the spike count, not to the tensor size.
 */
#ifndef SNNC_CONV_H
#define SNNC_CONV_H

#include "snnc_dense.h"

#define SNNC_CONV_PROTO(X, XT, Y, YT)                                                         \
    void SNNC_CAT3(snnc_conv, X, Y)(const snnc_geom *g, const XT *x, const int8_t *w,         \
                                    const int32_t *bias, YT *y, int32_t shift)

/* x == NULL: binary events. idx lists flat CHW input indices in ascending order. */
#define SNNC_CONV_EVENT_PROTO(Y, YT)                                                          \
    void SNNC_CAT2(snnc_conv_event, Y)(const snnc_geom *g, const uint16_t *idx,               \
                                       int32_t count, const int8_t *x, const int8_t *w_event, \
                                       const int32_t *bias, YT *y, int32_t shift)

#define SNNC_CONV_DECLARE_(X, XT, Y, YT) SNNC_CONV_PROTO(X, XT, Y, YT);
#define SNNC_CONV_EVENT_DECLARE_(Y, YT) SNNC_CONV_EVENT_PROTO(Y, YT);
SNNC_TO_WIDE_TYPES(SNNC_CONV_DECLARE_)
SNNC_EVENT_TYPES(SNNC_CONV_EVENT_DECLARE_)

#endif /* SNNC_CONV_H */
