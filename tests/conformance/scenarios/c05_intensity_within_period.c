/* c05: intensity 1, period 3: a second crash 1.5 s later kills. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 1, 3), c, 1);
    or_crash("a", "boom");
    or_settle(1500);
    or_crash("a", "boom");
    or_await_top("top");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
