/* window-agg: the sum, count, minimum and maximum of a numeric field per key and window, over
 * windows the host manages (tumbling, sliding or session, as the job spec says); the same
 * operator as example-operators/rust/window-agg. A fired pane emits
 *
 *     {"count":3,"key":"sensor-1","max":30,"min":2,"sum":42,"window_end":60000,"window_start":0}
 *
 * keyed by the pane's key, at event time `window_end - 1`. Sums, minima and maxima are
 * integers while every value is an integer that fits in 64 bits (and the sum does), floats
 * otherwise; a sum past the f64 range is null, and stays null for the rest of its pane (an
 * infinite f64 sum stays infinite, or NaN once infinities of both signs meet). Config: `field`
 * (default "value"), the numeric field of the JSON event value.
 *
 * The accumulator is kept as {"sum":..,"count":..,"min":..,"max":..}, as the Python and
 * JavaScript operators keep theirs, with a sum past the f64 range written `null`. */
#include "cameo.h"

/* The aggregate of one pane. */
typedef struct {
    cameo_num sum;
    uint64_t count;
    bool has_extremes; /* false until the pane's first value */
    cameo_num min, max;
} acc;

/* The parsed configuration, kept for the life of the instance. */
static cameo_json *config;
static const char *field = "value";
static size_t field_len = 5;

static bool init(cameo_str text, cameo_error *err) {
    cameo_json_free(config);
    config = NULL;
    field = "value";
    field_len = 5;
    if (!cameo_config_parse(text, &config, err)) return false;
    const cameo_json *v = cameo_config_value(config, "field");
    if (v && v->kind != CAMEO_JSON_STRING)
        return cameo_invalid_input(err, "config field `field` must be a string, got %s", cameo_json_kind_name(v));
    if (v) {
        field = v->str;
        field_len = v->len;
    }
    return true;
}

static void create(void *a) {
    acc *pane = a;
    pane->sum = cameo_num_int(0);
}

/* `candidate` if it is further `towards` (-1: smaller, 1: larger) than `current`. */
static cameo_num extreme(cameo_num current, cameo_num candidate, int towards) {
    return cameo_num_compare(candidate, current) == towards ? candidate : current;
}

static bool add(void *a, const cameo_event *event, cameo_error *err) {
    acc *pane = a;
    cameo_json *doc = NULL;
    const cameo_json *found = NULL;
    cameo_num amount;
    bool numeric = cameo_json_field(event->value.ptr, event->value.len, field, field_len, &doc, &found, NULL, 0) &&
                   cameo_num_from_json(found, &amount);
    cameo_json_free(doc);
    if (!numeric) return cameo_invalid_input(err, "event value has no numeric field `%.*s`", (int)field_len, field);
    pane->sum = cameo_num_add(pane->sum, amount);
    pane->count++;
    pane->min = pane->has_extremes ? extreme(pane->min, amount, -1) : amount;
    pane->max = pane->has_extremes ? extreme(pane->max, amount, 1) : amount;
    pane->has_extremes = true;
    return true;
}

static bool merge(void *into, const void *later, cameo_error *err) {
    (void)err;
    acc *a = into;
    const acc *b = later;
    a->sum = cameo_num_add(a->sum, b->sum);
    a->count += b->count;
    if (b->has_extremes) {
        a->min = a->has_extremes ? extreme(a->min, b->min, -1) : b->min;
        a->max = a->has_extremes ? extreme(a->max, b->max, 1) : b->max;
        a->has_extremes = true;
    }
    return true;
}

/* A number as JSON writes it: `null` for a float sum past the f64 range (infinite or NaN). */
static void encode_num(cameo_buf *out, cameo_num n) {
    if (n.is_float && !isfinite(n.f)) cameo_buf_str(out, "null");
    else cameo_buf_num(out, n);
}

static void encode(const void *a, cameo_buf *out) {
    const acc *pane = a;
    cameo_buf_str(out, "{\"sum\":");
    encode_num(out, pane->sum);
    cameo_buf_str(out, ",\"count\":");
    cameo_buf_u64(out, pane->count);
    cameo_buf_str(out, ",\"min\":");
    if (pane->has_extremes) encode_num(out, pane->min);
    else cameo_buf_str(out, "null");
    cameo_buf_str(out, ",\"max\":");
    if (pane->has_extremes) encode_num(out, pane->max);
    else cameo_buf_str(out, "null");
    cameo_buf_str(out, "}");
}

static bool decode(cameo_str bytes, void *a, char *why, size_t why_len) {
    acc *pane = a;
    cameo_json *doc = NULL;
    if (!cameo_json_parse_lax(bytes.ptr, bytes.len, &doc, why, why_len)) return false;
    const cameo_json *count = cameo_json_get(doc, "count"), *min = cameo_json_get(doc, "min"), *max = cameo_json_get(doc, "max");
    const cameo_json *sum = cameo_json_get(doc, "sum");
    bool ok = sum && count && count->kind == CAMEO_JSON_UINT && min && max;
    if (ok && sum->kind == CAMEO_JSON_NULL) {
        /* The sum left the f64 range: NaN keeps it out for the rest of the pane. */
        pane->sum.is_float = true;
        pane->sum.f = NAN;
    } else {
        ok = ok && cameo_num_from_json(sum, &pane->sum);
    }
    if (ok) {
        pane->count = count->u;
        pane->has_extremes = min->kind != CAMEO_JSON_NULL;
        if (pane->has_extremes) ok = cameo_num_from_json(min, &pane->min) && cameo_num_from_json(max, &pane->max);
    }
    cameo_json_free(doc);
    if (!ok) snprintf(why, why_len, "expected {\"sum\", \"count\", \"min\", \"max\"}");
    return ok;
}

static bool fire(const cameo_str *key, cameo_window window, const void *a, cameo_output *out, cameo_error *err) {
    (void)err;
    const acc *pane = a;
    cameo_buf value = {0};
    cameo_buf_str(&value, "{\"count\":");
    cameo_buf_u64(&value, pane->count);
    cameo_buf_str(&value, ",\"key\":");
    if (key) cameo_buf_json_str(&value, key->ptr, key->len);
    else cameo_buf_str(&value, "null");
    cameo_buf_str(&value, ",\"max\":");
    if (pane->has_extremes) encode_num(&value, pane->max);
    else cameo_buf_str(&value, "null");
    cameo_buf_str(&value, ",\"min\":");
    if (pane->has_extremes) encode_num(&value, pane->min);
    else cameo_buf_str(&value, "null");
    cameo_buf_str(&value, ",\"sum\":");
    encode_num(&value, pane->sum);
    cameo_buf_str(&value, ",\"window_end\":");
    cameo_buf_i64(&value, window.end);
    cameo_buf_str(&value, ",\"window_start\":");
    cameo_buf_i64(&value, window.start);
    cameo_buf_str(&value, "}");
    cameo_emit(out, key ? key->ptr : NULL, key ? key->len : 0, value.ptr, value.len, cameo_window_max_time(window));
    free(value.ptr);
    return true;
}

static const cameo_window_operator window_agg = {
    .acc_size = sizeof(acc),
    .init = init,
    .create = create,
    .decode = decode,
    .encode = encode,
    .add = add,
    .merge = merge,
    .fire = fire,
};

CAMEO_EXPORT_WINDOWED(window_agg)
