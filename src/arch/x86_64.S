/* Context switch for x86-64 (System V ABI).
 *
 *   void oak__ctx_switch(void **from_sp, void *to_sp);   rdi, rsi
 *
 * A saved context, from its stack pointer upwards:
 *
 *   sp+0   MXCSR (4 bytes) | x87 control word (2 bytes) | pad (2 bytes)
 *   sp+8   r15
 *   sp+16  r14
 *   sp+24  r13
 *   sp+32  r12
 *   sp+40  rbx
 *   sp+48  rbp
 *   sp+56  return address
 *
 * MXCSR and the x87 control word are callee-saved in the ABI (rounding
 * mode, exception masks), so a process that changes them keeps its own.
 * rax and rcx (caller-saved) are scratch.
 */
        .text
        .globl  oak__ctx_switch
        .hidden oak__ctx_switch
        .type   oak__ctx_switch, @function
        .p2align 4
oak__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movl    (%rsp), %eax
        movzwl  4(%rsp), %ecx
        movq    %rsi, %rsp
        /* Load the saved MXCSR and control word only when they differ
         * from the current ones: almost every process keeps the
         * defaults, and the loads are slow (they stall what follows). */
        cmpl    (%rsp), %eax
        jne     3f
1:      cmpw    4(%rsp), %cx
        jne     4f
2:      addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
3:      ldmxcsr (%rsp)
        jmp     1b
4:      fldcw   4(%rsp)
        jmp     2b
        .cfi_endproc
        .size   oak__ctx_switch, .-oak__ctx_switch

/* The first return of a new context lands here with fn in r12 and arg in
 * rbx (placed by oak__ctx_make), and rsp 16-byte aligned. */
        .globl  oak__ctx_start
        .hidden oak__ctx_start
        .type   oak__ctx_start, @function
        .p2align 4
oak__ctx_start:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        movq    %rbx, %rdi
        callq   *%r12
        ud2
        .cfi_endproc
        .size   oak__ctx_start, .-oak__ctx_start

        .section .note.GNU-stack,"",@progbits
