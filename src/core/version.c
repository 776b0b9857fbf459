/* version.c - the version of the library itself (oak/version.h). */
#include "oak/version.h"

unsigned oak_version(void)
{
    return OAK_VERSION_HEX;
}

const char *oak_version_string(void)
{
    return OAK_VERSION_STRING;
}
