/* atom.h - the atom table. */
#ifndef OAK_CORE_ATOM_H
#define OAK_CORE_ATOM_H
#include "oak/types.h"
/* Length of an atom's name (0 for a bad atom). */
size_t oak__atom_len(oak_atom a);
/* The atom of a name if it is interned already, else OAK_ATOM_NONE: for
 * names that come from other nodes, which must not grow the table. Any
 * thread. */
oak_atom oak__atom_find(const char *name, size_t len);
#endif
