/* cameo.h: typed helpers for writing cameo operators in C, over the bindings that
 * `cameo operator build` generates from the WIT package (operator.h).
 *
 * An operator defines two functions and exports them:
 *
 *     #include "cameo.h"
 *
 *     static bool init(cameo_str config, cameo_error *err) { return true; }
 *     static bool process(cameo_batch *batch, cameo_output *out, cameo_error *err) {
 *         for (size_t i = 0; i < batch->len; i++) cameo_pass_event(out, &batch->ptr[i]);
 *         return true;
 *     }
 *     CAMEO_EXPORT_OPERATOR(init, process)
 *
 * The export glue frees the arguments the host hands over (wit-bindgen's C ownership rules),
 * and the events emitted are freed after the host has copied them. Return false after
 * cameo_invalid_input(err, ...) or cameo_failed(err, ...) to fail the call: the host sends its
 * batch to the dead-letter output and discards the state writes it made.
 * CAMEO_EXPORT_OPERATOR_WITH_TIMERS(init, process, on_timer) exports an on-timer too.
 * CAMEO_EXPORT_WINDOWED(op) exports an operator whose windows the host manages (cameo_window.h).
 *
 * Numbers and JSON text: cameo_num keeps a number exact while it fits an int64_t;
 * cameo_buf_num, cameo_buf_f64 and cameo_buf_json_str write numbers and strings exactly as
 * serde_json does (cameo_number.h).
 *
 * Text: cameo_utf8_valid, cameo_next_char, cameo_is_alnum and cameo_lower_word split and
 * lower-case words exactly as Rust's char::is_alphanumeric and str::to_lowercase (tables in
 * cameo_unicode.h, generated from Rust); wasi-libc's iswalnum and towlower are older and know
 * no multi-character lower cases.
 */
#ifndef CAMEO_H
#define CAMEO_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator.h"
#include "cameo_json.h"
#include "cameo_unicode.h"

/* A borrowed run of bytes (text when it says so). */
typedef struct {
    const uint8_t *ptr;
    size_t len;
} cameo_str;

typedef exports_cameo_operator_handler_list_event_t cameo_batch;
typedef cameo_operator_types_event_t cameo_event;
typedef exports_cameo_operator_handler_operator_error_t cameo_error;

/* The events a call sends downstream, in order. */
typedef struct {
    cameo_event *ptr;
    size_t len;
    size_t cap;
} cameo_output;

/* Growable bytes, for building values. Free with free(buf.ptr) unless handed over. */
typedef struct {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} cameo_buf;

static void *cameo_alloc_(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort(); /* out of memory: a trap, which fails the call */
    return p;
}

static uint8_t *cameo_dup_(const uint8_t *p, size_t n) {
    uint8_t *copy = cameo_alloc_(n);
    if (n) memcpy(copy, p, n);
    return copy;
}

static void cameo_buf_push(cameo_buf *buf, const void *bytes, size_t n) {
    if (buf->len + n > buf->cap) {
        size_t cap = buf->cap ? buf->cap * 2 : 64;
        while (cap < buf->len + n) cap *= 2;
        uint8_t *grown = realloc(buf->ptr, cap);
        if (!grown) abort();
        buf->ptr = grown;
        buf->cap = cap;
    }
    memcpy(buf->ptr + buf->len, bytes, n);
    buf->len += n;
}

static void cameo_buf_str(cameo_buf *buf, const char *s) { cameo_buf_push(buf, s, strlen(s)); }

static void cameo_buf_u64(cameo_buf *buf, uint64_t n) {
    char text[24];
    int len = snprintf(text, sizeof text, "%llu", (unsigned long long)n);
    cameo_buf_push(buf, text, (size_t)len);
}

/* --- errors ------------------------------------------------------------------------------ */

static bool cameo_error_v_(cameo_error *err, uint8_t tag, const char *fmt, va_list args) {
    char message[512];
    vsnprintf(message, sizeof message, fmt, args);
    err->tag = tag;
    operator_string_dup(tag == CAMEO_OPERATOR_TYPES_OPERATOR_ERROR_INVALID_INPUT ? &err->val.invalid_input : &err->val.failed, message);
    return false;
}

/* Fails the call with invalid-input (the input cannot be understood); returns false. */
static bool cameo_invalid_input(cameo_error *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    cameo_error_v_(err, CAMEO_OPERATOR_TYPES_OPERATOR_ERROR_INVALID_INPUT, fmt, args);
    va_end(args);
    return false;
}

/* Fails the call with failed (any other reason); returns false. */
static bool cameo_failed(cameo_error *err, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    cameo_error_v_(err, CAMEO_OPERATOR_TYPES_OPERATOR_ERROR_FAILED, fmt, args);
    va_end(args);
    return false;
}

/* --- output ------------------------------------------------------------------------------ */

/* Emits an event (bytes are copied); key may be NULL for none. Returns the event, whose
 * headers are empty. */
/* The next, zeroed, event of the output. */
static cameo_event *cameo_output_push_(cameo_output *out) {
    if (out->len == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 8;
        cameo_event *grown = realloc(out->ptr, cap * sizeof(cameo_event));
        if (!grown) abort();
        out->ptr = grown;
        out->cap = cap;
    }
    cameo_event *e = &out->ptr[out->len++];
    memset(e, 0, sizeof *e);
    return e;
}

static cameo_event *cameo_emit(cameo_output *out, const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len, int64_t event_time) {
    cameo_event *e = cameo_output_push_(out);
    if (key) {
        e->key.is_some = true;
        e->key.val.ptr = cameo_dup_(key, key_len);
        e->key.val.len = key_len;
    }
    e->value.ptr = cameo_dup_(value, value_len);
    e->value.len = value_len;
    e->event_time = event_time;
    return e;
}

/* Emits a copy of `event`, headers included. */
static void cameo_emit_event(cameo_output *out, const cameo_event *event) {
    cameo_event *e = cameo_emit(out, event->key.is_some ? event->key.val.ptr : NULL, event->key.val.len, event->value.ptr, event->value.len, event->event_time);
    if (event->headers.len) {
        e->headers.ptr = cameo_alloc_(event->headers.len * sizeof(cameo_operator_types_header_t));
        e->headers.len = event->headers.len;
        for (size_t k = 0; k < event->headers.len; k++) {
            const cameo_operator_types_header_t *h = &event->headers.ptr[k];
            e->headers.ptr[k].name.ptr = cameo_dup_(h->name.ptr, h->name.len);
            e->headers.ptr[k].name.len = h->name.len;
            e->headers.ptr[k].value.ptr = cameo_dup_(h->value.ptr, h->value.len);
            e->headers.ptr[k].value.len = h->value.len;
        }
    }
}

/* Emits `event` itself, moved out of the batch without a copy: for operators that pass events
 * on unchanged, such as filters. The event's slot in the batch is left empty (no key, no
 * value, no headers), so read nothing from it afterwards. */
static void cameo_pass_event(cameo_output *out, cameo_event *event) {
    *cameo_output_push_(out) = *event;
    memset(event, 0, sizeof *event);
}

static void cameo_output_free_(cameo_output *out) {
    exports_cameo_operator_handler_list_event_t list = {out->ptr, out->len};
    exports_cameo_operator_handler_list_event_free(&list);
}

/* --- state, timers, log ------------------------------------------------------------------ */

/* The value stored under key into *value (free value->ptr); false if there is none. */
static bool cameo_state_get(const uint8_t *key, size_t key_len, cameo_buf *value) {
    operator_list_u8_t k = {(uint8_t *)key, key_len}, v = {0};
    if (!cameo_operator_state_get(&k, &v)) return false;
    value->ptr = v.ptr;
    value->len = value->cap = v.len;
    return true;
}

/* Stores value under key. */
static void cameo_state_put(const uint8_t *key, size_t key_len, const uint8_t *value, size_t value_len) {
    operator_list_u8_t k = {(uint8_t *)key, key_len}, v = {(uint8_t *)value, value_len};
    cameo_operator_state_put(&k, &v);
}

/* Removes key. */
static void cameo_state_delete(const uint8_t *key, size_t key_len) {
    operator_list_u8_t k = {(uint8_t *)key, key_len};
    cameo_operator_state_delete(&k);
}

/* Stores a count under key as 8 bytes little-endian (the Rust SDK's u64::to_le_bytes). */
static void cameo_state_put_u64(const uint8_t *key, size_t key_len, uint64_t n) {
    uint8_t bytes[8];
    for (int k = 0; k < 8; k++) bytes[k] = (uint8_t)(n >> (8 * k));
    cameo_state_put(key, key_len, bytes, 8);
}

/* Reads a count stored by cameo_state_put_u64: 1 and *n when found, 0 when absent (*n = 0),
 * -1 when the stored value is not 8 bytes (*len_out says how many it holds). */
static int cameo_state_get_u64(const uint8_t *key, size_t key_len, uint64_t *n, size_t *len_out) {
    cameo_buf v = {0};
    *n = 0;
    if (!cameo_state_get(key, key_len, &v)) return 0;
    int found = 1;
    if (v.len != 8) {
        *len_out = v.len;
        found = -1;
    } else {
        for (int k = 7; k >= 0; k--) *n = (*n << 8) | v.ptr[k];
    }
    free(v.ptr);
    return found;
}

/* Asks for on-timer(key, time) once the watermark reaches time; key may be NULL. */
static void cameo_timer_register(const uint8_t *key, size_t key_len, int64_t time) {
    operator_list_u8_t k = {(uint8_t *)key, key_len};
    cameo_operator_timers_register(key ? &k : NULL, time);
}

/* Writes a log line: level is CAMEO_OPERATOR_TYPES_LEVEL_{TRACE,DEBUG,INFO,WARN,ERROR}. */
static void cameo_log(cameo_operator_log_level_t level, const char *message) {
    operator_string_t text = {(uint8_t *)message, strlen(message)};
    cameo_operator_log_log(level, &text);
}

/* --- text -------------------------------------------------------------------------------- */

static bool cameo_in_ranges_(const uint32_t *ranges, size_t pairs, uint32_t c) {
    size_t lo = 0, hi = pairs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < ranges[2 * mid]) hi = mid;
        else if (c > ranges[2 * mid + 1]) lo = mid + 1;
        else return true;
    }
    return false;
}

/* Rust's char::is_alphanumeric. */
static bool cameo_is_alnum(uint32_t c) {
    if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    return cameo_in_ranges_(cameo_alnum, sizeof cameo_alnum / sizeof cameo_alnum[0] / 2, c);
}

static bool cameo_is_cased_(uint32_t c) {
    return cameo_in_ranges_(cameo_cased, sizeof cameo_cased / sizeof cameo_cased[0] / 2, c);
}

/* Decodes the character at *p (valid UTF-8) and advances *p past it. */
static uint32_t cameo_next_char(const uint8_t **p) {
    const uint8_t *s = *p;
    uint32_t c = s[0];
    size_t n = 1;
    if (c >= 0xF0) { c &= 0x07; n = 4; }
    else if (c >= 0xE0) { c &= 0x0F; n = 3; }
    else if (c >= 0xC0) { c &= 0x1F; n = 2; }
    for (size_t k = 1; k < n; k++) c = (c << 6) | (s[k] & 0x3F);
    *p = s + n;
    return c;
}

static void cameo_buf_char_(cameo_buf *buf, uint32_t c) {
    char bytes[4];
    cameo_buf_push(buf, bytes, cameo_utf8_put_(bytes, c));
}

/* Appends the lower case of a word (alphanumeric characters only, valid UTF-8) to `out`,
 * as Rust's str::to_lowercase does, final sigma included. */
static void cameo_lower_word(const uint8_t *word, size_t len, cameo_buf *out) {
    const uint8_t *p = word, *end = word + len;
    bool cased_before = false;
    while (p < end) {
        uint32_t c = cameo_next_char(&p);
        if (c < 0x80) {
            cameo_buf_char_(out, (c >= 'A' && c <= 'Z') ? c + 32 : c);
        } else if (c == 0x3A3) {
            bool cased_after = false;
            if (p < end) {
                const uint8_t *q = p;
                cased_after = cameo_is_cased_(cameo_next_char(&q));
            }
            cameo_buf_char_(out, cased_before && !cased_after ? 0x3C2 : 0x3C3);
        } else {
            size_t lo = 0, hi = sizeof cameo_lower / sizeof cameo_lower[0];
            const uint32_t *found = NULL;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (c < cameo_lower[mid][0]) hi = mid;
                else if (c > cameo_lower[mid][0]) lo = mid + 1;
                else { found = cameo_lower[mid]; break; }
            }
            if (found) {
                cameo_buf_char_(out, found[1]);
                if (found[2]) cameo_buf_char_(out, found[2]);
            } else {
                cameo_buf_char_(out, c);
            }
        }
        cased_before = cameo_is_cased_(c);
    }
}

/* --- config ------------------------------------------------------------------------------ */

/* A JSON value's type in words, as the Rust SDK's error messages name it. */
static const char *cameo_json_kind_name(const cameo_json *v) {
    switch (v->kind) {
    case CAMEO_JSON_NULL: return "null";
    case CAMEO_JSON_BOOL: return "a boolean";
    case CAMEO_JSON_FLOAT: return "a fractional number";
    case CAMEO_JSON_INT: return "a negative number";
    case CAMEO_JSON_UINT: return "a number";
    case CAMEO_JSON_STRING: return "a string";
    case CAMEO_JSON_ARRAY: return "an array";
    case CAMEO_JSON_OBJECT: return "an object";
    }
    return "a value";
}

/* Parses the config init receives into *config (free with cameo_json_free): a JSON object, or
 * null for none. */
static bool cameo_config_parse(cameo_str text, cameo_json **config, cameo_error *err) {
    char why[160];
    if (!cameo_json_parse(text.ptr, text.len, config, why, sizeof why))
        return cameo_invalid_input(err, "config is not valid JSON: %s", why);
    if ((*config)->kind != CAMEO_JSON_OBJECT && (*config)->kind != CAMEO_JSON_NULL) {
        bool ok = cameo_invalid_input(err, "config must be a JSON object, got %s", cameo_json_kind_name(*config));
        cameo_json_free(*config);
        *config = NULL;
        return ok;
    }
    return true;
}

/* Field `name` of the config, NULL when missing or null. */
static const cameo_json *cameo_config_value(const cameo_json *config, const char *name) {
    const cameo_json *v = cameo_json_get(config, name);
    return v && v->kind != CAMEO_JSON_NULL ? v : NULL;
}

/* The string field `name` into *out; an error naming the field when missing or not a string. */
static bool cameo_config_require_str(const cameo_json *config, const char *name, const cameo_json **out, cameo_error *err) {
    const cameo_json *v = cameo_config_value(config, name);
    if (!v) return cameo_invalid_input(err, "config field `%s` is required but missing", name);
    if (v->kind != CAMEO_JSON_STRING)
        return cameo_invalid_input(err, "config field `%s` must be a string, got %s", name, cameo_json_kind_name(v));
    *out = v;
    return true;
}

/* The number field `name` into *out and *present; an error when present but not a number. */
static bool cameo_config_get_f64(const cameo_json *config, const char *name, bool *present, double *out, cameo_error *err) {
    const cameo_json *v = cameo_config_value(config, name);
    *present = v != NULL;
    if (!v) return true;
    if (!cameo_json_is_number(v))
        return cameo_invalid_input(err, "config field `%s` must be a number, got %s", name, cameo_json_kind_name(v));
    *out = v->f;
    return true;
}

/* --- export glue ------------------------------------------------------------------------- */

#define CAMEO_EXPORT_INIT_PROCESS_(INIT, PROCESS)                                                          \
    bool exports_cameo_operator_handler_init(operator_string_t *config, cameo_error *err) {               \
        cameo_str text = {config->ptr, config->len};                                                       \
        bool ok = INIT(text, err);                                                                         \
        operator_string_free(config);                                                                      \
        return ok;                                                                                         \
    }                                                                                                      \
    bool exports_cameo_operator_handler_process(cameo_batch *batch, cameo_batch *ret, cameo_error *err) { \
        cameo_output out = {0};                                                                            \
        bool ok = PROCESS(batch, &out, err);                                                               \
        exports_cameo_operator_handler_list_event_free(batch);                                             \
        if (ok) {                                                                                          \
            ret->ptr = out.ptr;                                                                            \
            ret->len = out.len;                                                                            \
        } else {                                                                                           \
            cameo_output_free_(&out);                                                                      \
        }                                                                                                  \
        return ok;                                                                                         \
    }

/* Exports init and process; on-timer emits nothing. */
#define CAMEO_EXPORT_OPERATOR(INIT, PROCESS)                                                               \
    CAMEO_EXPORT_INIT_PROCESS_(INIT, PROCESS)                                                              \
    bool exports_cameo_operator_handler_on_timer(operator_list_u8_t *key, int64_t time, cameo_batch *ret, \
                                                 cameo_error *err) {                                       \
        (void)time;                                                                                        \
        (void)err;                                                                                         \
        if (key) operator_list_u8_free(key);                                                               \
        ret->ptr = NULL;                                                                                   \
        ret->len = 0;                                                                                      \
        return true;                                                                                       \
    }

/* Exports init, process and ON_TIMER(const cameo_str *key_or_null, int64_t time,
 * cameo_output *out, cameo_error *err). */
#define CAMEO_EXPORT_OPERATOR_WITH_TIMERS(INIT, PROCESS, ON_TIMER)                                         \
    CAMEO_EXPORT_INIT_PROCESS_(INIT, PROCESS)                                                              \
    bool exports_cameo_operator_handler_on_timer(operator_list_u8_t *key, int64_t time, cameo_batch *ret, \
                                                 cameo_error *err) {                                       \
        cameo_output out = {0};                                                                            \
        cameo_str k = {key ? key->ptr : NULL, key ? key->len : 0};                                         \
        bool ok = ON_TIMER(key ? &k : NULL, time, &out, err);                                              \
        if (key) operator_list_u8_free(key);                                                               \
        if (ok) {                                                                                          \
            ret->ptr = out.ptr;                                                                            \
            ret->len = out.len;                                                                            \
        } else {                                                                                           \
            cameo_output_free_(&out);                                                                      \
        }                                                                                                  \
        return ok;                                                                                         \
    }

#include "cameo_number.h"
#ifdef CAMEO_WINDOWED_WORLD
#include "cameo_window.h"
#endif

#endif
