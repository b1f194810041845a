/* cameo_json.h: a small, strict JSON parser for C operators, with serde_json's rules: UTF-8
 * only, no NaN or Infinity, lone surrogate escapes refused, numbers out of the f64 range
 * refused, at most 128 levels of nesting, and integers kept exact when they fit an int64_t
 * (negative) or a uint64_t. Values live in one arena: free them all with cameo_json_free.
 *
 *     cameo_json *doc = NULL;
 *     char why[128];
 *     if (!cameo_json_parse(bytes, len, &doc, why, sizeof why)) { ... why says what ... }
 *     const cameo_json *price = cameo_json_get(doc, "price");
 *     cameo_json_free(doc);
 */
#ifndef CAMEO_JSON_H
#define CAMEO_JSON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    CAMEO_JSON_NULL,
    CAMEO_JSON_BOOL,
    CAMEO_JSON_INT,   /* a negative integer that fits int64_t: .i */
    CAMEO_JSON_UINT,  /* a non-negative integer that fits uint64_t: .u */
    CAMEO_JSON_FLOAT, /* any other number: .f */
    CAMEO_JSON_STRING,
    CAMEO_JSON_ARRAY,
    CAMEO_JSON_OBJECT,
} cameo_json_kind;

typedef struct cameo_json cameo_json;

/* A JSON value. Arrays and objects hold `len` items in `items` (objects: keys in `keys`). */
struct cameo_json {
    cameo_json_kind kind;
    bool b;
    int64_t i;
    uint64_t u;
    double f;
    char *str; /* strings: UTF-8, NUL-terminated, `len` bytes (may hold NULs) */
    size_t len;
    cameo_json *items;
    cameo_json *keys; /* objects: each key is a CAMEO_JSON_STRING */
    bool lax; /* read leniently: a number out of range or a string with a lone surrogate */
};

typedef struct {
    const uint8_t *p, *end;
    char *why;
    size_t why_len;
    int depth;
    bool lenient; /* syntax only: see cameo_json_field */
} cameo_json_parser_;

static bool cameo_json_fail_(cameo_json_parser_ *ps, const char *what) {
    if (ps->why && ps->why_len) snprintf(ps->why, ps->why_len, "%s", what);
    return false;
}

static void cameo_json_ws_(cameo_json_parser_ *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static bool cameo_json_value_(cameo_json_parser_ *ps, cameo_json *out);

/* Checks one UTF-8 sequence at p (strict: no overlongs, no surrogates); its length or 0. */
static size_t cameo_utf8_len_(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    size_t n;
    uint32_t min, cp;
    if ((c & 0xE0) == 0xC0) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Whether `len` bytes at `p` are valid UTF-8. */
static bool cameo_utf8_valid(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    while (p < end) {
        size_t n = cameo_utf8_len_(p, end);
        if (!n) return false;
        p += n;
    }
    return true;
}

static size_t cameo_utf8_put_(char *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F)); return 4;
}

static bool cameo_json_hex4_(cameo_json_parser_ *ps, uint32_t *out) {
    if (ps->end - ps->p < 4) return cameo_json_fail_(ps, "EOF while parsing a string");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        uint8_t c = *ps->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return cameo_json_fail_(ps, "invalid escape");
    }
    *out = v;
    return true;
}

static bool cameo_json_string_(cameo_json_parser_ *ps, cameo_json *out) {
    ps->p++; /* the opening quote */
    char *buf = malloc((size_t)(ps->end - ps->p) + 1);
    if (!buf) return cameo_json_fail_(ps, "out of memory");
    size_t n = 0;
    for (;;) {
        if (ps->p >= ps->end) { free(buf); return cameo_json_fail_(ps, "EOF while parsing a string"); }
        uint8_t c = *ps->p;
        if (c == '"') { ps->p++; break; }
        if (c < 0x20) { free(buf); return cameo_json_fail_(ps, "control character found while parsing a string"); }
        if (c == '\\') {
            ps->p++;
            if (ps->p >= ps->end) { free(buf); return cameo_json_fail_(ps, "EOF while parsing a string"); }
            uint8_t e = *ps->p++;
            switch (e) {
            case '"': buf[n++] = '"'; break;
            case '\\': buf[n++] = '\\'; break;
            case '/': buf[n++] = '/'; break;
            case 'b': buf[n++] = '\b'; break;
            case 'f': buf[n++] = '\f'; break;
            case 'n': buf[n++] = '\n'; break;
            case 'r': buf[n++] = '\r'; break;
            case 't': buf[n++] = '\t'; break;
            case 'u': {
                uint32_t cp;
                if (!cameo_json_hex4_(ps, &cp)) { free(buf); return false; }
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    if (!ps->lenient) { free(buf); return cameo_json_fail_(ps, "lone leading surrogate in hex escape"); }
                    out->lax = true;
                } else if (cp >= 0xD800 && cp <= 0xDBFF && ps->lenient && (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')) {
                    out->lax = true;
                } else if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') { free(buf); return cameo_json_fail_(ps, "unexpected end of hex escape"); }
                    ps->p += 2;
                    if (!cameo_json_hex4_(ps, &lo)) { free(buf); return false; }
                    if (lo < 0xDC00 || lo > 0xDFFF) {
                        if (!ps->lenient) { free(buf); return cameo_json_fail_(ps, "lone leading surrogate in hex escape"); }
                        out->lax = true;
                        n += cameo_utf8_put_(buf + n, cp);
                        cp = lo;
                    } else {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                }
                n += cameo_utf8_put_(buf + n, cp);
                break;
            }
            default: free(buf); return cameo_json_fail_(ps, "invalid escape");
            }
            continue;
        }
        size_t k = cameo_utf8_len_(ps->p, ps->end);
        if (!k) { free(buf); return cameo_json_fail_(ps, "invalid unicode code point"); }
        memcpy(buf + n, ps->p, k);
        n += k;
        ps->p += k;
    }
    buf[n] = 0;
    out->kind = CAMEO_JSON_STRING;
    out->str = buf;
    out->len = n;
    return true;
}

static bool cameo_json_number_(cameo_json_parser_ *ps, cameo_json *out) {
    const uint8_t *start = ps->p;
    bool neg = false, integer = true;
    if (*ps->p == '-') { neg = true; ps->p++; }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return cameo_json_fail_(ps, "invalid number");
    if (*ps->p == '0') ps->p++;
    else while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        integer = false;
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return cameo_json_fail_(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        integer = false;
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') return cameo_json_fail_(ps, "invalid number");
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
    }
    size_t len = (size_t)(ps->p - start);
    char text[512];
    char *t = len < sizeof text ? text : malloc(len + 1);
    if (!t) return cameo_json_fail_(ps, "out of memory");
    memcpy(t, start, len);
    t[len] = 0;
    if (integer) {
        /* Exact when it fits, as serde_json: u64 for non-negatives, i64 for negatives. */
        uint64_t mag = 0;
        bool fits = true;
        for (const char *d = t + (neg ? 1 : 0); *d; d++) {
            uint64_t digit = (uint64_t)(*d - '0');
            if (mag > (UINT64_MAX - digit) / 10) { fits = false; break; }
            mag = mag * 10 + digit;
        }
        if (fits && !neg) { out->kind = CAMEO_JSON_UINT; out->u = mag; out->f = (double)mag; }
        else if (fits && neg && mag <= (uint64_t)INT64_MAX + 1) {
            out->kind = CAMEO_JSON_INT;
            out->i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
            out->f = (double)out->i;
            if (mag == 0) { out->kind = CAMEO_JSON_UINT; out->u = 0; out->f = 0; }
        } else integer = false;
    }
    if (!integer) {
        double f = strtod(t, NULL);
        if (isinf(f)) {
            if (!ps->lenient) { if (t != text) free(t); return cameo_json_fail_(ps, "number out of range"); }
            out->lax = true;
        }
        out->kind = CAMEO_JSON_FLOAT;
        out->f = f;
    }
    if (t != text) free(t);
    return true;
}

static bool cameo_json_literal_(cameo_json_parser_ *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return cameo_json_fail_(ps, "expected value");
    ps->p += n;
    return true;
}

/* Grows a list of values; the list is part of the arena through its first element's owner. */
static bool cameo_json_push_(cameo_json_parser_ *ps, cameo_json **items, size_t *len, size_t *cap) {
    if (*len == *cap) {
        size_t next = *cap ? *cap * 2 : 4;
        cameo_json *grown = realloc(*items, next * sizeof(cameo_json));
        if (!grown) return cameo_json_fail_(ps, "out of memory");
        *items = grown;
        *cap = next;
    }
    memset(&(*items)[*len], 0, sizeof(cameo_json));
    (*len)++;
    return true;
}

static void cameo_json_release_(cameo_json *v);

static bool cameo_json_value_(cameo_json_parser_ *ps, cameo_json *out) {
    memset(out, 0, sizeof *out);
    cameo_json_ws_(ps);
    if (ps->p >= ps->end) return cameo_json_fail_(ps, "EOF while parsing a value");
    switch (*ps->p) {
    case 'n': out->kind = CAMEO_JSON_NULL; return cameo_json_literal_(ps, "null");
    case 't': out->kind = CAMEO_JSON_BOOL; out->b = true; return cameo_json_literal_(ps, "true");
    case 'f': out->kind = CAMEO_JSON_BOOL; out->b = false; return cameo_json_literal_(ps, "false");
    case '"': return cameo_json_string_(ps, out);
    case '[':
    case '{': {
        bool object = *ps->p == '{';
        /* Lenient reads go deeper, as far as the stack allows. */
        if (++ps->depth > (ps->lenient ? 8192 : 127)) return cameo_json_fail_(ps, "recursion limit exceeded");
        ps->p++;
        out->kind = object ? CAMEO_JSON_OBJECT : CAMEO_JSON_ARRAY;
        size_t cap = 0, kcap = 0, klen = 0;
        cameo_json_ws_(ps);
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; ps->depth--; return true; }
        for (;;) {
            if (object) {
                cameo_json_ws_(ps);
                if (ps->p >= ps->end || *ps->p != '"') return cameo_json_fail_(ps, "key must be a string");
                if (!cameo_json_push_(ps, &out->keys, &klen, &kcap)) return false;
                if (!cameo_json_string_(ps, &out->keys[klen - 1])) return false;
                cameo_json_ws_(ps);
                if (ps->p >= ps->end || *ps->p != ':') return cameo_json_fail_(ps, "expected `:`");
                ps->p++;
            }
            if (!cameo_json_push_(ps, &out->items, &out->len, &cap)) return false;
            if (!cameo_json_value_(ps, &out->items[out->len - 1])) return false;
            cameo_json_ws_(ps);
            if (ps->p >= ps->end) return cameo_json_fail_(ps, "EOF while parsing a list or object");
            if (*ps->p == ',') { ps->p++; continue; }
            if (*ps->p == (object ? '}' : ']')) { ps->p++; ps->depth--; return true; }
            return cameo_json_fail_(ps, object ? "expected `,` or `}`" : "expected `,` or `]`");
        }
    }
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) return cameo_json_number_(ps, out);
        return cameo_json_fail_(ps, "expected value");
    }
}

static void cameo_json_release_(cameo_json *v) {
    if (v->kind == CAMEO_JSON_STRING) free(v->str);
    if (v->kind == CAMEO_JSON_ARRAY || v->kind == CAMEO_JSON_OBJECT) {
        for (size_t k = 0; k < v->len; k++) {
            cameo_json_release_(&v->items[k]);
            if (v->kind == CAMEO_JSON_OBJECT) cameo_json_release_(&v->keys[k]);
        }
        free(v->items);
        free(v->keys);
    }
}

/* Frees a document returned by cameo_json_parse (NULL does nothing). */
static void cameo_json_free(cameo_json *doc) {
    if (!doc) return;
    cameo_json_release_(doc);
    free(doc);
}

static bool cameo_json_parse_(const uint8_t *bytes, size_t len, cameo_json **doc, char *why, size_t why_len, bool lenient) {
    cameo_json_parser_ ps = {bytes, bytes + len, why, why_len, 0, lenient};
    cameo_json *v = calloc(1, sizeof *v);
    if (!v) return cameo_json_fail_(&ps, "out of memory");
    bool ok = cameo_json_value_(&ps, v);
    if (ok) {
        cameo_json_ws_(&ps);
        if (ps.p != ps.end) ok = cameo_json_fail_(&ps, "trailing characters");
    }
    if (!ok) { cameo_json_free(v); return false; }
    *doc = v;
    return true;
}

/* Parses `len` bytes of JSON into *doc; false with a reason in `why` when it is not valid. */
static bool cameo_json_parse(const uint8_t *bytes, size_t len, cameo_json **doc, char *why, size_t why_len) {
    return cameo_json_parse_(bytes, len, doc, why, why_len, false);
}

/* Parses like cameo_json_parse but lets through what only a lenient read accepts: a number
 * past the f64 range (read as an infinity), a lone
 * surrogate escape, deeper nesting. For reading back what the operator itself wrote, such as
 * a window accumulator. */
static bool cameo_json_parse_lax(const uint8_t *bytes, size_t len, cameo_json **doc, char *why, size_t why_len) {
    return cameo_json_parse_(bytes, len, doc, why, why_len, true);
}

/* Whether `v` (read leniently, `depth` levels down) holds what a strict read refuses. */
static const char *cameo_json_strict_(const cameo_json *v, int depth) {
    if (v->lax) return v->kind == CAMEO_JSON_STRING ? "lone leading surrogate in hex escape" : "number out of range";
    if (v->kind == CAMEO_JSON_ARRAY || v->kind == CAMEO_JSON_OBJECT) {
        if (depth + 1 > 127) return "recursion limit exceeded";
        for (size_t k = 0; k < v->len; k++) {
            const char *why = cameo_json_strict_(&v->items[k], depth + 1);
            if (!why && v->kind == CAMEO_JSON_OBJECT) why = cameo_json_strict_(&v->keys[k], depth + 1);
            if (why) return why;
        }
    }
    return NULL;
}

static const cameo_json *cameo_json_get_n(const cameo_json *object, const char *name, size_t name_len);

/* One top-level field of a JSON object, as the Rust SDK's Event::json_field reads it: the
 * field itself strictly, the other fields only for syntax (a lone surrogate, a number out of
 * range or deep nesting there is let through). On success *doc holds the document (free it
 * with cameo_json_free) and *found the field or NULL; false with `why` (the whole message,
 * "cannot read field `name` of the event value: ...") otherwise. */
static bool cameo_json_field(const uint8_t *bytes, size_t len, const char *name, size_t name_len, cameo_json **doc,
                             const cameo_json **found, char *why, size_t why_len) {
    char reason[160];
    cameo_json_parser_ ps = {bytes, bytes + len, reason, sizeof reason, 0, true};
    const char *bad = NULL;
    *doc = calloc(1, sizeof **doc);
    if (!*doc) return false;
    bool ok = cameo_json_value_(&ps, *doc);
    if (ok) {
        cameo_json_ws_(&ps);
        if (ps.p != ps.end) ok = cameo_json_fail_(&ps, "trailing characters");
    }
    if (ok && (*doc)->kind != CAMEO_JSON_OBJECT) {
        snprintf(reason, sizeof reason, "invalid type, expected a JSON object");
        ok = false;
    }
    if (ok) {
        *found = cameo_json_get_n(*doc, name, name_len);
        if (*found) bad = cameo_json_strict_(*found, 1);
        if (bad) {
            snprintf(reason, sizeof reason, "%s", bad);
            ok = false;
        }
    }
    if (!ok) {
        snprintf(why, why_len, "cannot read field `%.*s` of the event value: %s", (int)name_len, name, reason);
        cameo_json_free(*doc);
        *doc = NULL;
    }
    return ok;
}

/* The value of field `name` of an object (the last one when a key repeats), or NULL. */
static const cameo_json *cameo_json_get_n(const cameo_json *object, const char *name, size_t name_len) {
    if (!object || object->kind != CAMEO_JSON_OBJECT) return NULL;
    for (size_t k = object->len; k-- > 0;) {
        if (object->keys[k].len == name_len && memcmp(object->keys[k].str, name, name_len) == 0) return &object->items[k];
    }
    return NULL;
}

static const cameo_json *cameo_json_get(const cameo_json *object, const char *name) {
    return cameo_json_get_n(object, name, strlen(name));
}

/* The value at a JSON Pointer (RFC 6901, e.g. "/order/total"), or NULL. */
static const cameo_json *cameo_json_pointer(const cameo_json *v, const char *pointer) {
    if (!*pointer) return v;
    if (*pointer != '/') return NULL;
    const char *p = pointer;
    char *token = malloc(strlen(pointer) + 1);
    if (!token) return NULL;
    while (v && *p == '/') {
        p++;
        size_t n = 0;
        while (*p && *p != '/') {
            if (p[0] == '~' && p[1] == '0') { token[n++] = '~'; p += 2; }
            else if (p[0] == '~' && p[1] == '1') { token[n++] = '/'; p += 2; }
            else token[n++] = *p++;
        }
        token[n] = 0;
        if (v->kind == CAMEO_JSON_OBJECT) v = cameo_json_get_n(v, token, n);
        else if (v->kind == CAMEO_JSON_ARRAY) {
            /* An index: digits without a leading zero, within the array. */
            bool ok = n > 0 && !(n > 1 && token[0] == '0');
            size_t index = 0;
            for (size_t k = 0; ok && k < n; k++) {
                if (token[k] < '0' || token[k] > '9' || index > (SIZE_MAX - 9) / 10) ok = false;
                else index = index * 10 + (size_t)(token[k] - '0');
            }
            v = ok && index < v->len ? &v->items[index] : NULL;
        } else v = NULL;
    }
    free(token);
    return v;
}

static bool cameo_json_is_number(const cameo_json *v) {
    return v && (v->kind == CAMEO_JSON_INT || v->kind == CAMEO_JSON_UINT || v->kind == CAMEO_JSON_FLOAT);
}

/* serde_json's equality: numbers equal only within one kind (2 is not 2.0), objects as maps. */
static bool cameo_json_equal(const cameo_json *a, const cameo_json *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case CAMEO_JSON_NULL: return true;
    case CAMEO_JSON_BOOL: return a->b == b->b;
    case CAMEO_JSON_INT: return a->i == b->i;
    case CAMEO_JSON_UINT: return a->u == b->u;
    case CAMEO_JSON_FLOAT: return a->f == b->f;
    case CAMEO_JSON_STRING: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    case CAMEO_JSON_ARRAY:
        if (a->len != b->len) return false;
        for (size_t k = 0; k < a->len; k++) if (!cameo_json_equal(&a->items[k], &b->items[k])) return false;
        return true;
    case CAMEO_JSON_OBJECT: {
        /* Distinct keys (the last of a repeated key counts) with equal values. */
        size_t distinct = 0;
        for (size_t k = 0; k < a->len; k++) {
            if (cameo_json_get_n(a, a->keys[k].str, a->keys[k].len) != &a->items[k]) continue;
            distinct++;
            const cameo_json *other = cameo_json_get_n(b, a->keys[k].str, a->keys[k].len);
            if (!other || !cameo_json_equal(&a->items[k], other)) return false;
        }
        size_t other_distinct = 0;
        for (size_t k = 0; k < b->len; k++)
            if (cameo_json_get_n(b, b->keys[k].str, b->keys[k].len) == &b->items[k]) other_distinct++;
        return distinct == other_distinct;
    }
    }
    return false;
}

#endif
