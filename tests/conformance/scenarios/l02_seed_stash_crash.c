/* l02: the stash crashes and restarts with 123; seq keeps its value and
 * saves it into the new stash on its own crash. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec seq[] = {or_seq_spec()};
    oak_child_spec c[] = {or_stash_spec(123),
                          or_sup("sub", or_flags(OAK_ONE_FOR_ONE, 1, 5), seq, 1)};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 3, 5), c, 2);
    or_seq_next("next_number");
    or_seq_next("next_number");
    or_crash("stash", "boom");
    or_ev("stash_get_value -> %ld", or_stash_get_value());
    or_seq_next("next_number");
    or_seq_next("next_number");
    oak_ref ref = or_watch(oak_whereis(oak_atom_from("seq")));
    or_seq_increment_term("\"cat\"");
    or_await_silent(ref);
    or_settle(150);
    or_seq_next("next_number");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
