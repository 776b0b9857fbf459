/* oak/version.h - the version of oak, as libuv's uv-version.h.
 *
 * The macros give the version of the headers a program was compiled
 * with; oak_version() and oak_version_string() that of the library it runs
 * with (the two differ when a program built against one release runs with
 * the shared library of another). Versions follow semantic versioning:
 * releases with the same major number are compatible.
 *
 * The numbers are those of project(oak VERSION ...) in CMakeLists.txt;
 * configuring the build fails when this file says otherwise.
 */
#ifndef OAK_VERSION_H
#define OAK_VERSION_H

#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OAK_VERSION_MAJOR 0
#define OAK_VERSION_MINOR 1
#define OAK_VERSION_PATCH 0

/* The three numbers in one integer, 0xMMmmpp: compare versions with < and
 * >, e.g. `#if OAK_VERSION_HEX >= 0x000200` for "0.2.0 or later". */
#define OAK_VERSION_HEX \
    ((OAK_VERSION_MAJOR << 16) | (OAK_VERSION_MINOR << 8) | OAK_VERSION_PATCH)

#define OAK_VERSION_STRINGIFY_(x) #x
#define OAK_VERSION_STRINGIFY(x) OAK_VERSION_STRINGIFY_(x)

/* "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define OAK_VERSION_STRING                      \
    OAK_VERSION_STRINGIFY(OAK_VERSION_MAJOR) "." \
    OAK_VERSION_STRINGIFY(OAK_VERSION_MINOR) "." \
    OAK_VERSION_STRINGIFY(OAK_VERSION_PATCH)

/* The library's version as OAK_VERSION_HEX encodes it. Any thread, before,
 * during and after oak_run(). */
OAK_API unsigned oak_version(void);

/* The library's version as text, "MAJOR.MINOR.PATCH" (static storage,
 * never NULL). Any thread. */
OAK_API const char *oak_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
