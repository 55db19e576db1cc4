/* snnc runtime: a ready snnc_uart_port for the Arm CMSDK APB UART (the MPS2/MPS3 FPGA boards and
 * their QEMU models mps2-an386, mps2-an500, mps3-an547), with SysTick as the cycle counter.
 *
 * Build with SNNC_CMSDK_UART_BASE (the UART's address) and SNNC_CPU_HZ (the UART's clock, for
 * the baud divider) defined; SNNC_UART_BAUD defaults to 115200. The port owns SysTick: it runs
 * from the processor clock over the full 24-bit range and SysTick_Handler counts its wraps.
 */
#ifndef SNNC_UART_CMSDK_H
#define SNNC_UART_CMSDK_H

#include "snnc_uart.h"

/* Enables the UART and starts SysTick; returns the port to hand to snnc_uart_serve. */
const snnc_uart_port *snnc_uart_cmsdk_init(void);

void SysTick_Handler(void);

#endif /* SNNC_UART_CMSDK_H */
