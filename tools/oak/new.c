/* new.c - `oak new --sup NAME`: write a new CMake project from the
 * templates built into the command (templates.h).
 *
 * Nothing is overwritten: the project's directory must not exist. If a
 * write fails half-way, what was created is removed again, so a failed run
 * leaves no partial project behind.
 */
#include "cli.h"

#include <oak/version.h>
#include "templates.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define NAME_MAX_LEN 64

static void usage(FILE *to)
{
    fputs("usage: oak new --sup NAME\n"
          "\n"
          "Write a new CMake project in the directory NAME, which must not\n"
          "exist yet:\n",
          to);
    for (size_t i = 0; i < scaffold_template_count; i++)
        if (!strcmp(scaffold_templates[i].kind, "sup"))
            fprintf(to, "  NAME/%s\n", scaffold_templates[i].path);
    fputs("\n"
          "--sup  an application: a top supervisor (one_for_one) with one\n"
          "       worker, a gen_server; main() runs it with\n"
          "       oak_application_run() until SIGINT or SIGTERM; a CTest test\n"
          "       crashes the worker and checks that it is restarted. This is\n"
          "       the only kind so far, and the default.\n"
          "\n"
          "NAME prefixes the project's functions, files and registered names:\n"
          "a letter, then letters, digits and _, at most 64 in all; not oak\n"
          "or oak_..., nor a name CMake keeps for itself (all, test, ...).\n"
          "\n"
          "Build it against the installed oak:\n"
          "  cmake -S NAME -B NAME/build -DCMAKE_PREFIX_PATH=OAK_PREFIX\n"
          "  cmake --build NAME/build && NAME/build/NAME\n"
          "  cd NAME/build && ctest\n"
          "\n"
          "Exit status: 0 on success, 100 for a usage error (a bad name),\n"
          "111 for a system error (NAME exists, a write failed).\n",
          to);
}

/* Why name cannot name a project, or NULL if it can. */
static const char *bad_name(const char *name)
{
    static const char *const cmake_reserved[] = {
        "all", "clean", "help", "install", "test", "package",
        "package_source", "edit_cache", "rebuild_cache", "depend",
        "list_install_components", "preinstall",
    };
    size_t n = strlen(name);
    if (n == 0)
        return "it is empty";
    if (n > NAME_MAX_LEN)
        return "it is longer than 64 characters";
    if (!isalpha((unsigned char)name[0]) || !isascii((unsigned char)name[0]))
        return "it must start with a letter";
    for (size_t i = 1; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isascii(c) || !(isalnum(c) || c == '_'))
            return "use only letters, digits and _";
    }
    if (!strcmp(name, "oak") || !strncmp(name, "oak_", 4))
        return "oak and oak_... belong to the library";
    for (size_t i = 0; i < sizeof cmake_reserved / sizeof *cmake_reserved; i++)
        if (!strcmp(name, cmake_reserved[i]))
            return "CMake keeps this target name for itself";
    return NULL;
}

/* ---- text substitution -------------------------------------------------------- */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->n + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            cli_system_error("allocate memory: %s", strerror(ENOMEM));
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* in with every @KEY@ of keys replaced by its value. */
static void expand(buf *out, const char *in, const char *const (*keys)[2],
                   size_t nkeys)
{
    out->n = 0;
    buf_add(out, "", 0);
    while (*in) {
        const char *at = strchr(in, '@');
        if (!at) {
            buf_add(out, in, strlen(in));
            break;
        }
        buf_add(out, in, (size_t)(at - in));
        bool done = false;
        for (size_t k = 0; k < nkeys && !done; k++) {
            size_t kl = strlen(keys[k][0]);
            if (!strncmp(at + 1, keys[k][0], kl) && at[1 + kl] == '@') {
                buf_add(out, keys[k][1], strlen(keys[k][1]));
                in = at + kl + 2;
                done = true;
            }
        }
        if (!done) {
            buf_add(out, "@", 1);
            in = at + 1;
        }
    }
}

/* ---- writing, with undo ------------------------------------------------------- */

#define MAX_CREATED 64

typedef struct created {
    char *path[MAX_CREATED];
    bool is_dir[MAX_CREATED];
    size_t n;
} created;

static void undo(created *c)
{
    while (c->n > 0) {
        c->n--;
        if (c->is_dir[c->n])
            rmdir(c->path[c->n]);
        else
            unlink(c->path[c->n]);
        free(c->path[c->n]);
    }
}

static void note(created *c, const char *path, bool is_dir)
{
    if (c->n == MAX_CREATED) {
        undo(c);
        cli_system_error("create %s: too many files in one template", path);
    }
    c->path[c->n] = strdup(path);
    c->is_dir[c->n] = is_dir;
    if (!c->path[c->n]) {
        undo(c);
        cli_system_error("allocate memory: %s", strerror(ENOMEM));
    }
    c->n++;
}

CLI_NORETURN static void fail(created *c, const char *verb, const char *path,
                              int err)
{
    undo(c);
    cli_system_error("%s %s: %s", verb, path, strerror(err));
}

/* Make the directories of path below root that do not exist yet. */
static void make_parents(created *c, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *s = strchr(tmp, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(tmp, 0777) == 0)
            note(c, tmp, true);
        else if (errno != EEXIST)
            fail(c, "create directory", tmp, errno);
        *s = '/';
    }
}

static void write_file(created *c, const char *path, const char *text)
{
    make_parents(c, path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        fail(c, "create", path, errno);
    note(c, path, false);
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int e = errno;
            close(fd);
            fail(c, "write", path, e);
        }
        off += (size_t)w;
    }
    if (close(fd) != 0)
        fail(c, "write", path, errno);
}

/* The prefix this command was installed in (PREFIX/bin/oak), when CMake
 * would not look there by itself; NULL otherwise. */
static const char *install_prefix(void)
{
    static char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0'; /* PREFIX/bin */
    slash = strrchr(exe, '/');
    if (!slash || strcmp(slash, "/bin") != 0)
        return NULL; /* not installed: e.g. run from the build tree */
    *slash = '\0';
    if (exe[0] == '\0' || !strcmp(exe, "/usr") || !strcmp(exe, "/usr/local"))
        return NULL;
    return exe;
}

/* ---- the command ------------------------------------------------------------------ */

int cli_new(int argc, char **argv)
{
    const char *kind = "sup";
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--sup")) {
            kind = "sup";
        } else if (a[0] == '-') {
            cli_usage_error("create project: unknown option %s (try oak new --help)", a);
        } else if (name) {
            cli_usage_error("create project: too many arguments (try oak new --help)");
        } else {
            name = a;
        }
    }
    if (!name)
        cli_usage_error("create project: no NAME given (try oak new --help)");
    const char *why = bad_name(name);
    if (why)
        cli_usage_error("create project %s: bad name: %s", name, why);

    char upper[NAME_MAX_LEN + 1];
    size_t n = strlen(name);
    for (size_t i = 0; i <= n; i++)
        upper[i] = (char)toupper((unsigned char)name[i]);
    const char *const keys[][2] = {
        {"NAME", name}, {"NAME_UPPER", upper}, {"OAK_VERSION", OAK_VERSION_STRING}};
    size_t nkeys = sizeof keys / sizeof keys[0];

    created c = {.n = 0};
    if (mkdir(name, 0777) != 0)
        cli_system_error("create %s: %s", name, strerror(errno));
    note(&c, name, true);

    buf rel = {0}, path = {0}, text = {0};
    size_t files = 0;
    for (size_t i = 0; i < scaffold_template_count; i++) {
        const scaffold_template *t = &scaffold_templates[i];
        if (strcmp(t->kind, kind))
            continue;
        expand(&rel, t->path, keys, nkeys);
        path.n = 0;
        buf_add(&path, name, strlen(name));
        buf_add(&path, "/", 1);
        buf_add(&path, rel.p, rel.n);
        expand(&text, t->text, keys, nkeys);
        write_file(&c, path.p, text.p);
        printf("oak: wrote %s\n", path.p);
        files++;
    }
    free(rel.p);
    free(path.p);
    free(text.p);
    for (size_t i = 0; i < c.n; i++)
        free(c.path[i]);
    char hint[4200] = "";
    const char *prefix = install_prefix();
    if (prefix)
        snprintf(hint, sizeof hint, " -DCMAKE_PREFIX_PATH=%s", prefix);
    printf("oak: new project %s (%zu files); build and test it with\n"
           "  cmake -S %s -B %s/build%s && cmake --build %s/build\n"
           "  (cd %s/build && ctest)\n",
           name, files, name, name, hint, name, name);
    return 0;
}
