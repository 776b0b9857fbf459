/* h02: simple_one_for_one stops its children concurrently (~1 s),
 * one_for_one one after another (~3 s). */
#include "oracle.h"

#include <string.h>

static void scenario(void)
{
    static or_wopts o = {.terminate_sleep = 1000, .quiet = 1};
    oak_child_spec tmpl = {.id = oak_atom_from("tmpl"), .start = or_start_dyn,
                           .arg = &o, .arg_size = sizeof o};
    or_top("s141", or_flags(OAK_SIMPLE_ONE_FOR_ONE, 1, 5), &tmpl, 1);
    const char *ds[] = {"d1", "d2", "d3"};
    for (int i = 0; i < 3; i++)
        oak_supervisor_start_child_args(or_pid_of("s141"), ds[i], strlen(ds[i]), NULL, NULL);
    int64_t t0 = oak_now_ms();
    or_stop_top("s141", "shutdown");
    or_elapsed_check(t0, 900, 1900);
    oak_child_spec c[] = {or_w_opts("s1", &o), or_w_opts("s2", &o), or_w_opts("s3", &o)};
    or_top("o41", or_flags(OAK_ONE_FOR_ONE, 1, 5), c, 3);
    int64_t t1 = oak_now_ms();
    or_stop_top("o41", "shutdown");
    or_elapsed_check(t1, 2900, 4500);
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
