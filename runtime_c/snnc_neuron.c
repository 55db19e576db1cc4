/* snnc runtime: neuron updates; see snnc_neuron.h. */
#include "snnc_neuron.h"

#define SNNC_NEURON_LIF
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_LIF
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_LIF
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_LIF
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_LIF
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_S s32
#define SNNC_S_T int32_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_LIF
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_S s64
#define SNNC_S_T int64_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s8
#define SNNC_X_T int8_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s32
#define SNNC_X_T int32_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_O s8
#define SNNC_O_T int8_t
#include "snnc_neuron_impl.h"

#define SNNC_NEURON_MULTILEVEL
#define SNNC_X s64
#define SNNC_X_T int64_t
#define SNNC_O s32
#define SNNC_O_T int32_t
#include "snnc_neuron_impl.h"
