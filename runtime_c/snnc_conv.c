/* snnc runtime: convolution synapses; see snnc_conv.h. */
#include "snnc_conv.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int32_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int32_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#define SNNC_P_T int64_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_DIRECT
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#define SNNC_P_T int64_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_EVENT
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_conv_impl.h"

#define SNNC_CONV_EVENT
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_conv_impl.h"
