/* a01_one_for_one_crash_first: OAK_ONE_FOR_ONE, children [a,b,c] (permanent workers trapping exits); crash a
 * with reason boom, then stop the supervisor. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a"), or_w("b"), or_w("c")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 10, 60), c, 3);
    or_show_children("top");
    or_crash("a", "boom");
    or_show_children("top");
    or_show_counts("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
