/* error.h - what the core's reports share with error.c. */
#ifndef OAK_CORE_ERROR_H
#define OAK_CORE_ERROR_H

#include <stddef.h>

#include "oak/types.h"

/* Write the head of a report about process pid, as every report line
 * starts: "process=NAME pid=<0.S.G>" when pid is registered, else
 * "process=<0.S.G> pid=<0.S.G>" (a report names a process by its registered
 * name where it has one, as OTP's do). Returns buf. Any thread. */
char *oak__report_who(oak_pid pid, char *buf, size_t size);

#endif
