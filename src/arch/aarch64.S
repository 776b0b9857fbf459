/* Context switch for AArch64 (AAPCS64).
 *
 *   void oak__ctx_switch(void **from_sp, void *to_sp);   x0, x1
 *
 * A saved context, from its stack pointer upwards (160 bytes):
 *
 *   sp+0    x19 x20      sp+48   x25 x26      sp+96   d8  d9
 *   sp+16   x21 x22      sp+64   x27 x28      sp+112  d10 d11
 *   sp+32   x23 x24      sp+80   x29 x30(lr)  sp+128  d12 d13
 *                                             sp+144  d14 d15
 *
 * FPCR is not saved: processes share the scheduler thread's rounding mode.
 */
        .text
        .globl  oak__ctx_switch
        .hidden oak__ctx_switch
        .type   oak__ctx_switch, %function
        .p2align 4
oak__ctx_switch:
        sub     sp, sp, #160
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8, d9, [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mov     x2, sp
        str     x2, [x0]
        mov     sp, x1
        ldp     x19, x20, [sp, #0]
        ldp     x21, x22, [sp, #16]
        ldp     x23, x24, [sp, #32]
        ldp     x25, x26, [sp, #48]
        ldp     x27, x28, [sp, #64]
        ldp     x29, x30, [sp, #80]
        ldp     d8, d9, [sp, #96]
        ldp     d10, d11, [sp, #112]
        ldp     d12, d13, [sp, #128]
        ldp     d14, d15, [sp, #144]
        add     sp, sp, #160
        ret
        .size   oak__ctx_switch, .-oak__ctx_switch

/* The first return of a new context lands here with fn in x19 and arg in
 * x20 (placed by oak__ctx_make). */
        .globl  oak__ctx_start
        .hidden oak__ctx_start
        .type   oak__ctx_start, %function
        .p2align 4
oak__ctx_start:
        mov     x29, #0
        mov     x0, x20
        blr     x19
        brk     #0
        .size   oak__ctx_start, .-oak__ctx_start

        .section .note.GNU-stack,"",%progbits
