/* cameo_window.h: host-managed windows for C operators. Included by cameo.h.
 *
 * The host assigns events to windows per key, keeps one accumulator per pane (one key in one
 * window), fires panes when the watermark passes their end and merges session windows; the
 * operator only says how events fold into an accumulator and what a fired pane emits. The
 * accumulator is a C struct of the operator's own; between calls the host keeps it as the
 * bytes `encode` writes (JSON, as the Python and JavaScript SDKs keep theirs), and `decode`
 * reads them back.
 *
 *     typedef struct { cameo_num sum; uint64_t count; } acc;
 *     static const cameo_window_operator sum_op = {
 *         .acc_size = sizeof(acc),
 *         .init = init,          // bool (cameo_str config, cameo_error *err)
 *         .create = create,      // void (void *acc): a new pane's accumulator
 *         .decode = decode,      // bool (cameo_str bytes, void *acc, char *why, size_t why_len)
 *         .encode = encode,      // void (const void *acc, cameo_buf *out)
 *         .add = add,            // bool (void *acc, const cameo_event *event, cameo_error *err)
 *         .merge = merge,        // bool (void *into, const void *later, cameo_error *err), or NULL
 *         .fire = fire,          // bool (const cameo_str *key, cameo_window window,
 *                                //       const void *acc, cameo_output *out, cameo_error *err)
 *     };
 *     CAMEO_EXPORT_WINDOWED(sum_op)
 *
 * `cameo operator build` sees CAMEO_EXPORT_WINDOWED in the sources and builds against the
 * windowed-operator world; the job spec must then give the operator a `window`. Accumulators
 * are zeroed before create or decode; `drop`, when set, frees what an accumulator owns.
 * `merge` may be NULL when the operator does not support session windows: a merge then fails
 * saying so.
 */
#ifndef CAMEO_WINDOW_H
#define CAMEO_WINDOW_H

#ifndef CAMEO_WINDOWED_WORLD
#error "cameo_window.h needs the bindings of the windowed-operator world: build with `cameo operator build`, which uses them when a source calls CAMEO_EXPORT_WINDOWED"
#endif

/* A window of event time: the half-open interval [start, end), in milliseconds. */
typedef struct {
    int64_t start;
    int64_t end;
} cameo_window;

/* The last millisecond of a window, the usual event time of its result. */
static int64_t cameo_window_max_time(cameo_window window) {
    return window.end == INT64_MIN ? INT64_MIN : window.end - 1;
}

/* What a windowed operator implements (see the top of this file). */
typedef struct {
    size_t acc_size;
    bool (*init)(cameo_str config, cameo_error *err);
    void (*create)(void *acc);
    bool (*decode)(cameo_str bytes, void *acc, char *why, size_t why_len);
    void (*encode)(const void *acc, cameo_buf *out);
    bool (*add)(void *acc, const cameo_event *event, cameo_error *err);
    bool (*merge)(void *into, const void *later, cameo_error *err);
    bool (*fire)(const cameo_str *key, cameo_window window, const void *acc, cameo_output *out, cameo_error *err);
    void (*drop)(void *acc);
} cameo_window_operator;

#define CAMEO_PROCESS_ON_WINDOWED_                                                                             \
    "this operator is windowed (exported with CAMEO_EXPORT_WINDOWED): give it a `window` in the job spec, " \
    "for example window = { kind = \"tumbling\", size_ms = 60000 }, so that the host assigns its events "     \
    "to windows"
#define CAMEO_TIMER_ON_WINDOWED_ \
    "this operator is windowed (exported with CAMEO_EXPORT_WINDOWED) and does not handle timers; the host fires its windows"
#define CAMEO_MERGE_MISSING_                                                                                   \
    "this window operator has no merge, which session windows need to combine overlapping sessions; give it " \
    "one, or use a tumbling or sliding window"
#define CAMEO_NOT_INITIALISED_ "operator is not initialised: init was not called, or it returned an error"

static bool cameo_window_ready_;

/* "no key" or `key "..."`, as the Rust SDK names a pane's key in its messages. */
static void cameo_describe_key_(cameo_buf *buf, const uint8_t *key, size_t key_len, bool has_key) {
    if (!has_key) {
        cameo_buf_str(buf, "no key");
        return;
    }
    cameo_buf_str(buf, "key ");
    cameo_buf_json_str(buf, key, key_len);
}

/* Decodes `bytes` into `acc`; on failure fails the call naming the pane (`what`). */
static bool cameo_window_decode_(const cameo_window_operator *op, const uint8_t *bytes, size_t len, void *acc,
                                 cameo_buf *what, cameo_error *err) {
    char why[256] = "";
    cameo_str text = {bytes, len};
    if (op->decode(text, acc, why, sizeof why)) return true;
    cameo_buf_push(what, "", 1);
    return cameo_failed(err, "the accumulator of %s is not what this operator stores: %s", (const char *)what->ptr, why);
}

/* The accumulator's bytes, handed to the host (which frees them after the call). */
static operator_list_u8_t cameo_window_encode_(const cameo_window_operator *op, const void *acc) {
    cameo_buf bytes = {0};
    op->encode(acc, &bytes);
    if (!bytes.ptr) bytes.ptr = cameo_alloc_(1);
    operator_list_u8_t list = {bytes.ptr, bytes.len};
    return list;
}

static void cameo_window_drop_(const cameo_window_operator *op, uint8_t *accs, size_t count) {
    if (op->drop)
        for (size_t k = 0; k < count; k++) op->drop(accs + k * op->acc_size);
    free(accs);
}

/* Folds a batch into its panes: the body of the exported accumulate. */
static bool cameo_window_accumulate_(const cameo_window_operator *op, const exports_cameo_operator_windowed_list_pane_t *panes,
                                     const exports_cameo_operator_windowed_list_tuple2_u32_event_t *events,
                                     operator_list_list_u8_t *ret, cameo_error *err) {
    if (!cameo_window_ready_) return cameo_failed(err, CAMEO_NOT_INITIALISED_);
    size_t count = panes->len, made = 0;
    uint8_t *accs = calloc(count ? count : 1, op->acc_size ? op->acc_size : 1);
    if (!accs) abort();
    bool ok = true;
    for (; ok && made < count; made++) {
        const exports_cameo_operator_windowed_pane_t *pane = &panes->ptr[made];
        void *acc = accs + made * op->acc_size;
        if (!pane->acc.is_some) {
            op->create(acc);
            continue;
        }
        cameo_buf what = {0};
        cameo_describe_key_(&what, pane->key.val.ptr, pane->key.val.len, pane->key.is_some);
        char window[64];
        snprintf(window, sizeof window, ", window [%lld, %lld)", (long long)pane->window.start, (long long)pane->window.end);
        cameo_buf_str(&what, window);
        ok = cameo_window_decode_(op, pane->acc.val.ptr, pane->acc.val.len, acc, &what, err);
        free(what.ptr);
    }
    for (size_t position = 0; ok && position < events->len; position++) {
        uint32_t index = events->ptr[position].f0;
        if (index >= count)
            ok = cameo_failed(err, "event %zu of the batch names pane %u, but the batch has %zu panes", position, (unsigned)index, count);
        else
            ok = op->add(accs + index * op->acc_size, &events->ptr[position].f1, err);
    }
    if (ok) {
        ret->ptr = cameo_alloc_((count ? count : 1) * sizeof(operator_list_u8_t));
        ret->len = count;
        for (size_t k = 0; k < count; k++) ret->ptr[k] = cameo_window_encode_(op, accs + k * op->acc_size);
    }
    cameo_window_drop_(op, accs, made);
    return ok;
}

/* The union of two session windows: the body of the exported merge. */
static bool cameo_window_merge_(const cameo_window_operator *op, const operator_list_u8_t *key, const operator_list_u8_t *a,
                                const operator_list_u8_t *b, operator_list_u8_t *ret, cameo_error *err) {
    if (!cameo_window_ready_) return cameo_failed(err, CAMEO_NOT_INITIALISED_);
    if (!op->merge) return cameo_failed(err, CAMEO_MERGE_MISSING_);
    uint8_t *accs = calloc(2, op->acc_size ? op->acc_size : 1);
    if (!accs) abort();
    size_t made = 0;
    bool ok = true;
    const operator_list_u8_t *sides[2] = {a, b};
    for (; ok && made < 2; made++) {
        cameo_buf what = {0};
        cameo_buf_str(&what, made == 0 ? "the earlier session of " : "the later session of ");
        cameo_describe_key_(&what, key ? key->ptr : NULL, key ? key->len : 0, key != NULL);
        ok = cameo_window_decode_(op, sides[made]->ptr, sides[made]->len, accs + made * op->acc_size, &what, err);
        free(what.ptr);
    }
    if (ok) ok = op->merge(accs, accs + op->acc_size, err);
    if (ok) *ret = cameo_window_encode_(op, accs);
    cameo_window_drop_(op, accs, made);
    return ok;
}

/* The events a pane emits: the body of the exported fire. */
static bool cameo_window_fire_(const cameo_window_operator *op, const operator_list_u8_t *key, cameo_window window,
                               const operator_list_u8_t *bytes, cameo_output *out, cameo_error *err) {
    if (!cameo_window_ready_) return cameo_failed(err, CAMEO_NOT_INITIALISED_);
    uint8_t *acc = calloc(1, op->acc_size ? op->acc_size : 1);
    if (!acc) abort();
    cameo_buf what = {0};
    cameo_describe_key_(&what, key ? key->ptr : NULL, key ? key->len : 0, key != NULL);
    char range[64];
    snprintf(range, sizeof range, ", window [%lld, %lld)", (long long)window.start, (long long)window.end);
    cameo_buf_str(&what, range);
    bool decoded = cameo_window_decode_(op, bytes->ptr, bytes->len, acc, &what, err);
    free(what.ptr);
    bool ok = decoded;
    if (ok) {
        cameo_str k = {key ? key->ptr : NULL, key ? key->len : 0};
        ok = op->fire(key ? &k : NULL, window, acc, out, err);
    }
    cameo_window_drop_(op, acc, decoded ? 1 : 0);
    return ok;
}

/* Exports OPERATOR, a cameo_window_operator, as the component's handler and windowed
 * interfaces. */
#define CAMEO_EXPORT_WINDOWED(OPERATOR)                                                                         \
    bool exports_cameo_operator_handler_init(operator_string_t *config, cameo_error *err) {                    \
        cameo_str text = {config->ptr, config->len};                                                            \
        cameo_window_ready_ = false;                                                                            \
        bool ok = (OPERATOR).init(text, err);                                                                   \
        operator_string_free(config);                                                                           \
        cameo_window_ready_ = ok;                                                                               \
        return ok;                                                                                              \
    }                                                                                                           \
    bool exports_cameo_operator_handler_process(cameo_batch *batch, cameo_batch *ret, cameo_error *err) {      \
        (void)ret;                                                                                              \
        exports_cameo_operator_handler_list_event_free(batch);                                                  \
        return cameo_failed(err, CAMEO_PROCESS_ON_WINDOWED_);                                                   \
    }                                                                                                           \
    bool exports_cameo_operator_handler_on_timer(operator_list_u8_t *key, int64_t time, cameo_batch *ret,      \
                                                 cameo_error *err) {                                            \
        (void)time;                                                                                             \
        (void)ret;                                                                                              \
        if (key) operator_list_u8_free(key);                                                                    \
        return cameo_failed(err, CAMEO_TIMER_ON_WINDOWED_);                                                     \
    }                                                                                                           \
    bool exports_cameo_operator_windowed_accumulate(exports_cameo_operator_windowed_list_pane_t *panes,          \
                                                    exports_cameo_operator_windowed_list_tuple2_u32_event_t *events, \
                                                    operator_list_list_u8_t *ret, cameo_error *err) {           \
        bool ok = cameo_window_accumulate_(&(OPERATOR), panes, events, ret, err);                               \
        exports_cameo_operator_windowed_list_pane_free(panes);                                                  \
        exports_cameo_operator_windowed_list_tuple2_u32_event_free(events);                                     \
        return ok;                                                                                              \
    }                                                                                                           \
    bool exports_cameo_operator_windowed_merge(operator_list_u8_t *key, operator_list_u8_t *a,                  \
                                               operator_list_u8_t *b, operator_list_u8_t *ret, cameo_error *err) { \
        bool ok = cameo_window_merge_(&(OPERATOR), key, a, b, ret, err);                                        \
        if (key) operator_list_u8_free(key);                                                                    \
        operator_list_u8_free(a);                                                                               \
        operator_list_u8_free(b);                                                                               \
        return ok;                                                                                              \
    }                                                                                                           \
    bool exports_cameo_operator_windowed_fire(operator_list_u8_t *key, exports_cameo_operator_windowed_window_t *window, \
                                              operator_list_u8_t *acc, exports_cameo_operator_windowed_list_event_t *ret, \
                                              cameo_error *err) {                                               \
        cameo_output out = {0};                                                                                 \
        cameo_window w = {window->start, window->end};                                                          \
        bool ok = cameo_window_fire_(&(OPERATOR), key, w, acc, &out, err);                                      \
        if (key) operator_list_u8_free(key);                                                                    \
        operator_list_u8_free(acc);                                                                             \
        if (ok) {                                                                                               \
            ret->ptr = out.ptr;                                                                                 \
            ret->len = out.len;                                                                                 \
        } else {                                                                                                \
            cameo_output_free_(&out);                                                                           \
        }                                                                                                       \
        return ok;                                                                                              \
    }

#endif
