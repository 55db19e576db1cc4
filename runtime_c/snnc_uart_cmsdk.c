/* snnc runtime: CMSDK APB UART port of the board-in-the-loop harness; see snnc_uart_cmsdk.h. */
#include "snnc_uart_cmsdk.h"

#include <stdint.h>

#ifndef SNNC_CMSDK_UART_BASE
#error "define SNNC_CMSDK_UART_BASE: the address of the CMSDK UART the host is wired to"
#endif
#ifndef SNNC_CPU_HZ
#error "define SNNC_CPU_HZ: the clock of the CMSDK UART, for its baud divider"
#endif
#ifndef SNNC_UART_BAUD
#define SNNC_UART_BAUD 115200u
#endif

/* CMSDK APB UART registers (word offsets) and bits */
#define SNNC_CMSDK_REG(offset) (*(volatile uint32_t *)((uintptr_t)(SNNC_CMSDK_UART_BASE) + (offset)))
#define SNNC_CMSDK_DATA SNNC_CMSDK_REG(0x00u)
#define SNNC_CMSDK_STATE SNNC_CMSDK_REG(0x04u)
#define SNNC_CMSDK_CTRL SNNC_CMSDK_REG(0x08u)
#define SNNC_CMSDK_BAUDDIV SNNC_CMSDK_REG(0x10u)
#define SNNC_CMSDK_TX_FULL 0x1u
#define SNNC_CMSDK_RX_FULL 0x2u
#define SNNC_CMSDK_TX_ENABLE 0x1u
#define SNNC_CMSDK_RX_ENABLE 0x2u

/* SysTick (Armv7-M / Armv8-M system control space) */
#define SNNC_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SNNC_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SNNC_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SNNC_SYST_ENABLE_TICKINT_CPUCLK 0x7u
#define SNNC_SYST_RANGE 0x1000000u

static volatile uint32_t snnc_systick_wraps;

void SysTick_Handler(void)
{
    snnc_systick_wraps = snnc_systick_wraps + 1u;
}

static void snnc_cmsdk_put(uint8_t byte)
{
    while ((SNNC_CMSDK_STATE & SNNC_CMSDK_TX_FULL) != 0u) {
    }
    SNNC_CMSDK_DATA = byte;
}

static uint8_t snnc_cmsdk_get(void)
{
    while ((SNNC_CMSDK_STATE & SNNC_CMSDK_RX_FULL) == 0u) {
    }
    return (uint8_t)SNNC_CMSDK_DATA;
}

/* Cycles since snnc_uart_cmsdk_init, modulo 2^32: wraps x 2^24 plus the counted-down part. A
 * wrap between the two reads shows as a changed wrap count and the pair is read again. */
static uint32_t snnc_cmsdk_cycles(void)
{
    uint32_t wraps;
    uint32_t value;
    do {
        wraps = snnc_systick_wraps;
        value = SNNC_SYST_CVR;
    } while (wraps != snnc_systick_wraps);
    return wraps * SNNC_SYST_RANGE + (SNNC_SYST_RANGE - 1u - value);
}

static const snnc_uart_port snnc_cmsdk_port = {snnc_cmsdk_put, snnc_cmsdk_get,
                                               snnc_cmsdk_cycles};

const snnc_uart_port *snnc_uart_cmsdk_init(void)
{
    SNNC_CMSDK_CTRL = 0u;
    SNNC_CMSDK_BAUDDIV = (uint32_t)(SNNC_CPU_HZ) / (uint32_t)(SNNC_UART_BAUD);
    SNNC_CMSDK_CTRL = SNNC_CMSDK_TX_ENABLE | SNNC_CMSDK_RX_ENABLE;
    snnc_systick_wraps = 0u;
    SNNC_SYST_RVR = SNNC_SYST_RANGE - 1u;
    SNNC_SYST_CVR = 0u;
    SNNC_SYST_CSR = SNNC_SYST_ENABLE_TICKINT_CPUCLK;
    return &snnc_cmsdk_port;
}
