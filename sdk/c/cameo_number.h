/* cameo_number.h: numbers and JSON text written exactly as the Rust SDK (serde_json) writes
 * them, so a C operator's output is byte-identical to a Rust operator's. Included by cameo.h.
 *
 * cameo_num is a JSON number kept the way cameo's aggregates keep it: an exact int64_t while
 * every value is an integer that fits, a double otherwise.
 *
 *     cameo_num sum = cameo_num_int(0);
 *     sum = cameo_num_add(sum, amount);          // a float once it no longer fits an i64
 *     cameo_buf_num(&text, sum);                 // `42`, `1.5`, `1e+16`, `0.00001`
 *     cameo_buf_json_str(&text, key, key_len);   // "a \"quoted\" key", invalid UTF-8 as U+FFFD
 */
#ifndef CAMEO_NUMBER_H
#define CAMEO_NUMBER_H

#include <math.h>

/* A number that stays an exact integer while it fits an int64_t. */
typedef struct {
    bool is_float;
    int64_t i; /* when !is_float */
    double f;  /* when is_float */
} cameo_num;

static cameo_num cameo_num_int(int64_t i) {
    cameo_num n = {false, i, 0};
    return n;
}

static cameo_num cameo_num_float(double f) {
    cameo_num n = {true, 0, f};
    return n;
}

/* The number as a double. */
static double cameo_num_f64(cameo_num n) { return n.is_float ? n.f : (double)n.i; }

/* The number a JSON value holds into *out: an integer that fits an int64_t stays exact, any
 * other number (a fraction, or an integer past INT64_MAX) is a double. False when `v` is not
 * a number. */
static bool cameo_num_from_json(const cameo_json *v, cameo_num *out) {
    if (!v) return false;
    switch (v->kind) {
    case CAMEO_JSON_INT: *out = cameo_num_int(v->i); return true;
    case CAMEO_JSON_UINT: *out = v->u <= INT64_MAX ? cameo_num_int((int64_t)v->u) : cameo_num_float((double)v->u); return true;
    case CAMEO_JSON_FLOAT: *out = cameo_num_float(v->f); return true;
    default: return false;
    }
}

/* a + b: exact while both are integers and the sum fits, a double otherwise. */
static cameo_num cameo_num_add(cameo_num a, cameo_num b) {
    int64_t sum;
    if (!a.is_float && !b.is_float && !__builtin_add_overflow(a.i, b.i, &sum)) return cameo_num_int(sum);
    return cameo_num_float(cameo_num_f64(a) + cameo_num_f64(b));
}

/* -1, 0 or 1 as a is below, equal to or above b: exactly for two integers, as doubles
 * otherwise (NaN compares equal to everything). */
static int cameo_num_compare(cameo_num a, cameo_num b) {
    if (!a.is_float && !b.is_float) return (a.i > b.i) - (a.i < b.i);
    double x = cameo_num_f64(a), y = cameo_num_f64(b);
    return (x > y) - (x < y);
}

static void cameo_buf_i64(cameo_buf *buf, int64_t n) {
    char text[24];
    int len = snprintf(text, sizeof text, "%lld", (long long)n);
    cameo_buf_push(buf, text, (size_t)len);
}

/* Appends a finite double as serde_json writes it: the shortest digits that read back
 * exactly, positional from 1e-5 up to below 1e16 (with `.0` when whole), else
 * `<d>[.<ddd>]e+<exp>` or `e-<exp>`. Infinity and NaN, which JSON cannot hold, are `null`. */
static void cameo_buf_f64(cameo_buf *buf, double x) {
    if (!isfinite(x)) {
        cameo_buf_str(buf, "null");
        return;
    }
    if (signbit(x)) cameo_buf_str(buf, "-");
    x = fabs(x);
    if (x == 0) {
        cameo_buf_str(buf, "0.0");
        return;
    }
    /* The shortest %e form that reads back as x: musl's printf rounds exactly, so the first
     * precision that round-trips gives the digits closest to x, as Ryu's shortest does. */
    char text[40];
    for (int precision = 0; precision < 17; precision++) {
        snprintf(text, sizeof text, "%.*e", precision, x);
        if (strtod(text, NULL) == x) break;
    }
    char digits[24];
    int length = 0;
    const char *p = text;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[length++] = *p;
    while (length > 1 && digits[length - 1] == '0') length--;
    digits[length] = 0;
    int point = atoi(p + 1) + 1; /* where the decimal point goes after the first `point` digits */
    if (length <= point && point <= 16) {
        cameo_buf_push(buf, digits, (size_t)length);
        for (int k = length; k < point; k++) cameo_buf_str(buf, "0");
        cameo_buf_str(buf, ".0");
    } else if (0 < point && point <= 16) {
        cameo_buf_push(buf, digits, (size_t)point);
        cameo_buf_str(buf, ".");
        cameo_buf_push(buf, digits + point, (size_t)(length - point));
    } else if (-5 < point && point <= 0) {
        cameo_buf_str(buf, "0.");
        for (int k = point; k < 0; k++) cameo_buf_str(buf, "0");
        cameo_buf_push(buf, digits, (size_t)length);
    } else {
        cameo_buf_push(buf, digits, 1);
        if (length > 1) {
            cameo_buf_str(buf, ".");
            cameo_buf_push(buf, digits + 1, (size_t)(length - 1));
        }
        char exponent[8];
        int n = snprintf(exponent, sizeof exponent, "e%c%d", point > 0 ? '+' : '-', abs(point - 1));
        cameo_buf_push(buf, exponent, (size_t)n);
    }
}

/* Appends the number: an integer in decimal, a double as cameo_buf_f64 writes it. */
static void cameo_buf_num(cameo_buf *buf, cameo_num n) {
    if (n.is_float) cameo_buf_f64(buf, n.f);
    else cameo_buf_i64(buf, n.i);
}

/* The length of the longest prefix at p of a valid UTF-8 sequence (at least 1): how many
 * bytes Rust's String::from_utf8_lossy replaces with one U+FFFD. */
static size_t cameo_utf8_invalid_len_(const uint8_t *p, const uint8_t *end) {
    uint8_t lead = p[0];
    size_t want;
    uint8_t lo = 0x80, hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) want = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        want = 3;
        if (lead == 0xE0) lo = 0xA0;
        if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        want = 4;
        if (lead == 0xF0) lo = 0x90;
        if (lead == 0xF4) hi = 0x8F;
    } else return 1;
    size_t n = 1;
    while (n < want && p + n < end && p[n] >= lo && p[n] <= hi) {
        lo = 0x80;
        hi = 0xBF;
        n++;
    }
    return n;
}

/* Appends `len` bytes as a quoted JSON string, escaped as serde_json escapes (`\"`, `\\`,
 * `\n`, `\r`, `\t`, `\b`, `\f`, other control characters as `\u00xx`), with each invalid
 * UTF-8 sequence replaced by U+FFFD as Rust's String::from_utf8_lossy replaces it. */
static void cameo_buf_json_str(cameo_buf *buf, const uint8_t *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = s, *end = s + len;
    cameo_buf_str(buf, "\"");
    while (p < end) {
        uint8_t c = *p;
        if (c >= 0x80) {
            size_t n = cameo_utf8_len_(p, end);
            if (n) {
                cameo_buf_push(buf, p, n);
                p += n;
            } else {
                cameo_buf_str(buf, "\xEF\xBF\xBD");
                p += cameo_utf8_invalid_len_(p, end);
            }
            continue;
        }
        p++;
        switch (c) {
        case '"': cameo_buf_str(buf, "\\\""); break;
        case '\\': cameo_buf_str(buf, "\\\\"); break;
        case '\n': cameo_buf_str(buf, "\\n"); break;
        case '\r': cameo_buf_str(buf, "\\r"); break;
        case '\t': cameo_buf_str(buf, "\\t"); break;
        case '\b': cameo_buf_str(buf, "\\b"); break;
        case '\f': cameo_buf_str(buf, "\\f"); break;
        default:
            if (c < 0x20) {
                char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                cameo_buf_push(buf, escape, 6);
            } else {
                cameo_buf_push(buf, &c, 1);
            }
        }
    }
    cameo_buf_str(buf, "\"");
}

#endif
