/* atom.h - the atom table. */
#ifndef OAK_CORE_ATOM_H
#define OAK_CORE_ATOM_H
#include "oak/types.h"
/* Length of an atom's name (0 for a bad atom). */
size_t oak__atom_len(oak_atom a);
#endif
