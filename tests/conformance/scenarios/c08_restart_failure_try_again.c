/* c08: a failing restart is reported and retried; each try counts. */
#include "oracle.h"

static void scenario(void)
{
    const char *script[] = {"ok", "stop:nope", "stop:nope", "ok"};
    or_set_script("a", 4, script);
    oak_child_spec c[] = {or_w("a"), or_w("b")};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 5, 60), c, 2);
    or_crash("a", "boom");
    or_show_children("top");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
