/* e03: shutdown infinity: the supervisor waits for a slow terminate. */
#include "oracle.h"

static void scenario(void)
{
    or_wopts o = {.terminate_sleep = 1500};
    oak_child_spec a = or_w_opts("a", &o);
    a.shutdown = OAK_INFINITY;
    oak_child_spec c[] = {a, or_w("b")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 2);
    oak_ref ra = or_watch(or_pid_of("a"));
    int64_t t0 = oak_now_ms();
    or_stop_top("top", "shutdown");
    or_elapsed_check(t0, 1450, 3000);
    or_await_down(ra, "a");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
