/* wordcount: counts words across the whole stream and emits a running count for every word
 * occurrence; the same operator as example-operators/rust/wordcount. The text of an event is
 * its value's `text` field when the value is a JSON object with a string `text` field, else
 * the whole value as UTF-8. Words are runs of alphanumeric characters, lower-cased. Counts
 * live in host state (key: the word; value: 8 bytes little-endian), read at most once per word
 * and batch and written back once at the end of the batch. */
#include "cameo.h"

/* The counts a batch has touched: an open-addressing hash table of words. */
typedef struct {
    uint8_t *word; /* NULL for a free slot */
    size_t len;
    uint64_t count;
} entry;

typedef struct {
    entry *slots;
    size_t len, cap; /* cap is a power of two */
} counts;

static uint64_t hash(const uint8_t *word, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t k = 0; k < len; k++) h = (h ^ word[k]) * 0x100000001b3ull;
    return h;
}

/* The slot of `word`: its entry, or the free slot where it belongs. */
static entry *slot(counts *c, const uint8_t *word, size_t len) {
    size_t mask = c->cap - 1;
    for (size_t k = (size_t)hash(word, len) & mask;; k = (k + 1) & mask) {
        entry *e = &c->slots[k];
        if (!e->word || (e->len == len && memcmp(e->word, word, len) == 0)) return e;
    }
}

static void grow(counts *c) {
    counts bigger = {calloc(c->cap ? c->cap * 2 : 64, sizeof(entry)), c->len, c->cap ? c->cap * 2 : 64};
    if (!bigger.slots) abort();
    for (size_t k = 0; k < c->cap; k++)
        if (c->slots[k].word) *slot(&bigger, c->slots[k].word, c->slots[k].len) = c->slots[k];
    free(c->slots);
    *c = bigger;
}

static void free_counts(counts *c) {
    for (size_t k = 0; k < c->cap; k++) free(c->slots[k].word);
    free(c->slots);
}

static bool init(cameo_str config, cameo_error *err) {
    (void)config;
    (void)err;
    return true;
}

/* Counts one word (lower-cased, `len` bytes) and emits its running count. */
static bool count_word(counts *c, const uint8_t *word, size_t len, int64_t event_time, cameo_output *out, cameo_error *err) {
    if (2 * (c->len + 1) > c->cap) grow(c);
    entry *e = slot(c, word, len);
    if (!e->word) {
        uint64_t stored;
        size_t stored_len = 0;
        int found = cameo_state_get_u64(word, len, &stored, &stored_len);
        if (found < 0)
            return cameo_failed(err, "state entry for `%.*s` holds %zu bytes, not an 8-byte count", (int)len, (const char *)word, stored_len);
        e->word = cameo_dup_(word, len);
        e->len = len;
        e->count = stored;
        c->len++;
    }
    e->count++;
    cameo_buf value = {0};
    cameo_buf_str(&value, "{\"count\":");
    cameo_buf_u64(&value, e->count);
    cameo_buf_str(&value, ",\"word\":\"");
    cameo_buf_push(&value, word, len); /* alphanumeric: nothing to escape */
    cameo_buf_str(&value, "\"}");
    cameo_emit(out, word, len, value.ptr, value.len, event_time);
    free(value.ptr);
    return true;
}

static bool count_text(counts *c, const uint8_t *text, size_t len, int64_t event_time, cameo_output *out, cameo_error *err) {
    const uint8_t *p = text, *end = text + len, *start = NULL;
    cameo_buf lower = {0};
    bool ok = true;
    while (ok) {
        const uint8_t *here = p;
        bool word_char = p < end && cameo_is_alnum(cameo_next_char(&p));
        if (word_char && !start) start = here;
        if (!word_char && start) {
            lower.len = 0;
            cameo_lower_word(start, (size_t)(here - start), &lower);
            ok = count_word(c, lower.ptr, lower.len, event_time, out, err);
            start = NULL;
        }
        if (here >= end) break;
    }
    free(lower.ptr);
    return ok;
}

static bool process(cameo_batch *batch, cameo_output *out, cameo_error *err) {
    counts c = {0};
    bool ok = true;
    for (size_t i = 0; ok && i < batch->len; i++) {
        const cameo_event *event = &batch->ptr[i];
        cameo_json *value = NULL;
        const cameo_json *text = NULL;
        if (cameo_json_parse(event->value.ptr, event->value.len, &value, NULL, 0)) {
            text = cameo_json_get(value, "text");
            if (text && text->kind != CAMEO_JSON_STRING) text = NULL;
        }
        if (text) {
            ok = count_text(&c, (const uint8_t *)text->str, text->len, event->event_time, out, err);
        } else if (!cameo_utf8_valid(event->value.ptr, event->value.len)) {
            ok = cameo_invalid_input(err, "event value is not UTF-8");
        } else {
            ok = count_text(&c, event->value.ptr, event->value.len, event->event_time, out, err);
        }
        cameo_json_free(value);
    }
    if (ok)
        for (size_t k = 0; k < c.cap; k++)
            if (c.slots[k].word) cameo_state_put_u64(c.slots[k].word, c.slots[k].len, c.slots[k].count);
    free_counts(&c);
    return ok;
}

CAMEO_EXPORT_OPERATOR(init, process)
