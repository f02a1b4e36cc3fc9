/* SPDX-License-Identifier: Apache-2.0 */
/* JSON values in memory, a deterministic formatter and a strict parser. cedana.json arrives in
 * archives anyone can hand us, so the parser treats every byte as hostile and fails cleanly. */

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "strv.h"

#define JSON_DEPTH_MAX 64
/* RFC 8259 lets us limit numbers; a literal this long is an attack on strtod, not data. */
#define JSON_NUMBER_MAX 1024

struct JsonVariant {
        JsonType type;
        union {
                bool boolean;
                int64_t integer;
                uint64_t unsig;
                double real;
                char *string;
                struct {
                        /* Arrays use values only; objects keep keys[i] beside values[i], in
                         * insertion order, which is what makes the output deterministic. */
                        char **keys;
                        JsonVariant **values;
                        size_t n, n_allocated;
                };
        };
};

/* Length of the well-formed UTF-8 sequence at the start of s (RFC 3629 table 3-7: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_sequence_length(const uint8_t *s, size_t n) {
        uint8_t lo = 0x80, hi = 0xBF;
        size_t len;

        if (n == 0)
                return 0;
        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2;
        else if (s[0] == 0xE0) {
                len = 3;
                lo = 0xA0;
        } else if (s[0] == 0xED) {
                len = 3;
                hi = 0x9F;
        } else if (s[0] >= 0xE1 && s[0] <= 0xEF)
                len = 3;
        else if (s[0] == 0xF0) {
                len = 4;
                lo = 0x90;
        } else if (s[0] == 0xF4) {
                len = 4;
                hi = 0x8F;
        } else if (s[0] >= 0xF1 && s[0] <= 0xF3)
                len = 4;
        else
                return 0;

        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xBF)
                        return 0;
        return len;
}

static bool utf8_is_valid(const char *s) {
        const uint8_t *p = (const uint8_t *) s;
        size_t n = strlen(s);

        while (n > 0) {
                size_t l = utf8_sequence_length(p, n);
                if (l == 0)
                        return false;
                p += l;
                n -= l;
        }
        return true;
}

typedef struct Buffer {
        char *data;
        size_t n, allocated;
} Buffer;

static int buffer_append(Buffer *b, const char *s, size_t l) {
        if (l >= SIZE_MAX - b->n)
                return -ENOMEM;
        if (b->n + l + 1 > b->allocated) {
                size_t a = MAX(b->n + l + 1, MAX(b->allocated * 2, (size_t) 64));
                char *d = realloc(b->data, a);
                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->allocated = a;
        }
        memcpy(b->data + b->n, s, l);
        b->n += l;
        b->data[b->n] = 0;
        return 0;
}

static int buffer_puts(Buffer *b, const char *s) {
        return buffer_append(b, s, strlen(s));
}

static int buffer_putc(Buffer *b, char c) {
        return buffer_append(b, &c, 1);
}

static int json_new(JsonType type, JsonVariant **ret) {
        JsonVariant *v = calloc(1, sizeof(JsonVariant));
        if (!v)
                return -ENOMEM;
        v->type = type;
        *ret = v;
        return 0;
}

int json_new_null(JsonVariant **ret) {
        return json_new(JSON_NULL, ret);
}

int json_new_boolean(bool b, JsonVariant **ret) {
        int r = json_new(JSON_BOOLEAN, ret);
        if (r < 0)
                return r;
        (*ret)->boolean = b;
        return 0;
}

int json_new_integer(int64_t i, JsonVariant **ret) {
        int r;

        /* One representation per value, so that equal numbers format and compare the same. */
        if (i >= 0)
                return json_new_unsigned((uint64_t) i, ret);

        r = json_new(JSON_INTEGER, ret);
        if (r < 0)
                return r;
        (*ret)->integer = i;
        return 0;
}

int json_new_unsigned(uint64_t u, JsonVariant **ret) {
        int r = json_new(JSON_UNSIGNED, ret);
        if (r < 0)
                return r;
        (*ret)->unsig = u;
        return 0;
}

int json_new_real(double d, JsonVariant **ret) {
        int r = json_new(JSON_REAL, ret);
        if (r < 0)
                return r;
        (*ret)->real = d;
        return 0;
}

int json_new_string(const char *s, JsonVariant **ret) {
        _cleanup_free_ char *copy = NULL;
        int r;

        if (!s)
                return json_new_null(ret);
        /* JSON text is UTF-8: a string we could not write out faithfully is refused here
         * rather than producing a document our own parser would reject. */
        if (!utf8_is_valid(s))
                return -EINVAL;

        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        r = json_new(JSON_STRING, ret);
        if (r < 0)
                return r;
        (*ret)->string = TAKE_PTR(copy);
        return 0;
}

int json_new_strv(char *const *l, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *a = NULL;
        int r;

        r = json_new_array(&a);
        if (r < 0)
                return r;

        STRV_FOREACH(s, l) {
                JsonVariant *e = NULL;

                r = json_new_string(*s, &e);
                if (r < 0)
                        return r;
                r = json_array_append(a, e);
                if (r < 0)
                        return r;
        }

        *ret = TAKE_PTR(a);
        return 0;
}

int json_new_array(JsonVariant **ret) {
        return json_new(JSON_ARRAY, ret);
}

int json_new_object(JsonVariant **ret) {
        return json_new(JSON_OBJECT, ret);
}

JsonVariant *json_free(JsonVariant *v) {
        if (!v)
                return NULL;

        switch (v->type) {
        case JSON_STRING:
                free(v->string);
                break;
        case JSON_ARRAY:
        case JSON_OBJECT:
                for (size_t i = 0; i < v->n; i++) {
                        if (v->keys)
                                free(v->keys[i]);
                        json_free(v->values[i]);
                }
                free(v->keys);
                free(v->values);
                break;
        default:
                break;
        }

        free(v);
        return NULL;
}

static int container_reserve(JsonVariant *v) {
        JsonVariant **values;
        size_t a;

        if (v->n < v->n_allocated)
                return 0;
        if (v->n_allocated > SIZE_MAX / 2 / sizeof(char *))
                return -ENOMEM;
        a = MAX(v->n_allocated * 2, (size_t) 4);

        values = reallocarray(v->values, a, sizeof(JsonVariant *));
        if (!values)
                return -ENOMEM;
        v->values = values;

        if (v->type == JSON_OBJECT) {
                char **keys = reallocarray(v->keys, a, sizeof(char *));
                if (!keys)
                        return -ENOMEM;
                v->keys = keys;
        }

        v->n_allocated = a;
        return 0;
}

/* Appends without looking for an existing key: the parser checks duplicates itself. Takes
 * ownership of key and value only on success. */
static int object_append(JsonVariant *object, char *key, JsonVariant *value) {
        int r = container_reserve(object);
        if (r < 0)
                return r;
        object->keys[object->n] = key;
        object->values[object->n] = value;
        object->n++;
        return 0;
}

int json_array_append(JsonVariant *array, JsonVariant *value) {
        _cleanup_json_ JsonVariant *v = value;
        int r;

        if (!array || array->type != JSON_ARRAY || !v)
                return -EINVAL;

        r = container_reserve(array);
        if (r < 0)
                return r;
        array->values[array->n++] = TAKE_PTR(v);
        return 0;
}

static ssize_t object_find(const JsonVariant *object, const char *key) {
        for (size_t i = 0; i < object->n; i++)
                if (streq(object->keys[i], key))
                        return (ssize_t) i;
        return -1;
}

int json_object_set(JsonVariant *object, const char *key, JsonVariant *value) {
        _cleanup_json_ JsonVariant *v = value;
        _cleanup_free_ char *k = NULL;
        ssize_t i;
        int r;

        if (!object || object->type != JSON_OBJECT || !key || !v)
                return -EINVAL;
        if (!utf8_is_valid(key))
                return -EINVAL;

        i = object_find(object, key);
        if (i >= 0) {
                json_free(object->values[i]);
                object->values[i] = TAKE_PTR(v);
                return 0;
        }

        k = strdup(key);
        if (!k)
                return -ENOMEM;
        r = object_append(object, k, v);
        if (r < 0)
                return r;
        TAKE_PTR(k);
        TAKE_PTR(v);
        return 0;
}

int json_object_set_string(JsonVariant *object, const char *key, const char *s) {
        JsonVariant *v = NULL;
        int r = json_new_string(s, &v);
        if (r < 0)
                return r;
        return json_object_set(object, key, v);
}

int json_object_set_unsigned(JsonVariant *object, const char *key, uint64_t u) {
        JsonVariant *v = NULL;
        int r = json_new_unsigned(u, &v);
        if (r < 0)
                return r;
        return json_object_set(object, key, v);
}

int json_object_set_integer(JsonVariant *object, const char *key, int64_t i) {
        JsonVariant *v = NULL;
        int r = json_new_integer(i, &v);
        if (r < 0)
                return r;
        return json_object_set(object, key, v);
}

int json_object_set_boolean(JsonVariant *object, const char *key, bool b) {
        JsonVariant *v = NULL;
        int r = json_new_boolean(b, &v);
        if (r < 0)
                return r;
        return json_object_set(object, key, v);
}

int json_object_set_strv(JsonVariant *object, const char *key, char *const *l) {
        JsonVariant *v = NULL;
        int r = json_new_strv(l, &v);
        if (r < 0)
                return r;
        return json_object_set(object, key, v);
}

int json_object_remove(JsonVariant *object, const char *key) {
        ssize_t i;

        if (!object || object->type != JSON_OBJECT || !key)
                return -EINVAL;

        i = object_find(object, key);
        if (i < 0)
                return 0;

        free(object->keys[i]);
        json_free(object->values[i]);
        memmove(object->keys + i, object->keys + i + 1, (object->n - i - 1) * sizeof(char *));
        memmove(object->values + i, object->values + i + 1, (object->n - i - 1) * sizeof(JsonVariant *));
        object->n--;
        return 1;
}

int json_copy(const JsonVariant *v, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *c = NULL;
        int r;

        if (!v)
                return json_new_null(ret);

        switch (v->type) {
        case JSON_STRING:
                r = json_new_string(v->string, &c);
                break;
        case JSON_ARRAY:
        case JSON_OBJECT:
                r = json_new(v->type, &c);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < v->n; i++) {
                        JsonVariant *e = NULL;

                        r = json_copy(v->values[i], &e);
                        if (r < 0)
                                return r;
                        if (v->type == JSON_ARRAY)
                                r = json_array_append(c, e);
                        else {
                                char *k = strdup(v->keys[i]);
                                if (!k) {
                                        json_free(e);
                                        return -ENOMEM;
                                }
                                r = object_append(c, k, e);
                                if (r < 0) {
                                        free(k);
                                        json_free(e);
                                }
                        }
                        if (r < 0)
                                return r;
                }
                break;
        default:
                /* Scalars own no memory: a plain copy is a deep copy. */
                c = malloc(sizeof(JsonVariant));
                if (!c)
                        return -ENOMEM;
                *c = *v;
                r = 0;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

JsonType json_type(const JsonVariant *v) {
        return v ? v->type : JSON_NULL;
}

size_t json_elements(const JsonVariant *v) {
        if (!v || (v->type != JSON_ARRAY && v->type != JSON_OBJECT))
                return 0;
        return v->n;
}

JsonVariant *json_array_get(const JsonVariant *array, size_t i) {
        if (!array || array->type != JSON_ARRAY || i >= array->n)
                return NULL;
        return array->values[i];
}

const char *json_object_key_at(const JsonVariant *object, size_t i) {
        if (!object || object->type != JSON_OBJECT || i >= object->n)
                return NULL;
        return object->keys[i];
}

JsonVariant *json_object_value_at(const JsonVariant *object, size_t i) {
        if (!object || object->type != JSON_OBJECT || i >= object->n)
                return NULL;
        return object->values[i];
}

JsonVariant *json_object_get(const JsonVariant *object, const char *key) {
        ssize_t i;

        if (!object || object->type != JSON_OBJECT || !key)
                return NULL;
        i = object_find(object, key);
        return i >= 0 ? object->values[i] : NULL;
}

const char *json_string(const JsonVariant *v) {
        if (!v || v->type != JSON_STRING)
                return NULL;
        return v->string;
}

int json_get_boolean(const JsonVariant *v, bool *ret) {
        if (!v || v->type != JSON_BOOLEAN)
                return -EINVAL;
        if (ret)
                *ret = v->boolean;
        return 0;
}

int json_get_unsigned(const JsonVariant *v, uint64_t *ret) {
        if (!v)
                return -EINVAL;
        if (v->type == JSON_INTEGER)
                return -ERANGE;
        if (v->type != JSON_UNSIGNED)
                return -EINVAL;
        if (ret)
                *ret = v->unsig;
        return 0;
}

int json_get_integer(const JsonVariant *v, int64_t *ret) {
        if (!v)
                return -EINVAL;
        if (v->type == JSON_UNSIGNED) {
                if (v->unsig > INT64_MAX)
                        return -ERANGE;
                if (ret)
                        *ret = (int64_t) v->unsig;
                return 0;
        }
        if (v->type != JSON_INTEGER)
                return -EINVAL;
        if (ret)
                *ret = v->integer;
        return 0;
}

int json_get_strv(const JsonVariant *v, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        if (!v || v->type != JSON_ARRAY)
                return -EINVAL;

        l = calloc(v->n + 1, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < v->n; i++) {
                if (v->values[i]->type != JSON_STRING)
                        return -EINVAL;
                l[i] = strdup(v->values[i]->string);
                if (!l[i])
                        return -ENOMEM;
        }

        if (ret)
                *ret = TAKE_PTR(l);
        return 0;
}

static int format_string(Buffer *b, const char *s) {
        const char *run = s;
        int r;

        r = buffer_putc(b, '"');
        if (r < 0)
                return r;

        for (const char *p = s;; p++) {
                unsigned char c = *p;
                char esc[7];

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;

                /* Plain bytes go out in runs; UTF-8 passes through untouched. */
                r = buffer_append(b, run, p - run);
                if (r < 0)
                        return r;
                run = p + 1;
                if (c == 0)
                        break;

                switch (c) {
                case '"':
                        r = buffer_puts(b, "\\\"");
                        break;
                case '\\':
                        r = buffer_puts(b, "\\\\");
                        break;
                case '\b':
                        r = buffer_puts(b, "\\b");
                        break;
                case '\f':
                        r = buffer_puts(b, "\\f");
                        break;
                case '\n':
                        r = buffer_puts(b, "\\n");
                        break;
                case '\r':
                        r = buffer_puts(b, "\\r");
                        break;
                case '\t':
                        r = buffer_puts(b, "\\t");
                        break;
                default:
                        (void) snprintf(esc, sizeof(esc), "\\u%04x", c);
                        r = buffer_puts(b, esc);
                }
                if (r < 0)
                        return r;
        }

        return buffer_putc(b, '"');
}

static int format_real(Buffer *b, double d) {
        locale_t c, saved;
        char t[64];

        /* JSON has no NaN or infinity. */
        if (!isfinite(d))
                return buffer_puts(b, "null");

        /* The C locale's '.', whatever locale the CLI runs in. newlocale("C") allocates
         * nothing in glibc. */
        c = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
        if (c == (locale_t) 0)
                return -ENOMEM;
        saved = uselocale(c);
        (void) snprintf(t, sizeof(t) - 2, "%.17g", d);
        (void) uselocale(saved);
        freelocale(c);

        /* Keep it a real when parsed back: "1" would come back as an integer. */
        if (!strpbrk(t, ".eE"))
                strcat(t, ".0");

        return buffer_puts(b, t);
}

static int format_newline(Buffer *b, JsonFormatFlags flags, unsigned level) {
        int r;

        if (!(flags & JSON_FORMAT_PRETTY))
                return 0;
        r = buffer_putc(b, '\n');
        for (unsigned i = 0; r >= 0 && i < level; i++)
                r = buffer_puts(b, "  ");
        return r;
}

static int format_value(Buffer *b, const JsonVariant *v, JsonFormatFlags flags, unsigned level) {
        char t[32];
        int r;

        switch (json_type(v)) {
        case JSON_NULL:
                return buffer_puts(b, "null");
        case JSON_BOOLEAN:
                return buffer_puts(b, v->boolean ? "true" : "false");
        case JSON_INTEGER:
                (void) snprintf(t, sizeof(t), "%" PRIi64, v->integer);
                return buffer_puts(b, t);
        case JSON_UNSIGNED:
                (void) snprintf(t, sizeof(t), "%" PRIu64, v->unsig);
                return buffer_puts(b, t);
        case JSON_REAL:
                return format_real(b, v->real);
        case JSON_STRING:
                return format_string(b, v->string);
        case JSON_ARRAY:
        case JSON_OBJECT:
                break;
        }

        r = buffer_putc(b, v->type == JSON_ARRAY ? '[' : '{');
        if (r < 0)
                return r;

        for (size_t i = 0; i < v->n; i++) {
                if (i > 0) {
                        r = buffer_putc(b, ',');
                        if (r < 0)
                                return r;
                }
                r = format_newline(b, flags, level + 1);
                if (r < 0)
                        return r;
                if (v->type == JSON_OBJECT) {
                        r = format_string(b, v->keys[i]);
                        if (r < 0)
                                return r;
                        r = buffer_puts(b, flags & JSON_FORMAT_PRETTY ? ": " : ":");
                        if (r < 0)
                                return r;
                }
                r = format_value(b, v->values[i], flags, level + 1);
                if (r < 0)
                        return r;
        }

        if (v->n > 0) {
                r = format_newline(b, flags, level);
                if (r < 0)
                        return r;
        }
        return buffer_putc(b, v->type == JSON_ARRAY ? ']' : '}');
}

int json_format(const JsonVariant *v, JsonFormatFlags flags, char **ret) {
        _cleanup_free_ char *data = NULL;
        Buffer b = {};
        int r;

        r = format_value(&b, v, flags, 0);
        if (r >= 0 && (flags & JSON_FORMAT_PRETTY))
                r = buffer_putc(&b, '\n');
        data = b.data;
        if (r < 0)
                return r;

        *ret = TAKE_PTR(data);
        return 0;
}

typedef struct JsonParser {
        const char *s;
        size_t n, i;
        char *error;
} JsonParser;

static int parse_error(JsonParser *p, size_t pos, const char *format, ...) _printf_(3, 4);
static int parse_error(JsonParser *p, size_t pos, const char *format, ...) {
        _cleanup_free_ char *reason = NULL;
        unsigned line = 1;
        size_t column = 1;
        va_list ap;
        int r;

        /* Positions are computed only here, so the happy path does not count lines. Columns
         * count bytes, which is what an editor's byte offset or `cut -b` shows. */
        for (size_t i = 0; i < pos && i < p->n; i++)
                if (p->s[i] == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;

        va_start(ap, format);
        r = vasprintf(&reason, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        free(p->error);
        if (asprintf(&p->error, "line %u, column %zu: %s", line, column, reason) < 0) {
                p->error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}

static int parse_unexpected(JsonParser *p, const char *expected) {
        unsigned char c;

        if (p->i >= p->n)
                return parse_error(p, p->i, "unexpected end of input, expected %s", expected);

        c = p->s[p->i];
        if (c >= 0x20 && c < 0x7f)
                return parse_error(p, p->i, "unexpected character '%c', expected %s", c, expected);
        return parse_error(p, p->i, "unexpected byte 0x%02x, expected %s", c, expected);
}

static void parse_skip_whitespace(JsonParser *p) {
        while (p->i < p->n &&
               (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
                p->i++;
}

static bool parse_peek(JsonParser *p, char c) {
        return p->i < p->n && p->s[p->i] == c;
}

static int parse_hex4(JsonParser *p, size_t pos, unsigned *ret) {
        unsigned u = 0;

        if (p->n - pos < 4)
                return parse_error(p, pos, "truncated \\u escape");
        for (size_t k = 0; k < 4; k++) {
                char c = p->s[pos + k];
                int d;

                if (c >= '0' && c <= '9')
                        d = c - '0';
                else if (c >= 'a' && c <= 'f')
                        d = c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        d = c - 'A' + 10;
                else
                        return parse_error(p, pos + k, "invalid hexadecimal digit in \\u escape");
                u = u << 4 | (unsigned) d;
        }
        *ret = u;
        return 0;
}

static size_t utf8_encode(unsigned cp, char out[static 4]) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xC0 | cp >> 6);
                out[1] = (char) (0x80 | (cp & 0x3F));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xE0 | cp >> 12);
                out[1] = (char) (0x80 | (cp >> 6 & 0x3F));
                out[2] = (char) (0x80 | (cp & 0x3F));
                return 3;
        }
        out[0] = (char) (0xF0 | cp >> 18);
        out[1] = (char) (0x80 | (cp >> 12 & 0x3F));
        out[2] = (char) (0x80 | (cp >> 6 & 0x3F));
        out[3] = (char) (0x80 | (cp & 0x3F));
        return 4;
}

/* p->i is at a backslash; appends the decoded character and moves past the escape. */
static int parse_escape(JsonParser *p, Buffer *b) {
        size_t start = p->i;
        unsigned cp, low;
        char out[4];
        int r;

        if (p->n - p->i < 2)
                return parse_error(p, p->i, "unterminated string");

        switch (p->s[p->i + 1]) {
        case '"':
        case '\\':
        case '/':
                p->i += 2;
                return buffer_putc(b, p->s[p->i - 1]);
        case 'b':
                p->i += 2;
                return buffer_putc(b, '\b');
        case 'f':
                p->i += 2;
                return buffer_putc(b, '\f');
        case 'n':
                p->i += 2;
                return buffer_putc(b, '\n');
        case 'r':
                p->i += 2;
                return buffer_putc(b, '\r');
        case 't':
                p->i += 2;
                return buffer_putc(b, '\t');
        case 'u':
                break;
        default:
                return parse_error(p, p->i, "invalid escape sequence");
        }

        r = parse_hex4(p, start + 2, &cp);
        if (r < 0)
                return r;
        p->i = start + 6;

        if (cp == 0)
                return parse_error(p, start, "\\u0000 is not allowed in strings");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
                return parse_error(p, start, "unpaired surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
                /* A character beyond the BMP: the low half must follow right away. */
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                        return parse_error(p, start, "unpaired surrogate in \\u escape");
                r = parse_hex4(p, p->i + 2, &low);
                if (r < 0)
                        return r;
                if (low < 0xDC00 || low > 0xDFFF)
                        return parse_error(p, start, "unpaired surrogate in \\u escape");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p->i += 6;
        }

        return buffer_append(b, out, utf8_encode(cp, out));
}

/* p->i is at the opening quote. */
static int parse_string(JsonParser *p, char **ret) {
        _cleanup_free_ char *data = NULL;
        size_t start = p->i;
        Buffer b = {};
        int r = 0;

        p->i++;
        for (;;) {
                unsigned char c;
                size_t run;

                if (p->i >= p->n) {
                        r = parse_error(p, start, "unterminated string");
                        break;
                }

                c = p->s[p->i];
                if (c == '"') {
                        p->i++;
                        break;
                }
                if (c == '\\') {
                        r = parse_escape(p, &b);
                        if (r < 0)
                                break;
                        continue;
                }
                if (c == 0) {
                        r = parse_error(p, p->i, "NUL byte in string");
                        break;
                }
                if (c < 0x20) {
                        r = parse_error(p, p->i, "unescaped control character 0x%02x in string", c);
                        break;
                }

                if (c < 0x80) {
                        run = 1;
                        while (p->i + run < p->n) {
                                c = p->s[p->i + run];
                                if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
                                        break;
                                run++;
                        }
                } else {
                        run = utf8_sequence_length((const uint8_t *) p->s + p->i, p->n - p->i);
                        if (run == 0) {
                                r = parse_error(p, p->i, "invalid UTF-8 in string");
                                break;
                        }
                }

                r = buffer_append(&b, p->s + p->i, run);
                if (r < 0)
                        break;
                p->i += run;
        }

        data = b.data;
        if (r < 0)
                return r;
        if (!data) {
                data = strdup("");
                if (!data)
                        return -ENOMEM;
        }

        *ret = TAKE_PTR(data);
        return 0;
}

static bool is_digit(JsonParser *p) {
        return p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9';
}

static int parse_number(JsonParser *p, JsonVariant **ret) {
        size_t start = p->i, len;
        bool negative = false, real = false;
        char buf[JSON_NUMBER_MAX + 1], *end;
        locale_t c;
        double d;

        if (parse_peek(p, '-')) {
                negative = true;
                p->i++;
        }
        if (!is_digit(p))
                return parse_unexpected(p, "a digit");
        if (p->s[p->i] == '0') {
                p->i++;
                if (is_digit(p))
                        return parse_error(p, start, "numbers must not have leading zeros");
        } else
                while (is_digit(p))
                        p->i++;

        if (parse_peek(p, '.')) {
                real = true;
                p->i++;
                if (!is_digit(p))
                        return parse_unexpected(p, "a digit after '.'");
                while (is_digit(p))
                        p->i++;
        }
        if (parse_peek(p, 'e') || parse_peek(p, 'E')) {
                real = true;
                p->i++;
                if (parse_peek(p, '+') || parse_peek(p, '-'))
                        p->i++;
                if (!is_digit(p))
                        return parse_unexpected(p, "a digit in the exponent");
                while (is_digit(p))
                        p->i++;
        }

        len = p->i - start;
        if (len > JSON_NUMBER_MAX)
                return parse_error(p, start, "number too long");

        if (!real) {
                uint64_t u = 0;
                bool overflow = false;

                for (size_t k = start + negative; k < p->i; k++) {
                        unsigned digit = (unsigned) (p->s[k] - '0');
                        if (u > (UINT64_MAX - digit) / 10) {
                                overflow = true;
                                break;
                        }
                        u = u * 10 + digit;
                }

                if (!overflow && (!negative || u == 0))
                        return json_new_unsigned(u, ret);
                if (!overflow && u <= (uint64_t) INT64_MAX + 1)
                        return json_new_integer(u == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) u, ret);
                /* Too big for either: fall through to a real, as RFC 8259 suggests. */
        }

        memcpy(buf, p->s + start, len);
        buf[len] = 0;

        c = newlocale(LC_ALL_MASK, "C", (locale_t) 0);
        if (c == (locale_t) 0)
                return -ENOMEM;
        d = strtod_l(buf, &end, c);
        freelocale(c);
        if (end != buf + len)
                return parse_error(p, start, "invalid number");
        if (!isfinite(d))
                return parse_error(p, start, "number out of range");

        return json_new_real(d, ret);
}

static int parse_literal(JsonParser *p, const char *word, JsonVariant **ret) {
        size_t l = strlen(word);

        if (p->n - p->i < l || memcmp(p->s + p->i, word, l) != 0)
                return parse_error(p, p->i, "invalid literal, expected '%s'", word);
        p->i += l;

        if (word[0] == 'n')
                return json_new_null(ret);
        return json_new_boolean(word[0] == 't', ret);
}

static int parse_value(JsonParser *p, unsigned depth, JsonVariant **ret);

static int parse_array(JsonParser *p, unsigned depth, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *a = NULL;
        int r;

        if (depth > JSON_DEPTH_MAX)
                return parse_error(p, p->i, "nesting too deep (more than %u levels)", JSON_DEPTH_MAX);

        r = json_new_array(&a);
        if (r < 0)
                return r;

        p->i++;
        parse_skip_whitespace(p);
        if (parse_peek(p, ']')) {
                p->i++;
                *ret = TAKE_PTR(a);
                return 0;
        }

        for (;;) {
                JsonVariant *e = NULL;

                r = parse_value(p, depth, &e);
                if (r < 0)
                        return r;
                r = json_array_append(a, e);
                if (r < 0)
                        return r;

                parse_skip_whitespace(p);
                if (parse_peek(p, ']')) {
                        p->i++;
                        break;
                }
                if (!parse_peek(p, ','))
                        return parse_unexpected(p, "',' or ']'");
                p->i++;
                parse_skip_whitespace(p);
                if (parse_peek(p, ']'))
                        return parse_error(p, p->i, "trailing comma in array");
        }

        *ret = TAKE_PTR(a);
        return 0;
}

typedef struct KeyPosition {
        const char *key;
        size_t pos;
} KeyPosition;

static int key_position_compare(const void *a, const void *b) {
        const KeyPosition *x = a, *y = b;
        int c = strcmp(x->key, y->key);

        if (c != 0)
                return c;
        return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Sorting keeps this O(n log n) however many members a hostile document has. Reports the
 * duplicate that comes first in the document. */
static int parse_check_duplicates(JsonParser *p, const JsonVariant *o, const size_t *positions) {
        _cleanup_free_ KeyPosition *kp = NULL;
        const char *dup = NULL;
        size_t dup_pos = SIZE_MAX;

        if (o->n < 2)
                return 0;

        kp = calloc(o->n, sizeof(KeyPosition));
        if (!kp)
                return -ENOMEM;
        for (size_t i = 0; i < o->n; i++)
                kp[i] = (KeyPosition) { o->keys[i], positions[i] };
        qsort(kp, o->n, sizeof(KeyPosition), key_position_compare);

        for (size_t i = 1; i < o->n; i++)
                if (streq(kp[i - 1].key, kp[i].key) && kp[i].pos < dup_pos &&
                    (i < 2 || !streq(kp[i - 2].key, kp[i].key))) {
                        dup = kp[i].key;
                        dup_pos = kp[i].pos;
                }

        if (dup)
                return parse_error(p, dup_pos, "duplicate object key \"%s\"", dup);
        return 0;
}

static int parse_object(JsonParser *p, unsigned depth, JsonVariant **ret) {
        _cleanup_json_ JsonVariant *o = NULL;
        _cleanup_free_ size_t *positions = NULL;
        size_t n_positions = 0;
        int r;

        if (depth > JSON_DEPTH_MAX)
                return parse_error(p, p->i, "nesting too deep (more than %u levels)", JSON_DEPTH_MAX);

        r = json_new_object(&o);
        if (r < 0)
                return r;

        p->i++;
        parse_skip_whitespace(p);
        if (parse_peek(p, '}')) {
                p->i++;
                *ret = TAKE_PTR(o);
                return 0;
        }

        for (;;) {
                _cleanup_json_ JsonVariant *value = NULL;
                _cleanup_free_ char *key = NULL;
                size_t key_pos;

                if (!parse_peek(p, '"'))
                        return parse_unexpected(p, "a string (object key)");
                key_pos = p->i;
                r = parse_string(p, &key);
                if (r < 0)
                        return r;

                parse_skip_whitespace(p);
                if (!parse_peek(p, ':'))
                        return parse_unexpected(p, "':'");
                p->i++;

                r = parse_value(p, depth, &value);
                if (r < 0)
                        return r;

                if (n_positions >= o->n_allocated || !positions) {
                        size_t *np;

                        r = container_reserve(o);
                        if (r < 0)
                                return r;
                        np = reallocarray(positions, o->n_allocated, sizeof(size_t));
                        if (!np)
                                return -ENOMEM;
                        positions = np;
                }
                r = object_append(o, key, value);
                if (r < 0)
                        return r;
                TAKE_PTR(key);
                TAKE_PTR(value);
                positions[n_positions++] = key_pos;

                parse_skip_whitespace(p);
                if (parse_peek(p, '}')) {
                        p->i++;
                        break;
                }
                if (!parse_peek(p, ','))
                        return parse_unexpected(p, "',' or '}'");
                p->i++;
                parse_skip_whitespace(p);
                if (parse_peek(p, '}'))
                        return parse_error(p, p->i, "trailing comma in object");
        }

        r = parse_check_duplicates(p, o, positions);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(o);
        return 0;
}

static int parse_value(JsonParser *p, unsigned depth, JsonVariant **ret) {
        _cleanup_free_ char *s = NULL;
        int r;

        parse_skip_whitespace(p);
        if (p->i >= p->n)
                return parse_unexpected(p, "a value");

        switch (p->s[p->i]) {
        case '{':
                return parse_object(p, depth + 1, ret);
        case '[':
                return parse_array(p, depth + 1, ret);
        case '"':
                r = parse_string(p, &s);
                if (r < 0)
                        return r;
                r = json_new(JSON_STRING, ret);
                if (r < 0)
                        return r;
                (*ret)->string = TAKE_PTR(s);
                return 0;
        case 't':
                return parse_literal(p, "true", ret);
        case 'f':
                return parse_literal(p, "false", ret);
        case 'n':
                return parse_literal(p, "null", ret);
        case '-':
        case '0' ... '9':
                return parse_number(p, ret);
        default:
                return parse_unexpected(p, "a value");
        }
}

int json_parse(const char *s, size_t n, JsonVariant **ret, char **reterr) {
        _cleanup_json_ JsonVariant *v = NULL;
        JsonParser p = {
                .s = s ?: "",
                .n = s ? n : 0,
        };
        int r;

        r = parse_value(&p, 0, &v);
        if (r >= 0) {
                parse_skip_whitespace(&p);
                if (p.i < p.n)
                        r = parse_error(&p, p.i, "unexpected data after the value");
        }
        if (r < 0) {
                if (r == -EBADMSG && reterr)
                        *reterr = TAKE_PTR(p.error);
                free(p.error);
                return r;
        }

        if (ret)
                *ret = TAKE_PTR(v);
        return 0;
}
