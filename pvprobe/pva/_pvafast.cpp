/* pvprobe.pva._pvafast: pvAccess monitors of plain NTScalar / NTEnum PVs whose
 * updates cost no Python until the engine wants them (the pvAccess twin of
 * pvprobe.ca._fastmon).
 *
 * A Hub is one pvxs client context. Each monitor is a slot: pvxs calls our event
 * handler in its own thread when the monitor's queue becomes non-empty; the
 * handler pops every queued update (no GIL, no Python object), keeps the newest
 * value, alarm and time stamp in the slot and queues the slot once. The engine's
 * worker calls drain() once per tick (take() for a few slots) and gets, per slot
 * that changed, one FastValue: (value, severity, status, message, stamp).
 * Connections, losses and errors are queued as events (events()); a structure
 * that is not a plain scalar or enum is reported "unsuitable" and left to p4p.
 *
 * A slot may be parked (lean mode, a row no view shows): it holds its pvxs channel
 * (a Connect: connections and losses) but no monitor, and its value is read by get
 * when it connects and on a rotation (read_step()); unpark() gives it a monitor again.
 *
 * Python is never called from pvxs's threads, and every call into pvxs that may
 * wait for its worker (open, close, hurry-up, the context's end) releases the GIL.
 */
#define PY_SSIZE_T_CLEAN
#define PVXS_ENABLE_EXPERT_API
#include <Python.h>
#include <structmember.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pvxs/client.h>
#include <pvxs/data.h>

namespace {

using namespace pvxs;

enum VKind : uint8_t { V_NONE = 0, V_DOUBLE, V_INT, V_UINT, V_BOOL, V_STRING, V_ENUM };

enum EventCode { EV_CONNECTED = 1, EV_DISCONNECTED = 2, EV_FINISHED = 3, EV_ERROR = 4,
                 EV_UNSUITABLE = 5 };

struct Slot {
    std::shared_ptr<client::Subscription> sub;
    std::shared_ptr<client::Operation> getop;     // the metadata get in flight (or done)
    std::shared_ptr<client::Connect> conn;        // a parked slot's channel (no monitor)
    std::shared_ptr<client::Operation> readop;    // a parked slot's read in flight (or done)
    std::string name, request;
    uint64_t gen = 0;       // which monitor the slot holds now (stale handlers ignored)
    bool active = false, dirty = false, queued = false, fresh = false;
    bool connected = false, muted = false, unsuitable = false;
    bool parked = false;    // no monitor: read by get on the rotation (see park())
    bool reading = false;   // a read in flight (read_token: which)
    bool in_rotation = false, read_soon = false;   // listed in HubState::rotation / read_first
    uint64_t read_token = 0;
    VKind vk = V_NONE;
    double d = 0.0;
    int64_t i = 0;
    uint64_t u = 0;
    std::string s, msg;
    int32_t sev = 0, stat = 0;
    double stamp = 0.0;
    uint64_t events = 0;
};

/* One update read out of its pvxs Value (outside the lock). */
struct Reading {
    VKind vk = V_NONE;
    double d = 0.0;
    int64_t i = 0;
    uint64_t u = 0;
    std::string s, msg, tid, code;
    int32_t sev = 0, stat = 0;
    double stamp = 0.0;
};

/* What drain()/take() copy out under the lock, turned into Python objects after. */
struct Out {
    Py_ssize_t slot;
    VKind vk;
    double d;
    int64_t i;
    uint64_t u;
    std::string s, msg;
    int32_t sev, stat;
    double stamp;
};

/* One metadata field of a get's result (display, control, valueAlarm, enum choices). */
struct MetaItem {
    std::string key;
    int kind;           // 0 marker (the substructure exists), 1 double, 2 integer, 3 string, 4 strings
    double d;
    int64_t i;
    std::string s;
    std::vector<std::string> list;
};

struct MetaResult {
    Py_ssize_t slot;
    std::string error;
    std::vector<MetaItem> items;
};

const char *const META_MARKERS[] = {"display", "control", "valueAlarm", nullptr};
const char *const META_FIELDS[] = {
    "display.limitLow", "display.limitHigh", "display.description", "display.units",
    "display.precision", "display.format", "control.limitLow", "control.limitHigh",
    "control.minStep", "valueAlarm.lowAlarmLimit", "valueAlarm.lowWarningLimit",
    "valueAlarm.highWarningLimit", "valueAlarm.highAlarmLimit", "value.choices", nullptr};

void read_meta(const Value &v, std::vector<MetaItem> &out) {
    for (const char *const *k = META_MARKERS; *k; k++)
        if (v[*k].valid())
            out.push_back(MetaItem{*k, 0, 0.0, 0, std::string(), {}});
    for (const char *const *k = META_FIELDS; *k; k++) {
        Value f(v[*k]);
        if (!f.valid())
            continue;
        MetaItem m{*k, 0, 0.0, 0, std::string(), {}};
        switch (f.type().code) {
        case TypeCode::Float32:
        case TypeCode::Float64:
            m.kind = 1;
            m.d = f.as<double>();
            break;
        case TypeCode::Int8: case TypeCode::Int16: case TypeCode::Int32: case TypeCode::Int64:
        case TypeCode::UInt8: case TypeCode::UInt16: case TypeCode::UInt32: case TypeCode::UInt64:
            m.kind = 2;
            m.i = f.as<int64_t>();
            break;
        case TypeCode::String:
            m.kind = 3;
            m.s = f.as<std::string>();
            break;
        case TypeCode::StringA: {
            m.kind = 4;
            auto arr(f.as<shared_array<const std::string>>());
            m.list.assign(arr.begin(), arr.end());
            break;
        }
        default:
            continue;
        }
        out.push_back(std::move(m));
    }
}

struct Event {
    Py_ssize_t slot;
    uint64_t gen;       // the monitor it came from (a reopened slot's old events are dropped)
    int code;
    std::string a, b;
    std::vector<MetaItem> meta;     // a connection's: the metadata of its first update
};

struct HubState {
    std::vector<MetaResult> metas;
    std::mutex lock;
    std::vector<Slot> slots;
    std::vector<Py_ssize_t> free_list;
    std::deque<Py_ssize_t> queue;
    std::vector<Event> events;
    uint64_t updates = 0;
    uint64_t next_gen = 1;
    std::deque<Py_ssize_t> rotation;      // parked slots, the next to read first
    std::deque<Py_ssize_t> read_first;    // parked slots connected without a value yet
    size_t in_flight = 0;                 // reads in flight
    double credit = 0.0;                  // rotation reads due
    std::weak_ptr<client::Context> ctxt;  // for reads started in pvxs's thread
    uint64_t reads = 0;                   // reads issued in all
    bool closed = false;
};

const char *code_letter(TypeCode::code_t c) {
    switch (c) {
    case TypeCode::Float64: return "d";
    case TypeCode::Float32: return "f";
    case TypeCode::Int8: return "b";
    case TypeCode::Int16: return "h";
    case TypeCode::Int32: return "i";
    case TypeCode::Int64: return "l";
    case TypeCode::UInt8: return "B";
    case TypeCode::UInt16: return "H";
    case TypeCode::UInt32: return "I";
    case TypeCode::UInt64: return "L";
    case TypeCode::Bool: return "?";
    case TypeCode::String: return "s";
    default: return "";
    }
}

/* The value, alarm and time of ``v``; false (with ``why``) when it is not a plain
 * scalar or enum structure. */
bool read_update(const Value &v, Reading &r, std::string &why) {
    Value fld(v["value"]);
    if (!fld.valid()) {
        why = "no value field";
        return false;
    }
    TypeCode::code_t c = fld.type().code;
    switch (c) {
    case TypeCode::Float64:
    case TypeCode::Float32:
        r.vk = V_DOUBLE;
        r.d = fld.as<double>();
        break;
    case TypeCode::Int8:
    case TypeCode::Int16:
    case TypeCode::Int32:
    case TypeCode::Int64:
        r.vk = V_INT;
        r.i = fld.as<int64_t>();
        break;
    case TypeCode::UInt8:
    case TypeCode::UInt16:
    case TypeCode::UInt32:
    case TypeCode::UInt64:
        r.vk = V_UINT;
        r.u = fld.as<uint64_t>();
        break;
    case TypeCode::Bool:
        r.vk = V_BOOL;
        r.i = fld.as<bool>() ? 1 : 0;
        break;
    case TypeCode::String:
        r.vk = V_STRING;
        r.s = fld.as<std::string>();
        break;
    case TypeCode::Struct: {
        Value index(fld["index"]);
        if (fld.id() != "enum_t" || !index.valid()) {
            why = "a structure value";
            return false;
        }
        r.vk = V_ENUM;
        r.i = index.as<int64_t>();
        break;
    }
    default:
        why = "not a scalar value";
        return false;
    }
    r.code = r.vk == V_ENUM ? "enum" : code_letter(c);
    Value sev(v["alarm.severity"]);
    if (sev.valid()) {
        r.sev = sev.as<int32_t>();
        Value stat(v["alarm.status"]);
        if (stat.valid())
            r.stat = stat.as<int32_t>();
        Value msg(v["alarm.message"]);
        if (msg.valid())
            r.msg = msg.as<std::string>();
    }
    Value secs(v["timeStamp.secondsPastEpoch"]), nsec(v["timeStamp.nanoseconds"]);
    if (secs.valid() && nsec.valid()) {
        int64_t s = secs.as<int64_t>();
        int64_t n = nsec.as<int64_t>();
        r.stamp = (s || n) ? double(s) + double(n) * 1e-9 : 0.0;
    }
    return true;
}

void push_event(HubState &H, Py_ssize_t idx, int code, const std::string &a = std::string(),
                const std::string &b = std::string()) {
    H.events.push_back(Event{idx, H.slots[idx].gen, code, a, b, {}});
}

void on_update(HubState &H, Py_ssize_t idx, uint64_t gen, const Value &v) {
    Reading r;
    std::string why;
    bool ok = read_update(v, r, why);
    std::lock_guard<std::mutex> G(H.lock);
    if (H.closed || idx >= Py_ssize_t(H.slots.size()))
        return;
    Slot &s = H.slots[idx];
    if (!s.active || s.gen != gen || s.unsuitable)
        return;
    if (!ok) {
        s.unsuitable = true;
        push_event(H, idx, EV_UNSUITABLE, v.id(), why);
        return;
    }
    if (!s.connected) {
        s.connected = true;
        s.fresh = true;
        push_event(H, idx, EV_CONNECTED, v.id(), r.code);
        read_meta(v, H.events.back().meta);     // complete: a connection's first update
    }
    s.vk = r.vk;
    s.d = r.d;
    s.i = r.i;
    s.u = r.u;
    s.s.swap(r.s);
    s.msg.swap(r.msg);
    s.sev = r.sev;
    s.stat = r.stat;
    s.stamp = r.stamp;
    s.events++;
    H.updates++;
    s.dirty = true;
    if (!s.queued && !s.muted) {
        s.queued = true;
        H.queue.push_back(idx);
    }
}

void on_loss(HubState &H, Py_ssize_t idx, uint64_t gen, int code, const std::string &text) {
    std::lock_guard<std::mutex> G(H.lock);
    if (H.closed || idx >= Py_ssize_t(H.slots.size()))
        return;
    Slot &s = H.slots[idx];
    if (!s.active || s.gen != gen)
        return;
    if (code == EV_ERROR) {
        push_event(H, idx, code, text);
        return;
    }
    s.dirty = false;        // nothing old is handed out as live after a loss
    bool was = s.connected;
    s.connected = false;
    s.unsuitable = false;
    if (was || code == EV_FINISHED)
        push_event(H, idx, code, text);
}

/* pvxs's thread: pop everything queued (so pvxs calls us again at the next one). */
void on_event(const std::weak_ptr<HubState> &wh, Py_ssize_t idx, uint64_t gen,
              client::Subscription &sub) {
    auto H = wh.lock();
    if (!H)
        return;
    for (int n = 0; n < 100000; n++) {     // bounded: pvxs calls again if more comes
        Value v;
        try {
            v = sub.pop();
        } catch (client::Finished &e) {
            on_loss(*H, idx, gen, EV_FINISHED, e.what());
            continue;
        } catch (client::Disconnect &e) {
            on_loss(*H, idx, gen, EV_DISCONNECTED, e.what());
            continue;
        } catch (client::RemoteError &e) {
            on_loss(*H, idx, gen, EV_ERROR, e.what());
            continue;
        } catch (std::exception &e) {
            on_loss(*H, idx, gen, EV_ERROR, e.what());
            continue;
        }
        if (!v.valid())
            break;
        on_update(*H, idx, gen, v);
    }
}

/* ------------------------------------------------------------------ Python side */

PyTypeObject *FastValueType = nullptr;

PyStructSequence_Field fast_value_fields[] = {
    {"value", "the value (number, string, or an enum's index)"},
    {"severity", "alarm severity"},
    {"status", "alarm status (pvAccess's code)"},
    {"message", "alarm message"},
    {"stamp", "POSIX seconds of the time stamp (0.0: none)"},
    {nullptr, nullptr},
};

PyStructSequence_Desc fast_value_desc = {
    "pvprobe.pva._pvafast.FastValue",
    "One PV's newest update from a fast monitor.",
    fast_value_fields,
    5,
};

struct HubObject {
    PyObject_HEAD
    std::shared_ptr<HubState> *state;
    std::shared_ptr<client::Context> *ctxt;   // shared: a call in flight keeps it alive
};

PyObject *to_python(const Out &o) {
    PyObject *value;
    switch (o.vk) {
    case V_DOUBLE: value = PyFloat_FromDouble(o.d); break;
    case V_INT:
    case V_ENUM: value = PyLong_FromLongLong(o.i); break;
    case V_UINT: value = PyLong_FromUnsignedLongLong(o.u); break;
    case V_BOOL: value = PyBool_FromLong(long(o.i)); break;
    case V_STRING:
        value = PyUnicode_DecodeUTF8(o.s.data(), Py_ssize_t(o.s.size()), "replace");
        break;
    default: value = Py_None; Py_INCREF(value);
    }
    if (!value)
        return nullptr;
    PyObject *item = PyStructSequence_New(FastValueType);
    if (!item) {
        Py_DECREF(value);
        return nullptr;
    }
    PyObject *msg = PyUnicode_DecodeUTF8(o.msg.data(), Py_ssize_t(o.msg.size()), "replace");
    PyObject *sev = PyLong_FromLong(o.sev);
    PyObject *stat = PyLong_FromLong(o.stat);
    PyObject *stamp = PyFloat_FromDouble(o.stamp);
    PyStructSequence_SET_ITEM(item, 0, value);
    PyStructSequence_SET_ITEM(item, 1, sev);
    PyStructSequence_SET_ITEM(item, 2, stat);
    PyStructSequence_SET_ITEM(item, 3, msg);
    PyStructSequence_SET_ITEM(item, 4, stamp);
    if (!msg || !sev || !stat || !stamp) {
        Py_DECREF(item);
        return nullptr;
    }
    PyObject *pair = Py_BuildValue("(nN)", o.slot, item);
    return pair;
}

PyObject *outs_to_list(const std::vector<Out> &outs) {
    PyObject *list = PyList_New(Py_ssize_t(outs.size()));
    if (!list)
        return nullptr;
    for (size_t k = 0; k < outs.size(); k++) {
        PyObject *pair = to_python(outs[k]);
        if (!pair) {
            Py_DECREF(list);
            return nullptr;
        }
        PyList_SET_ITEM(list, Py_ssize_t(k), pair);
    }
    return list;
}

void copy_out(Slot &s, Py_ssize_t idx, std::vector<Out> &outs) {
    outs.push_back(Out{idx, s.vk, s.d, s.i, s.u, s.s, s.msg, s.sev, s.stat, s.stamp});
    s.dirty = false;
    s.fresh = false;
}

bool check_open(HubObject *self) {
    if (!self->state || !self->ctxt) {
        PyErr_SetString(PyExc_RuntimeError, "the hub is closed");
        return false;
    }
    return true;
}

/* Cancel and let go of a monitor (GIL released by the caller); errors are moot. */
void cancel_quietly(std::shared_ptr<client::Subscription> &sub) {
    try {
        if (sub)
            sub->cancel();
    } catch (std::exception &) {
    }
    sub.reset();
}

/* Start the monitor of slot ``idx`` (GIL released by the caller). */
std::shared_ptr<client::Subscription> start_monitor(client::Context &ctxt,
                                                    const std::shared_ptr<HubState> &H,
                                                    const std::string &name,
                                                    const std::string &request,
                                                    Py_ssize_t idx, uint64_t gen) {
    std::weak_ptr<HubState> wh(H);
    auto builder = ctxt.monitor(name).maskConnected(true).maskDisconnected(false);
    if (!request.empty())
        builder.pvRequest(request);
    return builder
        .event([wh, idx, gen](client::Subscription &sub) { on_event(wh, idx, gen, sub); })
        .exec();
}

/* ------------------------------------------------------------------ parked slots
 *
 * A parked slot holds its channel (a pvxs Connect: its connection and losses) but
 * no monitor: pvxs keeps ~25 KB per monitor (the whole type and values of each
 * subscription), a channel ~1 KB. Its value is read by get: once when it
 * (re)connects, then on the rotation (read_step()). park() / unpark() swap. */

/* Whether the slot's (active, gen) still matches; the caller holds the lock. */
Slot *live_slot(HubState &H, Py_ssize_t idx, uint64_t gen) {
    if (H.closed || idx < 0 || idx >= Py_ssize_t(H.slots.size()))
        return nullptr;
    Slot &s = H.slots[idx];
    return s.active && s.gen == gen ? &s : nullptr;
}

/* The slot reset for a new user; its places in the read lists stay (they are
 * dropped when met, see read_step()). The caller holds the lock. */
void reset_slot(Slot &s) {
    bool rot = s.in_rotation, soon = s.read_soon;
    s = Slot();
    s.in_rotation = rot;
    s.read_soon = soon;
}

/* A read in flight no longer counts (closed, unparked, reopened). Lock held. */
void forget_read(HubState &H, Slot &s) {
    if (s.reading) {
        s.reading = false;
        H.in_flight--;
    }
}

void on_channel(const std::weak_ptr<HubState> &wh, Py_ssize_t idx, uint64_t gen, bool up) {
    auto H = wh.lock();
    if (!H)
        return;
    if (!up) {
        on_loss(*H, idx, gen, EV_DISCONNECTED, "Disconnected");
        return;
    }
    std::lock_guard<std::mutex> G(H->lock);
    Slot *s = live_slot(*H, idx, gen);
    if (s && s->parked && !s->connected && !s->read_soon) {
        s->read_soon = true;
        H->read_first.push_back(idx);
    }
}

/* The channel of parked slot ``idx`` (GIL released by the caller). */
std::shared_ptr<client::Connect> start_connect(client::Context &ctxt,
                                               const std::shared_ptr<HubState> &H,
                                               const std::string &name, Py_ssize_t idx,
                                               uint64_t gen) {
    std::weak_ptr<HubState> wh(H);
    return ctxt.connect(name)
        .onConnect([wh, idx, gen]() { on_channel(wh, idx, gen, true); })
        .onDisconnect([wh, idx, gen]() { on_channel(wh, idx, gen, false); })
        .exec();
}

/* Most reads in flight at once (a bounded transient: each holds a type and value). */
const size_t MAX_READS_IN_FLIGHT = 128;

struct ReadTodo {
    Py_ssize_t idx;
    uint64_t gen, token;
    std::string name;
    std::shared_ptr<client::Operation> op;
};

/* The reads to start now (lock held): parked slots (re)connected without a value
 * first, then ``fraction`` of the rotation; at most MAX_READS_IN_FLIGHT in flight. */
void plan_reads(HubState &H, double fraction, std::vector<ReadTodo> &todo) {
    if (H.closed)
        return;
    size_t room = H.in_flight < MAX_READS_IN_FLIGHT ? MAX_READS_IN_FLIGHT - H.in_flight : 0;
    auto issue = [&](Py_ssize_t idx) {
        Slot &s = H.slots[idx];
        s.reading = true;
        s.read_token++;
        H.in_flight++;
        H.reads++;
        todo.push_back(ReadTodo{idx, s.gen, s.read_token, s.name, nullptr});
        room--;
    };
    while (room && !H.read_first.empty()) {
        Py_ssize_t idx = H.read_first.front();
        H.read_first.pop_front();
        Slot &s = H.slots[idx];
        s.read_soon = false;
        if (s.active && s.parked && !s.reading)
            issue(idx);
    }
    double n = double(H.rotation.size());
    H.credit = std::min(H.credit + n * std::max(0.0, fraction), n);
    for (size_t seen = H.rotation.size(); room && H.credit >= 1.0 && seen; seen--) {
        Py_ssize_t idx = H.rotation.front();
        H.rotation.pop_front();
        Slot &s = H.slots[idx];
        if (!s.active || !s.parked) {
            s.in_rotation = false;      // left the rotation
            continue;
        }
        H.rotation.push_back(idx);
        H.credit -= 1.0;
        if (s.connected && !s.reading)
            issue(idx);
    }
}

void on_read(const std::weak_ptr<HubState> &wh, Py_ssize_t idx, uint64_t gen, uint64_t token,
             client::Result &&r);

/* Start the planned reads (no lock held; from Python with the GIL released, or from
 * pvxs's thread, where exec() only queues). Ops not kept go to ``release``. Reads
 * do not synchronise their cancel: a finished one is let go in its own callback (a
 * finished read holds a whole structure: thousands kept until the worker's next
 * step were tens of MB). */
void start_reads(const std::shared_ptr<HubState> &H, client::Context &ctxt,
                 std::vector<ReadTodo> &todo,
                 std::vector<std::shared_ptr<client::Operation>> &release) {
    std::weak_ptr<HubState> wh(H);
    for (auto &t : todo) {
        Py_ssize_t idx = t.idx;
        uint64_t gen = t.gen, token = t.token;
        try {
            t.op = ctxt.get(t.name)
                       .syncCancel(false)      // released in pvxs's thread (see on_read)
                       .result([wh, idx, gen, token](client::Result &&r) {
                           on_read(wh, idx, gen, token, std::move(r));
                       })
                       .exec();
        } catch (std::exception &) {
        }
    }
    std::lock_guard<std::mutex> G(H->lock);
    for (auto &t : todo) {
        Slot *s = live_slot(*H, t.idx, t.gen);
        if (!s || !s->reading || s->read_token != t.token) {
            release.push_back(std::move(t.op));     // done or dropped meanwhile
            continue;
        }
        if (!t.op) {            // not started: counts as done
            forget_read(*H, *s);
            continue;
        }
        if (s->readop)
            release.push_back(std::move(s->readop));
        s->readop = std::move(t.op);
    }
}

void on_read(const std::weak_ptr<HubState> &wh, Py_ssize_t idx, uint64_t gen, uint64_t token,
             client::Result &&r) {
    auto H = wh.lock();
    if (!H)
        return;
    Value v;
    std::string err;
    bool lost = false;
    std::shared_ptr<client::Operation> done;
    std::vector<std::shared_ptr<client::Operation>> release;
    try {
        v = r();
    } catch (client::Disconnect &) {
        lost = true;            // the channel's own loss says so
    } catch (std::exception &e) {
        err = e.what();
        if (err.empty())
            err = "read failed";
    }
    {
        std::lock_guard<std::mutex> G(H->lock);
        Slot *s = live_slot(*H, idx, gen);
        if (!s || !s->reading || s->read_token != token)
            return;
        forget_read(*H, *s);
        done = std::move(s->readop);      // (not stored yet: start_reads lets it go)
        if (!s->parked || lost)
            return;
        if (!v.valid()) {
            if (!s->connected)      // a first read: say why there is no value
                push_event(*H, idx, EV_ERROR, err);
            return;
        }
    }
    on_update(*H, idx, gen, v);
    // the next (re)connected slots' first reads start now, not at the worker's next step
    std::vector<ReadTodo> todo;
    {
        std::lock_guard<std::mutex> G(H->lock);
        if (!H->read_first.empty())
            plan_reads(*H, 0.0, todo);
    }
    auto ctxt = H->ctxt.lock();
    if (!todo.empty() && ctxt)
        start_reads(H, *ctxt, todo, release);
}

int Hub_init(HubObject *self, PyObject *args, PyObject *kwds) {
    static const char *kwlist[] = {"conf", nullptr};
    PyObject *conf = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O", const_cast<char **>(kwlist), &conf))
        return -1;
    std::map<std::string, std::string> defs;
    if (conf != Py_None) {
        if (!PyDict_Check(conf)) {
            PyErr_SetString(PyExc_TypeError, "conf must be a dict of str to str");
            return -1;
        }
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        while (PyDict_Next(conf, &pos, &k, &v)) {
            const char *ks = PyUnicode_AsUTF8(k);
            const char *vs = ks ? PyUnicode_AsUTF8(v) : nullptr;
            if (!ks || !vs)
                return -1;
            defs[ks] = vs;
        }
    }
    if (self->ctxt)
        return 0;
    std::string err;
    std::shared_ptr<client::Context> *ctxt = nullptr;
    Py_BEGIN_ALLOW_THREADS
    try {
        client::Config cfg(client::Config::fromEnv());
        if (!defs.empty())
            cfg.applyDefs(defs);
        ctxt = new std::shared_ptr<client::Context>(std::make_shared<client::Context>(cfg.build()));
    } catch (std::exception &e) {
        err = e.what();
    }
    Py_END_ALLOW_THREADS
    if (!ctxt) {
        PyErr_Format(PyExc_RuntimeError, "cannot start a pvxs client: %s", err.c_str());
        return -1;
    }
    self->ctxt = ctxt;
    self->state = new std::shared_ptr<HubState>(std::make_shared<HubState>());
    (*self->state)->ctxt = *ctxt;
    return 0;
}

/* Cancel every monitor and end the context (GIL released). */
void shutdown_hub(HubObject *self) {
    if (!self->state)
        return;
    std::shared_ptr<HubState> H(*self->state);
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    delete self->ctxt;
    delete self->state;
    self->state = nullptr;
    self->ctxt = nullptr;
    std::vector<std::shared_ptr<client::Subscription>> subs;
    std::vector<std::shared_ptr<client::Operation>> ops;
    std::vector<std::shared_ptr<client::Connect>> conns;
    {
        std::lock_guard<std::mutex> G(H->lock);
        H->closed = true;
        for (auto &s : H->slots) {
            ops.push_back(std::move(s.getop));
            ops.push_back(std::move(s.readop));
            conns.push_back(std::move(s.conn));
            if (s.sub)
                subs.push_back(std::move(s.sub));
            s.active = false;
        }
        H->queue.clear();
    }
    Py_BEGIN_ALLOW_THREADS
    for (auto &sub : subs)
        cancel_quietly(sub);
    subs.clear();
    ops.clear();
    conns.clear();
    try {
        ctxt->close();
    } catch (std::exception &) {
    }
    ctxt.reset();
    Py_END_ALLOW_THREADS
}

void Hub_dealloc(HubObject *self) {
    shutdown_hub(self);
    Py_TYPE(self)->tp_free(reinterpret_cast<PyObject *>(self));
}

PyObject *Hub_new(PyTypeObject *type, PyObject *, PyObject *) {
    HubObject *self = reinterpret_cast<HubObject *>(type->tp_alloc(type, 0));
    if (self) {
        self->state = nullptr;
        self->ctxt = nullptr;
    }
    return reinterpret_cast<PyObject *>(self);
}

PyObject *Hub_open(HubObject *self, PyObject *args) {
    const char *name, *request = "";
    int parked = 0;
    if (!PyArg_ParseTuple(args, "s|sp", &name, &request, &parked) || !check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    Py_ssize_t idx;
    uint64_t gen;
    {
        std::lock_guard<std::mutex> G(H->lock);
        if (!H->free_list.empty()) {
            idx = H->free_list.back();
            H->free_list.pop_back();
        } else {
            idx = Py_ssize_t(H->slots.size());
            H->slots.emplace_back();
        }
        Slot &s = H->slots[idx];
        reset_slot(s);
        s.name = name;
        s.request = request;
        s.gen = gen = H->next_gen++;
        s.active = true;
        s.parked = parked != 0;
        if (s.parked && !s.in_rotation) {
            s.in_rotation = true;
            H->rotation.push_back(idx);
        }
    }
    std::shared_ptr<client::Subscription> sub;
    std::shared_ptr<client::Connect> conn;
    std::string err;
    std::string sname(name), sreq(request);
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    Py_BEGIN_ALLOW_THREADS
    try {
        if (parked)
            conn = start_connect(*ctxt, H, sname, idx, gen);
        else
            sub = start_monitor(*ctxt, H, sname, sreq, idx, gen);
    } catch (std::exception &e) {
        err = e.what();
    }
    Py_END_ALLOW_THREADS
    std::lock_guard<std::mutex> G(H->lock);
    Slot &s = H->slots[idx];
    if (!sub && !conn) {
        s.active = false;
        H->free_list.push_back(idx);
        PyErr_Format(PyExc_ValueError, "%s: cannot open: %s", name, err.c_str());
        return nullptr;
    }
    s.sub = std::move(sub);
    s.conn = std::move(conn);
    return PyLong_FromSsize_t(idx);
}

bool slot_index(HubState &H, PyObject *arg, Py_ssize_t &idx) {
    idx = PyLong_AsSsize_t(arg);
    if (idx == -1 && PyErr_Occurred())
        return false;
    if (idx < 0 || idx >= Py_ssize_t(H.slots.size()) || !H.slots[idx].active) {
        PyErr_Format(PyExc_ValueError, "slot %zd is not open", idx);
        return false;
    }
    return true;
}

PyObject *Hub_close_slot(HubObject *self, PyObject *arg) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::shared_ptr<client::Subscription> sub;
    std::shared_ptr<client::Operation> getop, readop;
    std::shared_ptr<client::Connect> conn;
    {
        std::lock_guard<std::mutex> G(H->lock);
        Py_ssize_t idx;
        if (!slot_index(*H, arg, idx))
            return nullptr;
        Slot &s = H->slots[idx];
        sub = std::move(s.sub);
        getop = std::move(s.getop);
        readop = std::move(s.readop);
        conn = std::move(s.conn);
        forget_read(*H, s);
        reset_slot(s);
        H->free_list.push_back(idx);     // stale queue entries are skipped (inactive)
    }
    Py_BEGIN_ALLOW_THREADS
    cancel_quietly(sub);
    getop.reset();
    readop.reset();
    conn.reset();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyObject *Hub_reopen(HubObject *self, PyObject *arg) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::shared_ptr<client::Subscription> old;
    std::shared_ptr<client::Connect> old_conn;
    std::shared_ptr<client::Operation> old_read;
    std::string name, request;
    Py_ssize_t idx;
    uint64_t gen;
    bool parked;
    {
        std::lock_guard<std::mutex> G(H->lock);
        if (!slot_index(*H, arg, idx))
            return nullptr;
        Slot &s = H->slots[idx];
        old = std::move(s.sub);
        old_conn = std::move(s.conn);
        old_read = std::move(s.readop);
        forget_read(*H, s);
        name = s.name;
        request = s.request;
        parked = s.parked;
        s.gen = gen = H->next_gen++;
        s.connected = s.unsuitable = s.dirty = false;
    }
    std::shared_ptr<client::Subscription> sub;
    std::shared_ptr<client::Connect> conn;
    std::string err;
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    Py_BEGIN_ALLOW_THREADS
    try {
        if (old)
            old->cancel();
        old.reset();
        old_conn.reset();
        old_read.reset();
        ctxt->cacheClear(name, client::Context::Clean);   // a fresh channel, not the cached one
        if (parked)
            conn = start_connect(*ctxt, H, name, idx, gen);
        else
            sub = start_monitor(*ctxt, H, name, request, idx, gen);
    } catch (std::exception &e) {
        err = e.what();
    }
    Py_END_ALLOW_THREADS
    bool opened = sub || conn, live;
    {
        std::lock_guard<std::mutex> G(H->lock);
        Slot *s = live_slot(*H, idx, gen);     // not closed or swapped meanwhile
        live = s && s->parked == parked;
        if (live) {
            s->sub.swap(sub);
            s->conn.swap(conn);
        }
    }
    if (sub || conn) {      // not kept: cancelled outside the lock, without the GIL
        Py_BEGIN_ALLOW_THREADS
        sub.reset();
        conn.reset();
        Py_END_ALLOW_THREADS
    }
    if (!live)
        Py_RETURN_FALSE;
    if (!opened) {
        PyErr_Format(PyExc_ValueError, "%s: cannot open: %s", name.c_str(), err.c_str());
        return nullptr;
    }
    Py_RETURN_TRUE;
}

/* What park() and unpark() read of a slot before they call into pvxs. */
struct SlotRef {
    Py_ssize_t idx;
    uint64_t gen;
    std::string name, request;
    bool parked;
};

/* The hub's state and the open slot ``arg`` names (takes the lock); false with a
 * Python error set. */
bool slot_ref(HubObject *self, PyObject *arg, std::shared_ptr<HubState> &state, SlotRef &r) {
    if (!check_open(self))
        return false;
    state = *self->state;
    HubState &H = *state;
    std::lock_guard<std::mutex> G(H.lock);
    if (!slot_index(H, arg, r.idx))
        return false;
    const Slot &s = H.slots[r.idx];
    r.gen = s.gen;
    r.name = s.name;
    r.request = s.request;
    r.parked = s.parked;
    return true;
}

/* ``make`` run without the GIL; false with a Python ValueError ("name: what: why"). */
template <class F>
bool made_without_gil(F &&make, const std::string &name, const char *what) {
    std::string err;
    bool ok = false;
    Py_BEGIN_ALLOW_THREADS
    try {
        ok = make();
    } catch (std::exception &e) {
        err = e.what();
    }
    Py_END_ALLOW_THREADS
    if (!ok)
        PyErr_Format(PyExc_ValueError, "%s: %s: %s", name.c_str(), what, err.c_str());
    return ok;
}

/* park(slot): its monitor swapped for its channel alone (see "parked slots"). */
PyObject *Hub_park(HubObject *self, PyObject *arg) {
    std::shared_ptr<HubState> H;
    SlotRef r;
    if (!slot_ref(self, arg, H, r))
        return nullptr;
    if (r.parked)
        Py_RETURN_FALSE;
    std::shared_ptr<client::Connect> conn;
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    // the channel is held before the monitor goes: no reconnection
    if (!made_without_gil([&] { return bool(conn = start_connect(*ctxt, H, r.name, r.idx, r.gen)); },
                          r.name, "cannot park"))
        return nullptr;
    std::shared_ptr<client::Subscription> old;
    bool done = false;
    {
        std::lock_guard<std::mutex> G(H->lock);
        Slot *s = live_slot(*H, r.idx, r.gen);
        if (s && !s->parked) {
            old = std::move(s->sub);
            s->conn.swap(conn);
            s->parked = done = true;
            if (!s->in_rotation) {
                s->in_rotation = true;
                H->rotation.push_back(r.idx);
            }
        }
    }
    Py_BEGIN_ALLOW_THREADS
    cancel_quietly(old);
    conn.reset();       // not kept (closed or swapped meanwhile)
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(done);
}

/* unpark(slot): a monitor again; its channel and read in flight are let go. */
PyObject *Hub_unpark(HubObject *self, PyObject *arg) {
    std::shared_ptr<HubState> H;
    SlotRef r;
    if (!slot_ref(self, arg, H, r))
        return nullptr;
    if (!r.parked)
        Py_RETURN_FALSE;
    std::shared_ptr<client::Subscription> sub;
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    if (!made_without_gil(
            [&] { return bool(sub = start_monitor(*ctxt, H, r.name, r.request, r.idx, r.gen)); },
            r.name, "cannot monitor"))
        return nullptr;
    std::shared_ptr<client::Connect> conn;
    std::shared_ptr<client::Operation> readop;
    bool done = false;
    {
        std::lock_guard<std::mutex> G(H->lock);
        Slot *s = live_slot(*H, r.idx, r.gen);
        if (s && s->parked) {
            conn = std::move(s->conn);
            readop = std::move(s->readop);
            forget_read(*H, *s);
            s->sub.swap(sub);
            s->parked = false;
            done = true;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    conn.reset();
    readop.reset();
    sub.reset();        // not kept (closed or swapped meanwhile)
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(done);
}

PyObject *Hub_read_step(HubObject *self, PyObject *args) {
    double fraction;
    if (!PyArg_ParseTuple(args, "d", &fraction) || !check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::vector<ReadTodo> todo;
    std::vector<std::shared_ptr<client::Operation>> release;
    {
        std::lock_guard<std::mutex> G(H->lock);
        plan_reads(*H, fraction, todo);
    }
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    Py_BEGIN_ALLOW_THREADS
    start_reads(H, *ctxt, todo, release);
    release.clear();
    Py_END_ALLOW_THREADS
    return PyLong_FromSize_t(todo.size());
}

/* How many slots are open, parked; reads issued and in flight. */
struct SlotCounts {
    Py_ssize_t open = 0, parked = 0;
    unsigned long long reads = 0;
    Py_ssize_t in_flight = 0;
};

bool count_slots(HubObject *self, SlotCounts &c) {
    if (!check_open(self))
        return false;
    std::shared_ptr<HubState> H(*self->state);
    std::lock_guard<std::mutex> G(H->lock);
    for (auto &s : H->slots) {
        c.open += s.active ? 1 : 0;
        c.parked += s.active && s.parked ? 1 : 0;
    }
    c.reads = H->reads;
    c.in_flight = Py_ssize_t(H->in_flight);
    return true;
}

PyObject *Hub_parked(HubObject *self, PyObject *) {
    SlotCounts c;
    if (!count_slots(self, c))
        return nullptr;
    return Py_BuildValue("(nKn)", c.parked, c.reads, c.in_flight);
}

PyObject *Hub_drain(HubObject *self, PyObject *args) {
    Py_ssize_t limit = -1;
    int fresh_only = 0;
    if (!PyArg_ParseTuple(args, "|np", &limit, &fresh_only) || !check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::vector<Out> outs;
    {
        std::lock_guard<std::mutex> G(H->lock);
        std::deque<Py_ssize_t> keep;
        auto &q = H->queue;
        while (!q.empty()) {
            if (limit >= 0 && Py_ssize_t(outs.size()) >= limit)
                break;                  // the rest stays queued, first in line
            Py_ssize_t idx = q.front();
            q.pop_front();
            Slot &s = H->slots[idx];
            if (!s.active || !s.queued)
                continue;
            if (fresh_only && s.dirty && !s.fresh) {
                keep.push_back(idx);    // not a first value: stays queued
                continue;
            }
            s.queued = false;
            if (s.dirty)
                copy_out(s, idx, outs);
        }
        while (!keep.empty()) {
            q.push_front(keep.back());
            keep.pop_back();
        }
    }
    return outs_to_list(outs);
}

PyObject *Hub_take(HubObject *self, PyObject *args) {
    PyObject *seq;
    int any = 0;
    if (!PyArg_ParseTuple(args, "O|p", &seq, &any) || !check_open(self))
        return nullptr;
    PyObject *fast = PySequence_Fast(seq, "take() needs a sequence of slots");
    if (!fast)
        return nullptr;
    std::vector<Py_ssize_t> want;
    for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(fast); k++) {
        Py_ssize_t idx = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(fast, k));
        if (idx == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return nullptr;
        }
        want.push_back(idx);
    }
    Py_DECREF(fast);
    std::shared_ptr<HubState> H(*self->state);
    std::vector<Out> outs;
    {
        std::lock_guard<std::mutex> G(H->lock);
        for (Py_ssize_t idx : want) {
            if (idx < 0 || idx >= Py_ssize_t(H->slots.size()))
                continue;
            Slot &s = H->slots[idx];
            if (s.active && (s.dirty || (any && s.connected && s.vk != V_NONE)))
                copy_out(s, idx, outs);
        }
    }
    return outs_to_list(outs);
}

PyObject *meta_dict(const std::vector<MetaItem> &items);

PyObject *Hub_events(HubObject *self, PyObject *) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::vector<Event> evs;
    {
        std::lock_guard<std::mutex> G(H->lock);
        evs.reserve(H->events.size());
        for (auto &e : H->events) {     // not those of a monitor closed or reopened since
            const Slot &s = H->slots[e.slot];
            if (s.active && s.gen == e.gen)
                evs.push_back(std::move(e));
        }
        H->events.clear();
    }
    PyObject *list = PyList_New(Py_ssize_t(evs.size()));
    if (!list)
        return nullptr;
    for (size_t k = 0; k < evs.size(); k++) {
        const Event &e = evs[k];
        PyObject *meta;
        if (e.code == EV_CONNECTED) {
            meta = meta_dict(e.meta);
            if (!meta) {
                Py_DECREF(list);
                return nullptr;
            }
        } else {
            meta = Py_None;
            Py_INCREF(meta);
        }
        PyObject *t = Py_BuildValue("(nis#s#N)", e.slot, e.code, e.a.data(), Py_ssize_t(e.a.size()),
                                    e.b.data(), Py_ssize_t(e.b.size()), meta);
        if (!t) {
            PyErr_Clear();      // undecodable text: say so rather than lose the event
            t = Py_BuildValue("(nissO)", e.slot, e.code, "?", "?", Py_None);
            if (!t) {
                Py_DECREF(list);
                return nullptr;
            }
        }
        PyList_SET_ITEM(list, Py_ssize_t(k), t);
    }
    return list;
}

void on_meta(const std::weak_ptr<HubState> &wh, Py_ssize_t idx, uint64_t gen, client::Result &&r) {
    auto H = wh.lock();
    if (!H)
        return;
    MetaResult res{idx, std::string(), {}};
    try {
        read_meta(r(), res.items);
    } catch (std::exception &e) {
        res.error = e.what();
        if (res.error.empty())
            res.error = "get failed";
    }
    std::lock_guard<std::mutex> G(H->lock);
    if (H->closed || idx >= Py_ssize_t(H->slots.size()))
        return;
    Slot &s = H->slots[idx];
    if (s.active && s.gen == gen)
        H->metas.push_back(std::move(res));
}

PyObject *Hub_get_meta(HubObject *self, PyObject *arg) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::string name;
    Py_ssize_t idx;
    uint64_t gen;
    std::shared_ptr<client::Operation> old;
    {
        std::lock_guard<std::mutex> G(H->lock);
        if (!slot_index(*H, arg, idx))
            return nullptr;
        Slot &s = H->slots[idx];
        name = s.name;
        gen = s.gen;
        old = std::move(s.getop);
    }
    std::shared_ptr<client::Operation> op;
    std::string err;
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    std::weak_ptr<HubState> wh(H);
    Py_BEGIN_ALLOW_THREADS
    try {
        old.reset();
        op = ctxt->get(name)
                 .result([wh, idx, gen](client::Result &&r) { on_meta(wh, idx, gen, std::move(r)); })
                 .exec();
    } catch (std::exception &e) {
        err = e.what();
    }
    Py_END_ALLOW_THREADS
    if (!op) {
        PyErr_Format(PyExc_ValueError, "%s: cannot get: %s", name.c_str(), err.c_str());
        return nullptr;
    }
    {
        std::lock_guard<std::mutex> G(H->lock);
        Slot &s = H->slots[idx];
        if (s.active && s.gen == gen)
            s.getop = std::move(op);
    }
    if (op) {       // closed meanwhile: cancelled outside the lock, without the GIL
        Py_BEGIN_ALLOW_THREADS
        op.reset();
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

PyObject *meta_value(const MetaItem &m) {
    switch (m.kind) {
    case 0: Py_RETURN_TRUE;
    case 1: return PyFloat_FromDouble(m.d);
    case 2: return PyLong_FromLongLong(m.i);
    case 3: return PyUnicode_DecodeUTF8(m.s.data(), Py_ssize_t(m.s.size()), "replace");
    default: {
        PyObject *t = PyTuple_New(Py_ssize_t(m.list.size()));
        if (!t)
            return nullptr;
        for (size_t k = 0; k < m.list.size(); k++) {
            PyObject *u = PyUnicode_DecodeUTF8(m.list[k].data(), Py_ssize_t(m.list[k].size()),
                                               "replace");
            if (!u) {
                Py_DECREF(t);
                return nullptr;
            }
            PyTuple_SET_ITEM(t, Py_ssize_t(k), u);
        }
        return t;
    }
    }
}

PyObject *meta_dict(const std::vector<MetaItem> &items) {
    PyObject *d = PyDict_New();
    if (!d)
        return nullptr;
    for (auto &it : items) {
        PyObject *v = meta_value(it);
        if (!v || PyDict_SetItemString(d, it.key.c_str(), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(d);
            return nullptr;
        }
        Py_DECREF(v);
    }
    return d;
}

PyObject *Hub_metas(HubObject *self, PyObject *) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::vector<MetaResult> got;
    std::vector<std::shared_ptr<client::Operation>> done;
    {
        std::lock_guard<std::mutex> G(H->lock);
        got.swap(H->metas);
        for (auto &m : got) {
            Slot &s = H->slots[m.slot];
            if (s.getop)
                done.push_back(std::move(s.getop));
        }
    }
    if (!done.empty()) {
        Py_BEGIN_ALLOW_THREADS
        done.clear();      // completed ops, released off pvxs's thread
        Py_END_ALLOW_THREADS
    }
    PyObject *list = PyList_New(0);
    if (!list)
        return nullptr;
    for (auto &m : got) {
        PyObject *d = meta_dict(m.items);
        if (!d) {
            Py_DECREF(list);
            return nullptr;
        }
        PyObject *t = Py_BuildValue("(nNs#)", m.slot, d, m.error.data(), Py_ssize_t(m.error.size()));
        if (!t || PyList_Append(list, t) < 0) {
            Py_XDECREF(t);
            Py_DECREF(list);
            return nullptr;
        }
        Py_DECREF(t);
    }
    return list;
}

PyObject *Hub_renew(HubObject *self, PyObject *arg) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::lock_guard<std::mutex> G(H->lock);
    Py_ssize_t idx;
    if (!slot_index(*H, arg, idx))
        return nullptr;
    H->slots[idx].fresh = true;
    Py_RETURN_NONE;
}

PyObject *Hub_mute(HubObject *self, PyObject *args) {
    Py_ssize_t idx;
    int muted;
    if (!PyArg_ParseTuple(args, "np", &idx, &muted) || !check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::lock_guard<std::mutex> G(H->lock);
    if (idx < 0 || idx >= Py_ssize_t(H->slots.size()) || !H->slots[idx].active) {
        PyErr_Format(PyExc_ValueError, "slot %zd is not open", idx);
        return nullptr;
    }
    Slot &s = H->slots[idx];
    s.muted = muted != 0;
    if (!s.muted && s.dirty && !s.queued) {
        s.queued = true;
        H->queue.push_back(idx);
    }
    Py_RETURN_NONE;
}

PyObject *Hub_updates(HubObject *self, PyObject *) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::lock_guard<std::mutex> G(H->lock);
    return PyLong_FromUnsignedLongLong(H->updates);
}

PyObject *Hub_slot_events(HubObject *self, PyObject *arg) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<HubState> H(*self->state);
    std::lock_guard<std::mutex> G(H->lock);
    Py_ssize_t idx;
    if (!slot_index(*H, arg, idx))
        return nullptr;
    return PyLong_FromUnsignedLongLong(H->slots[idx].events);
}

PyObject *Hub_opened(HubObject *self, PyObject *) {
    SlotCounts c;
    if (!count_slots(self, c))
        return nullptr;
    return PyLong_FromSsize_t(c.open);
}

PyObject *Hub_hurry_up(HubObject *self, PyObject *) {
    if (!check_open(self))
        return nullptr;
    std::shared_ptr<client::Context> ctxt(*self->ctxt);
    Py_BEGIN_ALLOW_THREADS
    try {
        ctxt->hurryUp();
    } catch (std::exception &) {
    }
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

PyObject *Hub_shutdown(HubObject *self, PyObject *) {
    shutdown_hub(self);
    Py_RETURN_NONE;
}

PyMethodDef hub_methods[] = {
    {"open", (PyCFunction)Hub_open, METH_VARARGS,
     "open(name, request='', parked=False) -> slot: a monitor of ``name`` (pvRequest "
     "``request``); ``parked``: its channel alone (see park())."},
    {"close", (PyCFunction)Hub_close_slot, METH_O, "close(slot): cancel its monitor; the slot is free."},
    {"reopen", (PyCFunction)Hub_reopen, METH_O,
     "reopen(slot) -> bool: its monitor made anew on a fresh channel (False: closed meanwhile)."},
    {"drain", (PyCFunction)Hub_drain, METH_VARARGS,
     "drain(limit=-1, fresh_only=False) -> [(slot, FastValue)]: the newest value of each slot "
     "that changed since last drained or taken, in the order they first changed, at most "
     "``limit`` (the rest stay queued); ``fresh_only``: only first values (since open, a "
     "connection or renew())."},
    {"take", (PyCFunction)Hub_take, METH_VARARGS,
     "take(slots, any=False) -> [(slot, FastValue)]: those of ``slots`` that changed (``any``: "
     "every connected one, changed or not)."},
    {"events", (PyCFunction)Hub_events, METH_NOARGS,
     "events() -> [(slot, code, a, b, meta)]: 1 connected (a type id, b value code, meta the "
     "first update's metadata as metas() gives it), 2 disconnected, 3 finished, 4 error (a "
     "text), 5 unsuitable (a type id, b why); meta is None but for 1."},
    {"get_meta", (PyCFunction)Hub_get_meta, METH_O,
     "get_meta(slot): one get of the whole structure; its metadata comes from metas()."},
    {"metas", (PyCFunction)Hub_metas, METH_NOARGS,
     "metas() -> [(slot, dict, error)]: the gets done since: display, control, valueAlarm "
     "fields and value.choices by their dotted names, True for each substructure present."},
    {"renew", (PyCFunction)Hub_renew, METH_O, "renew(slot): its next value counts as a first value."},
    {"mute", (PyCFunction)Hub_mute, METH_VARARGS,
     "mute(slot, muted): a muted slot keeps its newest value but is not queued for drain()."},
    {"updates", (PyCFunction)Hub_updates, METH_NOARGS, "updates() -> int: updates taken in all."},
    {"slot_events", (PyCFunction)Hub_slot_events, METH_O, "slot_events(slot) -> int: its updates."},
    {"opened", (PyCFunction)Hub_opened, METH_NOARGS, "opened() -> int: open slots."},
    {"park", (PyCFunction)Hub_park, METH_O,
     "park(slot) -> bool: its monitor let go, its channel kept; its value is read by get "
     "when it connects and on the rotation (read_step()). False: parked already."},
    {"unpark", (PyCFunction)Hub_unpark, METH_O,
     "unpark(slot) -> bool: a monitor again (False: not parked)."},
    {"read_step", (PyCFunction)Hub_read_step, METH_VARARGS,
     "read_step(fraction) -> int: reads started: the parked slots that connected without a "
     "value, then ``fraction`` of the rotation (the parked, connected slots in turn), at "
     "most 128 reads in flight (a finished read starts the next first reads itself)."},
    {"parked", (PyCFunction)Hub_parked, METH_NOARGS,
     "parked() -> (slots parked, reads issued in all, reads in flight)."},
    {"hurry_up", (PyCFunction)Hub_hurry_up, METH_NOARGS, "hurry_up(): search for the unconnected now."},
    {"shutdown", (PyCFunction)Hub_shutdown, METH_NOARGS, "shutdown(): cancel all and end the context."},
    {nullptr, nullptr, 0, nullptr},
};

PyTypeObject HubType = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "_pvafast",
    "pvxs monitors of plain scalars whose updates cost no Python (see the source's header).",
    -1, nullptr,
};

}  // namespace

#define PVXS_STR2(x) #x
#define PVXS_STR(x) PVXS_STR2(x)
#define PVXS_BUILT_FOR PVXS_STR(PVXS_MAJOR_VERSION) "." PVXS_STR(PVXS_MINOR_VERSION) "." \
    PVXS_STR(PVXS_MAINTENANCE_VERSION)

PyMODINIT_FUNC PyInit__pvafast(void) {
    if (!pvxs::version_abi_check()) {
        PyErr_Format(PyExc_ImportError, "built for pvxs %s, loaded %s (another ABI)",
                     PVXS_BUILT_FOR, pvxs::version_str());
        return nullptr;
    }
    HubType.tp_name = "pvprobe.pva._pvafast.Hub";
    HubType.tp_basicsize = sizeof(HubObject);
    HubType.tp_flags = Py_TPFLAGS_DEFAULT;
    HubType.tp_doc = "Hub(conf=None): one pvxs client context (EPICS_PVA_* from the environment, "
                     "then ``conf``) and its fast monitors.";
    HubType.tp_new = Hub_new;
    HubType.tp_init = (initproc)Hub_init;
    HubType.tp_dealloc = (destructor)Hub_dealloc;
    HubType.tp_methods = hub_methods;
    if (PyType_Ready(&HubType) < 0)
        return nullptr;
    FastValueType = PyStructSequence_NewType(&fast_value_desc);
    if (!FastValueType)
        return nullptr;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return nullptr;
    Py_INCREF(&HubType);
    Py_INCREF(FastValueType);
    if (PyModule_AddObject(m, "Hub", reinterpret_cast<PyObject *>(&HubType)) < 0 ||
        PyModule_AddObject(m, "FastValue", reinterpret_cast<PyObject *>(FastValueType)) < 0 ||
        PyModule_AddStringConstant(m, "BUILT_FOR", PVXS_BUILT_FOR) < 0 ||
        PyModule_AddStringConstant(m, "PVXS_VERSION", pvxs::version_str()) < 0) {
        Py_DECREF(m);
        return nullptr;
    }
    return m;
}
