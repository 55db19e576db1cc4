/* snnc runtime: pooling, copy and add; see snnc_tensor.h. */
#include "snnc_tensor.h"

#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s8
#define SNNC_Y_T int8_t
#include "snnc_tensor_impl.h"

#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_tensor_impl.h"

#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"

#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s32
#define SNNC_Y_T int32_t
#include "snnc_tensor_impl.h"

#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"

#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_Y s64
#define SNNC_Y_T int64_t
#include "snnc_tensor_impl.h"
