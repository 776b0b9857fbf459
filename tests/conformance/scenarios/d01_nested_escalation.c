/* d01: a sub-supervisor exceeds its intensity, exits shutdown and is
 * restarted by top; x and y are untouched. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec ab[] = {or_w("a"), or_w("b")};
    oak_child_spec c[] = {or_w("x"), or_sup("sub", or_flags(OAK_ONE_FOR_ONE, 1, 60), ab, 2),
                          or_w("y")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 3);
    or_crash("a", "boom");
    or_crash("a", "boom");
    or_show_children("top");
    or_show_children("sub");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
