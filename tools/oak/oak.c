/* oak.c - the oak command: `oak new` writes a new project; more commands
 * (a supervisor daemon, status) will come.
 */
#include "cli.h"

#include <oak/version.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char usage_text[] =
    "usage: oak COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  new --sup NAME   write a new CMake project NAME/: an application with\n"
    "                   a top supervisor, one worker (a gen_server) and a\n"
    "                   test, built against the installed oak (see oak new\n"
    "                   --help)\n"
    "\n"
    "Options:\n"
    "  --help           print this help and exit\n"
    "  --version        print the version and exit\n"
    "\n"
    "Exit status: 0 on success, 100 for a usage error, 111 for a system\n"
    "error.\n";

static void vfatal(int status, const char *fmt, va_list ap) CLI_NORETURN;
static void vfatal(int status, const char *fmt, va_list ap)
{
    fputs("oak: fatal: unable to ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    exit(status);
}

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfatal(CLI_EXIT_USAGE, fmt, ap);
}

void cli_system_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfatal(CLI_EXIT_SYSTEM, fmt, ap);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        cli_usage_error("run: no command given (try oak --help)");
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("oak %s\n", OAK_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "new"))
        return cli_new(argc - 1, argv + 1);
    if (cmd[0] == '-')
        cli_usage_error("run: unknown option %s (try oak --help)", cmd);
    cli_usage_error("run: unknown command %s (try oak --help)", cmd);
}
