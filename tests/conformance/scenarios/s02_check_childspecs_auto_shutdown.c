/* s02: check_childspecs rejects a bad auto_shutdown before it looks at the
 * specs; the check_childspecs/1 form (OAK_AUTO_SHUTDOWN_UNDEFINED) checks
 * significant only against restart permanent. */
#include "oracle.h"

static void check(const char *desc, const oak_child_spec *c, oak_auto_shutdown as)
{
    oak_reason why;
    int r = oak_supervisor_check_childspecs(c, 1, as, &why);
    or_ev("%s -> %s", desc, r == 0 ? "ok" : or_result(r, 0, &why, NULL));
}

static void scenario(void)
{
    oak_child_spec ok = or_w("a");
    oak_child_spec sig = or_w("a");
    sig.significant = true;
    sig.restart = OAK_TRANSIENT;
    oak_child_spec sig_perm = or_w("a");
    sig_perm.significant = true;
    oak_child_spec bad = {.id = oak_atom_from("b")};
    check("check_childspecs valid bad_auto_shutdown", &ok, (oak_auto_shutdown)7);
    check("check_childspecs invalid bad_auto_shutdown", &bad, (oak_auto_shutdown)7);
    check("check_childspecs_1 significant_transient", &sig, OAK_AUTO_SHUTDOWN_UNDEFINED);
    check("check_childspecs_1 significant_permanent", &sig_perm, OAK_AUTO_SHUTDOWN_UNDEFINED);
    check("check_childspecs_1 missing_start", &bad, OAK_AUTO_SHUTDOWN_UNDEFINED);
    check("check_childspecs never significant_transient", &sig, OAK_AUTO_SHUTDOWN_NEVER);
    check("check_childspecs any_significant significant_transient", &sig, OAK_ANY_SIGNIFICANT);
}

int main(void) { return or_run(scenario, 0); }
