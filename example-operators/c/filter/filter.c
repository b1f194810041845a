/* filter: keeps the events whose JSON value has a field that equals a configured value or
 * reaches a configured minimum, and drops the rest; the same operator as
 * example-operators/rust/filter (see its docs for the config: `field`, `equals`, `min`). */
#include "cameo.h"

/* The parsed configuration, kept for the life of the instance. */
static cameo_json *config;
static const cameo_json *field;
static const cameo_json *equals;
static bool has_min;
static double min;

static bool init(cameo_str text, cameo_error *err) {
    cameo_json_free(config);
    config = NULL;
    if (!cameo_config_parse(text, &config, err)) return false;
    if (!cameo_config_require_str(config, "field", &field, err)) return false;
    equals = cameo_config_value(config, "equals");
    if (!cameo_config_get_f64(config, "min", &has_min, &min, err)) return false;
    if (!equals && !has_min)
        return cameo_invalid_input(err, "config needs `equals` or `min` (or both) besides `field`");
    return true;
}

static bool as_i64(const cameo_json *v, int64_t *out) {
    if (v->kind == CAMEO_JSON_INT) { *out = v->i; return true; }
    if (v->kind == CAMEO_JSON_UINT && v->u <= INT64_MAX) { *out = (int64_t)v->u; return true; }
    return false;
}

/* JSON equality, except that two numbers compare by value (2 equals 2.0). */
static bool json_equal(const cameo_json *a, const cameo_json *b) {
    if (cameo_json_is_number(a) && cameo_json_is_number(b)) {
        int64_t x, y;
        if (as_i64(a, &x) && as_i64(b, &y)) return x == y;
        if (a->kind == CAMEO_JSON_UINT && b->kind == CAMEO_JSON_UINT) return a->u == b->u;
        return a->f == b->f;
    }
    return cameo_json_equal(a, b);
}

/* Whether the event's value is valid JSON that is not an object. */
static bool json_but_not_object(const cameo_event *event) {
    cameo_json *value = NULL;
    if (!cameo_json_parse(event->value.ptr, event->value.len, &value, NULL, 0)) return false;
    bool not_object = value->kind != CAMEO_JSON_OBJECT;
    cameo_json_free(value);
    return not_object;
}

/* 1 to keep the event, 0 to drop it, -1 after failing the call. */
static int keeps(const cameo_event *event, cameo_error *err) {
    cameo_json *value = NULL;
    const cameo_json *found = NULL;
    char why[256];
    if (field->str[0] == '/') {
        if (!cameo_json_parse(event->value.ptr, event->value.len, &value, why, sizeof why))
            return cameo_invalid_input(err, "event value is not valid JSON: %s", why) ? 0 : -1;
        if (value->kind != CAMEO_JSON_OBJECT) {
            cameo_json_free(value);
            return cameo_invalid_input(err, "event value is not a JSON object") ? 0 : -1;
        }
        found = cameo_json_pointer(value, field->str);
    } else if (!cameo_json_field(event->value.ptr, event->value.len, field->str, field->len, &value, &found, why, sizeof why)) {
        /* One field read strictly, the rest only scanned, as the Rust filter does. */
        if (json_but_not_object(event)) return cameo_invalid_input(err, "event value is not a JSON object") ? 0 : -1;
        return cameo_invalid_input(err, "%s", why) ? 0 : -1;
    }
    int keep = 1;
    if (!found || found->kind == CAMEO_JSON_NULL) keep = 0;
    else if (equals && !json_equal(found, equals)) keep = 0;
    else if (has_min && !(cameo_json_is_number(found) && found->f >= min)) keep = 0;
    cameo_json_free(value);
    return keep;
}

static bool process(cameo_batch *batch, cameo_output *out, cameo_error *err) {
    if (!config) return cameo_failed(err, "operator is not initialised: init was not called, or it returned an error");
    for (size_t i = 0; i < batch->len; i++) {
        int keep = keeps(&batch->ptr[i], err);
        if (keep < 0) return false;
        if (keep) cameo_pass_event(out, &batch->ptr[i]);
    }
    return true;
}

CAMEO_EXPORT_OPERATOR(init, process)
