/* templates.h - the project templates of `oak new`, built into the command
 * from tools/oak/templates/ by embed.cmake.
 *
 * In a template's path and text, @NAME@ stands for the project's name,
 * @NAME_UPPER@ for the same in capitals, and @OAK_VERSION@ for the version
 * of oak that wrote it.
 */
#ifndef OAK_CLI_TEMPLATES_H
#define OAK_CLI_TEMPLATES_H

#include <stddef.h>

typedef struct scaffold_template {
    const char *kind; /* the option that selects it: "sup" for --sup */
    const char *path; /* relative to the project's directory */
    const char *text;
} scaffold_template;

extern const scaffold_template scaffold_templates[];
extern const size_t scaffold_template_count;

#endif
