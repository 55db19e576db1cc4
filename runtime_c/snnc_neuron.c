/* snnc runtime: neuron updates; see snnc_neuron.h. */
#include "snnc_neuron.h"

/* A project compiles only the instantiations its model calls (SNNC_USE_* in snnc_config.h)
 * unless SNNC_ALL_KERNELS is defined. */

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S8_S32)
#define SNNC_NEURON_LIF
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S8_S64)
#define SNNC_NEURON_LIF
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S32_S32)
#define SNNC_NEURON_LIF
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S32_S64)
#define SNNC_NEURON_LIF
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S64_S32)
#define SNNC_NEURON_LIF
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_NEURON_S64_S64)
#define SNNC_NEURON_LIF
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S8_S8)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S8_S32)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S32_S8)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S32_S32)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S64_S8)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"
#endif

#if defined(SNNC_ALL_KERNELS) || defined(SNNC_USE_MULTILEVEL_S64_S32)
#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"
#endif
