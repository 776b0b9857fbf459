/* text_first.c - the first object of liboak, and text_last.c the last: the
 * library is built so that its code is one contiguous block between the
 * two (CMakeLists.txt), and the preemption handler never preempts a process
 * inside it (core/preempt.h). */
void oak__text_first(void);
__attribute__((used, noinline)) void oak__text_first(void) {}
