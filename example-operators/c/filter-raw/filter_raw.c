/* filter-raw: the `min` test of example-operators/c/filter written against the generated
 * bindings (operator.h) alone, without cameo.h's glue: the baseline `cameo bench languages`
 * measures the SDK against. Config: `field` (a top-level field name) and `min` (a number);
 * keeps the events whose JSON value has that field holding a number >= min. */
#include <stdlib.h>
#include <string.h>

#include "operator.h"
#include "cameo_json.h"

static char *field;
static size_t field_len;
static double min;
static bool ready;

static bool fail(exports_cameo_operator_handler_operator_error_t *err, const char *message) {
    err->tag = CAMEO_OPERATOR_TYPES_OPERATOR_ERROR_INVALID_INPUT;
    operator_string_dup(&err->val.invalid_input, message);
    return false;
}

bool exports_cameo_operator_handler_init(operator_string_t *config, exports_cameo_operator_handler_operator_error_t *err) {
    cameo_json *doc = NULL;
    bool ok = cameo_json_parse(config->ptr, config->len, &doc, NULL, 0);
    operator_string_free(config);
    if (!ok) return fail(err, "config is not valid JSON");
    const cameo_json *f = cameo_json_get(doc, "field"), *m = cameo_json_get(doc, "min");
    if (!f || f->kind != CAMEO_JSON_STRING || !m || !cameo_json_is_number(m)) {
        cameo_json_free(doc);
        return fail(err, "config needs a string `field` and a number `min`");
    }
    free(field);
    field = malloc(f->len + 1);
    if (!field) abort();
    memcpy(field, f->str, f->len + 1);
    field_len = f->len;
    min = m->f;
    ready = true;
    cameo_json_free(doc);
    return true;
}

bool exports_cameo_operator_handler_process(exports_cameo_operator_handler_list_event_t *batch,
                                            exports_cameo_operator_handler_list_event_t *ret,
                                            exports_cameo_operator_handler_operator_error_t *err) {
    if (!ready) {
        exports_cameo_operator_handler_list_event_free(batch);
        return fail(err, "operator is not initialised");
    }
    /* Kept events move from the batch into the result; the others are freed. */
    cameo_operator_types_event_t *kept = malloc((batch->len ? batch->len : 1) * sizeof *kept);
    if (!kept) abort();
    size_t n = 0;
    bool ok = true;
    for (size_t i = 0; i < batch->len; i++) {
        cameo_operator_types_event_t *event = &batch->ptr[i];
        cameo_json *doc = NULL;
        const cameo_json *found = NULL;
        char why[160];
        if (ok && !cameo_json_field(event->value.ptr, event->value.len, field, field_len, &doc, &found, why, sizeof why))
            ok = fail(err, why);
        bool keep = ok && found && cameo_json_is_number(found) && found->f >= min;
        cameo_json_free(doc);
        if (keep) kept[n++] = *event;
        else cameo_operator_types_event_free(event);
    }
    free(batch->ptr);
    if (!ok) {
        for (size_t k = 0; k < n; k++) cameo_operator_types_event_free(&kept[k]);
        free(kept);
        return false;
    }
    ret->ptr = kept;
    ret->len = n;
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
