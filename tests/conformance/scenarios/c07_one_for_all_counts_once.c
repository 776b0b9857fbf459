/* c07: a one_for_all restart of N children counts as one restart. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a"), or_w("b"), or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ALL, 1, 10), c, 3);
    or_crash("b", "boom");
    or_crash("c", "boom");
    or_await_top("top");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
