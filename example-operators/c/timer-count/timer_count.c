/* timer-count: the smallest operator that uses event-time timers; the same operator as
 * example-operators/rust/timer-count. An event with key k (or none) and event time t is due at
 * t + 10: the count of (k, due) in host state goes up by one and a timer is registered for k
 * at due. When the timer fires it emits {"count":n,"due":due} keyed by k at event time due,
 * and deletes the count. An event whose value contains the text `trap` traps the call
 * (abort) after counting it. */
#include "cameo.h"

#define DELAY_MS 10

/* The state key of the count of events of `key` (NULL for none) due at `due`. */
static void count_key(const uint8_t *key, size_t key_len, int64_t due, cameo_buf *name) {
    cameo_buf_i64(name, due);
    if (key) {
        cameo_buf_str(name, "/");
        cameo_buf_push(name, key, key_len);
    }
}

/* Whether `len` bytes at `p` contain the text `trap`. */
static bool contains_trap(const uint8_t *p, size_t len) {
    for (size_t k = 0; k + 4 <= len; k++)
        if (memcmp(p + k, "trap", 4) == 0) return true;
    return false;
}

static bool init(cameo_str config, cameo_error *err) {
    (void)config;
    (void)err;
    return true;
}

/* The count stored under `name` into *count (0 when none); fails the call when it is not one. */
static bool stored(const cameo_buf *name, uint64_t *count, cameo_error *err) {
    size_t len = 0;
    if (cameo_state_get_u64(name->ptr, name->len, count, &len) >= 0) return true;
    return cameo_failed(err, "state entry for `%.*s` holds %zu bytes, not an 8-byte count", (int)name->len, (const char *)name->ptr, len);
}

static bool process(cameo_batch *batch, cameo_output *out, cameo_error *err) {
    (void)out;
    for (size_t i = 0; i < batch->len; i++) {
        const cameo_event *event = &batch->ptr[i];
        const uint8_t *key = event->key.is_some ? event->key.val.ptr : NULL;
        if (event->key.is_some && !key) key = (const uint8_t *)"";
        int64_t due = event->event_time > INT64_MAX - DELAY_MS ? INT64_MAX : event->event_time + DELAY_MS;
        cameo_buf name = {0};
        count_key(key, event->key.val.len, due, &name);
        uint64_t count;
        bool ok = stored(&name, &count, err);
        if (ok) {
            cameo_state_put_u64(name.ptr, name.len, count + 1);
            cameo_timer_register(key, event->key.val.len, due);
            /* After the write and the timer, which the host must discard. */
            if (contains_trap(event->value.ptr, event->value.len)) abort();
        }
        free(name.ptr);
        if (!ok) return false;
    }
    return true;
}

static bool on_timer(const cameo_str *key, int64_t time, cameo_output *out, cameo_error *err) {
    const uint8_t *k = key ? (key->ptr ? key->ptr : (const uint8_t *)"") : NULL;
    size_t k_len = key ? key->len : 0;
    cameo_buf name = {0};
    count_key(k, k_len, time, &name);
    uint64_t count;
    bool ok = stored(&name, &count, err);
    if (ok) {
        cameo_state_delete(name.ptr, name.len);
        cameo_buf value = {0};
        cameo_buf_str(&value, "{\"count\":");
        cameo_buf_u64(&value, count);
        cameo_buf_str(&value, ",\"due\":");
        cameo_buf_i64(&value, time);
        cameo_buf_str(&value, "}");
        cameo_emit(out, k, k_len, value.ptr, value.len, time);
        free(value.ptr);
    }
    free(name.ptr);
    return ok;
}

CAMEO_EXPORT_OPERATOR_WITH_TIMERS(init, process, on_timer)
