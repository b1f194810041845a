/* wordcount-raw: example-operators/c/wordcount written against the generated bindings
 * (operator.h) alone, without cameo.h's glue: the baseline `cameo bench languages` measures
 * the SDK against. The text of an event is its value's `text` field when the value is a JSON
 * object with a string `text` field, else the whole value; words are runs of ASCII letters
 * and digits (any byte past ASCII counts as a letter), lower-cased in ASCII, counted in host
 * state (8 bytes little-endian per word), with one event {"count":n,"word":w} keyed by the
 * word per occurrence. Unlike the SDK it follows the C library's rules, not Rust's. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator.h"
#include "cameo_json.h"

/* The words a batch has touched and their counts, in order, with an open-addressing index
 * (FNV-1a, linear probing) over them. */
typedef struct {
    uint8_t *word;
    size_t len;
    uint64_t count;
} entry;

static entry *entries;
static size_t entries_len, entries_cap;
static size_t *slots; /* entry index + 1; 0 for a free slot */
static size_t slots_cap;

static void *grown(void *ptr, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return ptr;
    *cap = *cap ? *cap * 2 : 64;
    if (*cap < need) *cap = need;
    void *bigger = realloc(ptr, *cap * size);
    if (!bigger) abort();
    return bigger;
}

static size_t *slot_of(const uint8_t *word, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < len; k++) h = (h ^ word[k]) * 0x100000001b3ull;
    for (size_t k = (size_t)h & (slots_cap - 1);; k = (k + 1) & (slots_cap - 1)) {
        size_t *slot = &slots[k];
        if (!*slot || (entries[*slot - 1].len == len && memcmp(entries[*slot - 1].word, word, len) == 0)) return slot;
    }
}

static void reindex(size_t cap) {
    free(slots);
    slots = calloc(cap, sizeof *slots);
    if (!slots) abort();
    slots_cap = cap;
    for (size_t k = 0; k < entries_len; k++) *slot_of(entries[k].word, entries[k].len) = k + 1;
}

static entry *find(const uint8_t *word, size_t len) {
    if (2 * (entries_len + 1) > slots_cap) reindex(slots_cap ? slots_cap * 2 : 256);
    size_t *slot = slot_of(word, len);
    if (*slot) return &entries[*slot - 1];
    entries = grown(entries, &entries_cap, entries_len + 1, sizeof *entries);
    entry *e = &entries[entries_len++];
    *slot = entries_len;
    e->word = malloc(len ? len : 1);
    if (!e->word) abort();
    memcpy(e->word, word, len);
    e->len = len;
    operator_list_u8_t key = {e->word, len}, stored = {0};
    e->count = 0;
    if (cameo_operator_state_get(&key, &stored)) {
        for (size_t k = stored.len < 8 ? stored.len : 8; k-- > 0;) e->count = e->count << 8 | stored.ptr[k];
        operator_list_u8_free(&stored);
    }
    return e;
}

static cameo_operator_types_event_t *out;
static size_t out_len, out_cap;

static void count_words(const uint8_t *text, size_t len, int64_t event_time) {
    uint8_t word[256];
    size_t n = 0;
    for (size_t i = 0; i <= len; i++) {
        uint8_t c = i < len ? text[i] : ' ';
        if ((c >= 0x80 || isalnum(c)) && n < sizeof word) {
            word[n++] = (uint8_t)tolower(c);
            continue;
        }
        if (n == 0) continue;
        entry *e = find(word, n);
        e->count++;
        char value[320];
        int written = snprintf(value, sizeof value, "{\"count\":%llu,\"word\":\"%.*s\"}", (unsigned long long)e->count, (int)n, (const char *)word);
        out = grown(out, &out_cap, out_len + 1, sizeof *out);
        cameo_operator_types_event_t *event = &out[out_len++];
        memset(event, 0, sizeof *event);
        event->key.is_some = true;
        event->key.val.ptr = malloc(n);
        event->value.ptr = malloc((size_t)written);
        if (!event->key.val.ptr || !event->value.ptr) abort();
        memcpy(event->key.val.ptr, word, n);
        event->key.val.len = n;
        memcpy(event->value.ptr, value, (size_t)written);
        event->value.len = (size_t)written;
        event->event_time = event_time;
        n = 0;
    }
}

bool exports_cameo_operator_handler_init(operator_string_t *config, exports_cameo_operator_handler_operator_error_t *err) {
    (void)err;
    operator_string_free(config);
    return true;
}

bool exports_cameo_operator_handler_process(exports_cameo_operator_handler_list_event_t *batch,
                                            exports_cameo_operator_handler_list_event_t *ret,
                                            exports_cameo_operator_handler_operator_error_t *err) {
    (void)err;
    out = NULL;
    out_len = out_cap = 0;
    entries_len = 0;
    if (slots) memset(slots, 0, slots_cap * sizeof *slots);
    for (size_t i = 0; i < batch->len; i++) {
        cameo_operator_types_event_t *event = &batch->ptr[i];
        cameo_json *doc = NULL;
        const cameo_json *text = NULL;
        if (cameo_json_parse(event->value.ptr, event->value.len, &doc, NULL, 0)) {
            text = cameo_json_get(doc, "text");
            if (text && text->kind != CAMEO_JSON_STRING) text = NULL;
        }
        if (text) count_words((const uint8_t *)text->str, text->len, event->event_time);
        else count_words(event->value.ptr, event->value.len, event->event_time);
        cameo_json_free(doc);
    }
    for (size_t k = 0; k < entries_len; k++) {
        uint8_t bytes[8];
        for (size_t b = 0; b < 8; b++) bytes[b] = (uint8_t)(entries[k].count >> (8 * b));
        operator_list_u8_t key = {entries[k].word, entries[k].len}, value = {bytes, 8};
        cameo_operator_state_put(&key, &value);
        free(entries[k].word);
    }
    exports_cameo_operator_handler_list_event_free(batch);
    ret->ptr = out;
    ret->len = out_len;
    return true;
}

bool exports_cameo_operator_handler_on_timer(operator_list_u8_t *key, int64_t time,
                                             exports_cameo_operator_handler_list_event_t *ret,
                                             exports_cameo_operator_handler_operator_error_t *err) {
    (void)time;
    (void)err;
    if (key) operator_list_u8_free(key);
    ret->ptr = NULL;
    ret->len = 0;
    return true;
}
