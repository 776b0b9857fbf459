#!/bin/sh
# doxygen-filter.sh HEADER: the header as Doxygen should read it (make docs).
#
# oak's headers document every declaration in plain C comments placed
# before it (STYLE.md), and fields and macros in comments after them on the
# same line. Doxygen reads only its own comment markers, so this turns
#   the first comment of the file       into  /** \file ...
#   a comment that starts a line        into  /** ...   (the next declaration)
#   a comment after code on its line    into  /**< ...  (that member)
# and leaves section rulers (/* ---- name ---- */) as plain comments. The
# headers themselves stay plain C.
exec sed -e '1s|^/\* \(.*\)$|/** \\file\n * \1|' \
         -e '/^[[:space:]]*\/\* --/b' \
         -e 's|^\([[:space:]]*\)/\*\([[:space:]]\)|\1/**\2|' \
         -e 's|^\([[:space:]]*[^[:space:]/*].*[^[:space:]]\)[[:space:]]*/\*\([[:space:]]\)|\1 /**<\2|' \
         "$1"
