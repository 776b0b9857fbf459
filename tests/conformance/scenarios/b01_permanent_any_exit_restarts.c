/* b01: a permanent child is restarted whatever its exit reason. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec c[] = {or_w("a")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 10, 60), c, 1);
    or_exit_child("a", "normal");
    or_exit_child("a", "shutdown");
    or_exit_child("a", "{shutdown,bye}");
    or_crash("a", "boom");
    or_show_children("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
