/* l01: the seed example. top (one_for_one) = [stash(123), sub (one_for_one)
 * = [seq]]; seq reads its value from the stash in init and saves it in
 * terminate; a bad cast crashes seq and the value survives the restart. */
#include "oracle.h"

static void scenario(void)
{
    oak_child_spec seq[] = {or_seq_spec()};
    oak_child_spec c[] = {or_stash_spec(123),
                          or_sup("sub", or_flags(OAK_ONE_FOR_ONE, 1, 5), seq, 1)};
    or_top("top", or_flags(OAK_ONE_FOR_ONE, 3, 5), c, 2);
    or_seq_next("next_number");
    or_seq_next("next_number");
    or_seq_next("next_number");
    or_seq_increment_int(10);
    or_seq_next("next_number");
    oak_ref ref = or_watch(oak_whereis(oak_atom_from("seq")));
    or_seq_increment_term("\"cat\"");
    or_await_silent(ref);
    or_settle(150);
    or_seq_next("next_number");
    or_seq_next("next_number");
    or_show_children("top");
    or_show_children("sub");
    or_stop_top("top", "shutdown");
}

int main(void) { return or_run(scenario, OR_REPORT_SUPERVISOR); }
