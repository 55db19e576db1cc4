/* snnc runtime: pooling, copy and add; see snnc_tensor.h. */
#include "snnc_tensor.h"

/* A project compiles only the instantiations its model calls (SNNC_USE_* in snnc_config.h)
 * unless SNNC_ALL_KERNELS is defined. */

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S8_S8)
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s8
#define SNNC_Y_T int8_t
#include "snnc_tensor_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S8_S32)
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_tensor_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S8_S64)
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S32_S32)
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_tensor_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S32_S64)
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_TENSOR_S64_S64)
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"
#endif
