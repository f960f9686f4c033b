/*
 * Static routes with a dir: h2o's file handler (lib/handler/file.c) serves
 * the directory below the route's literal prefix, after the whole
 * middleware chain: route /docs/... with dir /srv/docs serves /docs/a/b.html from
 * /srv/docs/a/b.html.  The path is the normalised one (dot segments
 * resolved before routing), so `..` cannot leave the directory; no
 * directory listings; index.html for a directory; content type by
 * extension.  The policy check refuses a dir on or around the secrets.
 *
 * The file handler lives on a pathconf of its own whose path is the
 * prefix (the handler maps the path below its pathconf's path); this
 * handler passes it the requests of its route only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../reqctx.h"
#include "routes.h"

struct st_bulwark_static_dir_t {
    h2o_handler_t super;
    const bulwark_route_t *route;
    h2o_pathconf_t files_conf; /* not registered with any host */
    h2o_handler_t *files; /* an h2o_file_handler_t (opaque; a handler first) */
};

static int on_req(h2o_handler_t *_self, h2o_req_t *req)
{
    struct st_bulwark_static_dir_t *self = (void *)_self;

    if (bulwark_reqctx(req)->route != self->route)
        return -1;
    return self->files->on_req(self->files, req);
}

static void on_context_init(h2o_handler_t *_self, h2o_context_t *ctx)
{
    struct st_bulwark_static_dir_t *self = (void *)_self;

    if (self->files->on_context_init != NULL)
        self->files->on_context_init(self->files, ctx);
}

static void on_context_dispose(h2o_handler_t *_self, h2o_context_t *ctx)
{
    struct st_bulwark_static_dir_t *self = (void *)_self;

    if (self->files->on_context_dispose != NULL)
        self->files->on_context_dispose(self->files, ctx);
}

static void on_dispose(h2o_handler_t *_self)
{
    struct st_bulwark_static_dir_t *self = (void *)_self;

    /* disposes the file handler with its pathconf */
    h2o_config_dispose_pathconf(&self->files_conf);
}

int bulwark_static_dir_register(h2o_pathconf_t *pathconf, const bulwark_route_t *route, char *err, size_t errlen)
{
    static const char *index_files[] = {"index.html", NULL};
    struct st_bulwark_static_dir_t *self;
    h2o_iovec_t prefix;

    /* in the image the serving process sees no directory but its resolver's
     * files: say so at start-up rather than answer 404 for every file */
    int fd = open(route->static_.dir.base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd == -1) {
        snprintf(err, errlen, "route %s: static dir %s: %s", route->path.base, route->static_.dir.base, strerror(errno));
        return -1;
    }
    close(fd);
    prefix = bulwark_route_literal_prefix(route);
    self = (void *)h2o_create_handler(pathconf, sizeof(*self));
    self->super.on_req = on_req;
    self->super.on_context_init = on_context_init;
    self->super.on_context_dispose = on_context_dispose;
    self->super.dispose = on_dispose;
    self->route = route;
    h2o_config_init_pathconf(&self->files_conf, pathconf->global, prefix.len != 0 ? prefix.base : "/", pathconf->mimemap);
    self->files = (h2o_handler_t *)h2o_file_register(&self->files_conf, route->static_.dir.base, index_files, NULL, 0);
    free(prefix.base);
    return 0;
}
