/* sanitizer.h - telling AddressSanitizer and ThreadSanitizer about the
 * context switches, so that they follow each process's stack (fibers). */
#ifndef OAK_CORE_SANITIZER_H
#define OAK_CORE_SANITIZER_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OAK_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define OAK_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define OAK_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define OAK_TSAN 1
#endif

#ifdef OAK_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __asan_poison_memory_region(void const volatile *addr, size_t size);
#define oak__asan_unpoison(a, n) __asan_unpoison_memory_region((a), (n))
#define oak__asan_poison(a, n) __asan_poison_memory_region((a), (n))
#else
#define oak__asan_unpoison(a, n) ((void)(a), (void)(n))
#define oak__asan_poison(a, n) ((void)(a), (void)(n))
#endif

#ifdef OAK_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

#endif
