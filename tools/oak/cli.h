/* cli.h - what the oak command's subcommands share: the program name and
 * the daemontools-style exits (see STYLE.md, the command-line tools).
 */
#ifndef OAK_CLI_H
#define OAK_CLI_H

#include <stdarg.h>

#define CLI_EXIT_USAGE 100  /* bad arguments */
#define CLI_EXIT_SYSTEM 111 /* the system refused (a file, memory, ...) */

#if defined(__GNUC__)
#define CLI_NORETURN __attribute__((noreturn))
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_NORETURN
#define CLI_PRINTF(f, a)
#endif

/* "oak: fatal: unable to <what>" on stderr, then exit 100. */
CLI_NORETURN void cli_usage_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* "oak: fatal: unable to <what>" on stderr, then exit 111. */
CLI_NORETURN void cli_system_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* oak new [--sup] NAME. Returns the exit status. */
int cli_new(int argc, char **argv);

#endif
