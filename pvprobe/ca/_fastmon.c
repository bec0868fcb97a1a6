/* pvprobe.ca._fastmon: a C monitor callback for libca, so that CA value updates
 * cost no Python at all until the engine wants them.
 *
 * libca calls fastmon_event() in its own threads (preemptive callbacks) for every
 * monitor update of a subscription whose user pointer is a slot index handed out
 * by alloc(). The callback copies the DBR bytes into that slot's buffer (the newest
 * value wins) and queues the slot once; it never touches Python objects or the GIL.
 * The engine's worker calls drain() once per tick (or take() for a few slots) and
 * decodes only the newest value of each slot that changed since. Slots can also be
 * armed (arm()): the next event then calls a Python callable once, to wake the
 * engine for an image frame's announcement; every other event stays GIL-free.
 *
 * The event_handler_args layout is libca's public, stable ABI (cadef.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct event_handler_args {
    void *usr;
    void *chid;
    long type;
    long count;
    const void *dbr;
    int status;
};

#define ECA_NORMAL 1
#define N_DBR 39

typedef struct {
    long group;      /* the engine that owns it: drain() takes one group's slots */
    char active;     /* allocated (a subscription may point here) */
    char dirty;      /* holds a value not yet drained */
    char queued;     /* listed in the queue */
    char fresh;      /* no value drained or taken since alloc() or renew(): a first value */
    long type;
    long count;
    size_t size;
    size_t cap;
    char *buf;
    unsigned long long events; /* events taken since alloc */
    PyObject *notify; /* armed: called (once, with the GIL) at the next event */
} slot_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot_t *slots = NULL;
static Py_ssize_t n_slots = 0, cap_slots = 0;
static Py_ssize_t *free_list = NULL;
static Py_ssize_t n_free = 0, cap_free = 0;
static Py_ssize_t *queue = NULL;
static Py_ssize_t n_queue = 0, cap_queue = 0;
static unsigned long long n_updates = 0;
static size_t value_offset[N_DBR];
static size_t elem_size[N_DBR];

static int grow(void **arr, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap)
        return 0;
    Py_ssize_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, (size_t)n * item);
    if (p == NULL)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static void fastmon_event(struct event_handler_args args) {
    if (args.status != ECA_NORMAL || args.type < 0 || args.type >= N_DBR || args.count < 0)
        return;
    PyObject *notify = NULL;
    Py_ssize_t idx = (Py_ssize_t)(size_t)args.usr;
    size_t size = value_offset[args.type] + (size_t)args.count * elem_size[args.type];
    pthread_mutex_lock(&lock);
    if (idx >= 0 && idx < n_slots && slots[idx].active && elem_size[args.type]) {
        slot_t *s = &slots[idx];
        if (s->cap < size) {
            char *b = realloc(s->buf, size);
            if (b == NULL)
                goto out;
            s->buf = b;
            s->cap = size;
        }
        memcpy(s->buf, args.dbr, size);
        s->type = args.type;
        s->count = args.count;
        s->size = size;
        s->dirty = 1;
        if (!s->queued && grow((void **)&queue, &cap_queue, n_queue + 1, sizeof(Py_ssize_t)) == 0) {
            queue[n_queue++] = idx;
            s->queued = 1;
        }
        n_updates++;
        s->events++;
        notify = s->notify;
        s->notify = NULL;
    }
out:
    pthread_mutex_unlock(&lock);
    if (notify != NULL) {
        /* the one event somebody waits for: the only time this callback takes the GIL */
        PyGILState_STATE g = PyGILState_Ensure();
        PyObject *r = PyObject_CallObject(notify, NULL);
        if (r == NULL)
            PyErr_Clear();
        Py_XDECREF(r);
        Py_DECREF(notify);
        PyGILState_Release(g);
    }
}

PyDoc_STRVAR(set_sizes_doc, "set_sizes(value_offsets, element_sizes): per DBR type (0..38), "
             "the byte offset of the first value and the size of one element.");
static PyObject *set_sizes(PyObject *self, PyObject *args) {
    PyObject *offs, *sizes;
    if (!PyArg_ParseTuple(args, "OO", &offs, &sizes))
        return NULL;
    size_t o[N_DBR], e[N_DBR];
    for (int i = 0; i < N_DBR; i++) {
        PyObject *a = PySequence_GetItem(offs, i), *b = PySequence_GetItem(sizes, i);
        if (a == NULL || b == NULL) {
            Py_XDECREF(a);
            Py_XDECREF(b);
            return NULL;
        }
        o[i] = PyLong_AsSize_t(a);
        e[i] = PyLong_AsSize_t(b);
        Py_DECREF(a);
        Py_DECREF(b);
        if (PyErr_Occurred())
            return NULL;
    }
    pthread_mutex_lock(&lock);
    memcpy(value_offset, o, sizeof o);
    memcpy(elem_size, e, sizeof e);
    pthread_mutex_unlock(&lock);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(callback_address_doc, "callback_address() -> int: the C event callback, for libca.");
static PyObject *callback_address(PyObject *self, PyObject *unused) {
    return PyLong_FromVoidPtr((void *)&fastmon_event);
}

PyDoc_STRVAR(alloc_doc, "alloc(group) -> int: a free slot index (the subscription's user pointer) "
             "owned by ``group`` (one per engine).");
static PyObject *alloc_slot(PyObject *self, PyObject *arg) {
    long group = PyLong_AsLong(arg);
    if (group == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t idx;
    pthread_mutex_lock(&lock);
    if (n_free > 0) {
        idx = free_list[--n_free];
    } else if (grow((void **)&slots, &cap_slots, n_slots + 1, sizeof(slot_t)) == 0) {
        idx = n_slots++;
        memset(&slots[idx], 0, sizeof(slot_t));
    } else {
        pthread_mutex_unlock(&lock);
        return PyErr_NoMemory();
    }
    slots[idx].active = 1;
    slots[idx].dirty = 0;
    slots[idx].events = 0;
    slots[idx].fresh = 1;
    slots[idx].group = group;
    pthread_mutex_unlock(&lock);
    return PyLong_FromSsize_t(idx);
}

PyDoc_STRVAR(release_doc, "release(idx): the slot is free again (clear its subscription first).");
static PyObject *release_slot(PyObject *self, PyObject *arg) {
    Py_ssize_t idx = PyLong_AsSsize_t(arg);
    if (idx == -1 && PyErr_Occurred())
        return NULL;
    int bad = 0;
    PyObject *old_notify = NULL;
    pthread_mutex_lock(&lock);
    if (idx < 0 || idx >= n_slots || !slots[idx].active) {
        bad = 1;
    } else if (grow((void **)&free_list, &cap_free, n_free + 1, sizeof(Py_ssize_t)) != 0) {
        bad = 2;
    } else {
        slot_t *s = &slots[idx];
        old_notify = s->notify;
        s->notify = NULL;
        free(s->buf);
        s->buf = NULL;
        s->cap = s->size = 0;
        s->active = s->dirty = 0;   /* a queued entry is skipped by drain() */
        free_list[n_free++] = idx;
    }
    pthread_mutex_unlock(&lock);
    Py_XDECREF(old_notify);
    if (bad == 1) {
        PyErr_Format(PyExc_ValueError, "slot %zd is not allocated", idx);
        return NULL;
    }
    if (bad == 2)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* (idx, type, count, bytes) of a dirty slot; marks it clean. Called with the lock held. */
static PyObject *take_locked(Py_ssize_t idx) {
    slot_t *s = &slots[idx];
    PyObject *raw = PyBytes_FromStringAndSize(s->buf, (Py_ssize_t)s->size);
    if (raw == NULL)
        return NULL;
    s->dirty = 0;
    s->fresh = 0;
    return Py_BuildValue("(nllN)", idx, s->type, s->count, raw);
}

PyDoc_STRVAR(drain_doc, "drain(group, limit=-1, fresh_only=False) -> list of (idx, dbr_type, "
             "count, raw bytes): the newest value of each slot of ``group`` updated since it was "
             "last drained or taken, in the order they first changed, at most ``limit`` (the "
             "rest stay queued, first in line next time). Other groups' slots stay queued. "
             "``fresh_only``: only slots whose value is their first since alloc() or renew() "
             "(the others stay queued, in order).");
static PyObject *drain(PyObject *self, PyObject *args) {
    long group;
    Py_ssize_t limit = -1;
    int fresh_only = 0;
    if (!PyArg_ParseTuple(args, "l|np", &group, &limit, &fresh_only))
        return NULL;
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    int failed = 0;
    pthread_mutex_lock(&lock);
    Py_ssize_t keep = 0, i = 0;
    for (; i < n_queue; i++) {
        if (limit >= 0 && PyList_GET_SIZE(out) >= limit)
            break;                        /* the rest stays queued, first in line */
        Py_ssize_t idx = queue[i];
        slot_t *s = &slots[idx];
        if (s->active && (s->group != group || (fresh_only && s->dirty && !s->fresh))) {
            queue[keep++] = idx;          /* another engine's, or not a first value: stays */
            continue;
        }
        s->queued = 0;
        if (!s->active || !s->dirty)
            continue;
        if (!failed) {
            PyObject *item = take_locked(idx);
            if (item != NULL && PyList_Append(out, item) == 0) {
                Py_DECREF(item);
                continue;
            }
            Py_XDECREF(item);
            failed = 1;
        }
        s->queued = 1;                    /* after an error: keep the rest for next time */
        queue[keep++] = idx;
    }
    if (i < n_queue && keep < i)
        memmove(queue + keep, queue + i, (size_t)(n_queue - i) * sizeof(Py_ssize_t));
    n_queue = keep + (n_queue - i);
    pthread_mutex_unlock(&lock);
    if (failed) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

PyDoc_STRVAR(take_doc, "take(indices) -> list of (idx, dbr_type, count, raw bytes) for those of "
             "the given slots that hold a value not yet drained.");
static PyObject *take(PyObject *self, PyObject *indices) {
    PyObject *seq = PySequence_Fast(indices, "take() needs a sequence of slot indices");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    Py_ssize_t *want = PyMem_Malloc((size_t)(n ? n : 1) * sizeof(Py_ssize_t));
    if (want == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        want[k] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, k));
        if (want[k] == -1 && PyErr_Occurred()) {
            PyMem_Free(want);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    PyObject *out = PyList_New(0);
    if (out == NULL) {
        PyMem_Free(want);
        return NULL;
    }
    pthread_mutex_lock(&lock);
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t idx = want[k];
        if (idx < 0 || idx >= n_slots || !slots[idx].active || !slots[idx].dirty)
            continue;
        PyObject *item = take_locked(idx);
        if (item == NULL || PyList_Append(out, item) < 0) {
            Py_XDECREF(item);
            pthread_mutex_unlock(&lock);
            PyMem_Free(want);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(item);
    }
    pthread_mutex_unlock(&lock);
    PyMem_Free(want);
    return out;
}

PyDoc_STRVAR(renew_doc, "renew(idx): the slot's next value counts as a first value again "
             "(drain(fresh_only=True) takes it), e.g. after its channel reconnects.");
static PyObject *renew(PyObject *self, PyObject *arg) {
    Py_ssize_t idx = PyLong_AsSsize_t(arg);
    if (idx == -1 && PyErr_Occurred())
        return NULL;
    pthread_mutex_lock(&lock);
    int ok = idx >= 0 && idx < n_slots && slots[idx].active;
    if (ok)
        slots[idx].fresh = 1;
    pthread_mutex_unlock(&lock);
    if (!ok) {
        PyErr_Format(PyExc_ValueError, "slot %zd is not allocated", idx);
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(arm_doc, "arm(idx, notify) -> bool: True (and the slot is marked clean) if an event "
             "came since the slot was last drained, taken or armed; otherwise False, and "
             "``notify()`` is called once, from libca's thread with the GIL, at the next "
             "event (replacing an earlier armed callable). For announcements that must wake "
             "the engine without costing Python for every event.");
static PyObject *arm(PyObject *self, PyObject *args) {
    Py_ssize_t idx;
    PyObject *notify, *old = NULL;
    int fired = 0;
    if (!PyArg_ParseTuple(args, "nO", &idx, &notify))
        return NULL;
    if (!PyCallable_Check(notify)) {
        PyErr_SetString(PyExc_TypeError, "notify must be callable");
        return NULL;
    }
    pthread_mutex_lock(&lock);
    if (idx < 0 || idx >= n_slots || !slots[idx].active) {
        pthread_mutex_unlock(&lock);
        PyErr_Format(PyExc_ValueError, "slot %zd is not allocated", idx);
        return NULL;
    }
    slot_t *s = &slots[idx];
    old = s->notify;
    if (s->dirty) {
        s->dirty = 0;
        s->notify = NULL;
        fired = 1;
    } else {
        Py_INCREF(notify);
        s->notify = notify;
    }
    pthread_mutex_unlock(&lock);
    Py_XDECREF(old);
    return PyBool_FromLong(fired);
}

PyDoc_STRVAR(events_doc, "events(idx) -> int: events the slot took since it was allocated.");
static PyObject *slot_events(PyObject *self, PyObject *arg) {
    Py_ssize_t idx = PyLong_AsSsize_t(arg);
    if (idx == -1 && PyErr_Occurred())
        return NULL;
    unsigned long long n = 0;
    pthread_mutex_lock(&lock);
    if (idx >= 0 && idx < n_slots)
        n = slots[idx].events;
    pthread_mutex_unlock(&lock);
    return PyLong_FromUnsignedLongLong(n);
}

PyDoc_STRVAR(disarm_doc, "disarm(idx): forget the callable armed on the slot, if any.");
static PyObject *disarm(PyObject *self, PyObject *arg) {
    Py_ssize_t idx = PyLong_AsSsize_t(arg);
    if (idx == -1 && PyErr_Occurred())
        return NULL;
    PyObject *old = NULL;
    pthread_mutex_lock(&lock);
    if (idx >= 0 && idx < n_slots) {
        old = slots[idx].notify;
        slots[idx].notify = NULL;
    }
    pthread_mutex_unlock(&lock);
    Py_XDECREF(old);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(updates_doc, "updates() -> int: updates taken by the C callback since import.");
static PyObject *updates(PyObject *self, PyObject *unused) {
    pthread_mutex_lock(&lock);
    unsigned long long n = n_updates;
    pthread_mutex_unlock(&lock);
    return PyLong_FromUnsignedLongLong(n);
}

PyDoc_STRVAR(allocated_doc, "allocated() -> int: slots in use (for leak checks).");
static PyObject *allocated(PyObject *self, PyObject *unused) {
    pthread_mutex_lock(&lock);
    Py_ssize_t n = n_slots - n_free;
    pthread_mutex_unlock(&lock);
    return PyLong_FromSsize_t(n);
}

static PyMethodDef methods[] = {
    {"set_sizes", set_sizes, METH_VARARGS, set_sizes_doc},
    {"callback_address", callback_address, METH_NOARGS, callback_address_doc},
    {"alloc", alloc_slot, METH_O, alloc_doc},
    {"release", release_slot, METH_O, release_doc},
    {"drain", drain, METH_VARARGS, drain_doc},
    {"take", take, METH_O, take_doc},
    {"renew", renew, METH_O, renew_doc},
    {"updates", updates, METH_NOARGS, updates_doc},
    {"arm", arm, METH_VARARGS, arm_doc},
    {"disarm", disarm, METH_O, disarm_doc},
    {"events", slot_events, METH_O, events_doc},
    {"allocated", allocated, METH_NOARGS, allocated_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastmon",
    "A C monitor callback for libca: newest DBR bytes per slot, drained by the engine.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__fastmon(void) {
    return PyModule_Create(&module);
}
