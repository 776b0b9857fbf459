/* c02: intensity 0: the first crash terminates the supervisor. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a"), or_w("b")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 0, 5), c, 2);
    or_crash("a", "boom");
    or_await_top("top");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
