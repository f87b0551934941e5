// ThreadSanitizer does not intercept C11 thrd_create (glibc >= 2.34), and Debian's
// librdkafka starts every thread with it: those threads have no TSan state, and the first
// intercepted call in them crashes (SEGV at a small address in TSan's allocator). Preloaded
// by scripts/sanitize thread, this thrd_create goes through pthread_create, which TSan does
// intercept. glibc's thrd_t is a pthread_t and thrd_join reads the int result back from the
// pointer, so nothing else changes.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>
#include <errno.h>

struct start { thrd_start_t func; void *arg; };

static void *run(void *p) {
    struct start s = *(struct start *)p;
    free(p);
    return (void *)(intptr_t)s.func(s.arg);
}

int thrd_create(thrd_t *thr, thrd_start_t func, void *arg) {
    struct start *s = malloc(sizeof *s);
    if (!s) return thrd_nomem;
    s->func = func;
    s->arg = arg;
    int err = pthread_create((pthread_t *)thr, NULL, run, s);
    if (err) { free(s); return err == ENOMEM ? thrd_nomem : thrd_error; }
    return thrd_success;
}

// Likewise: glibc's thrd_detach and thrd_join call pthread's internals directly, so TSan
// would see librdkafka's detached threads as leaked and miss the joins' synchronisation.
int thrd_detach(thrd_t thr) {
    return pthread_detach((pthread_t)thr) == 0 ? thrd_success : thrd_error;
}

int thrd_join(thrd_t thr, int *res) {
    void *r;
    if (pthread_join((pthread_t)thr, &r) != 0) return thrd_error;
    if (res) *res = (int)(intptr_t)r;
    return thrd_success;
}
