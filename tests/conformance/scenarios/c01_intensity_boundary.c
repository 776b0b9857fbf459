/* c01: intensity 3, period 5: the 4th crash makes the supervisor give up. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a"), or_w("b"), or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 3, 5), c, 3);
    or_crash("b", "boom");
    or_crash("b", "boom");
    or_crash("b", "boom");
    or_show_children("top");
    or_crash("b", "boom");
    or_await_top("top");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
