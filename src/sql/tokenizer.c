/* The SQL tokenizer: identifiers (plain or `quoted`), 'strings' (with '' and backslash escapes,
 * as Spark reads them), numbers, operators, and comments (-- and block comments) skipped. Every
 * token keeps its byte span so errors can point at it. */
#include "sql_int.h"

#include <ctype.h>
#include <string.h>

static int is_ident_start(int c)
{
    return isalpha(c) || c == '_' || c >= 0x80;
}
static int is_ident_char(int c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

tbml_status sql_tokenize(sql_arena *a, const char *src, sql_token **out, int *nout)
{
    int n = 0, cap = 64;
    sql_token *t = sql_alloc(a, (size_t)cap * sizeof(*t));
    size_t len = strlen(src);
    size_t i = 0;
    for (;;) {
        /* skip space and comments */
        for (;;) {
            while (i < len && isspace((unsigned char)src[i]))
                i++;
            if (i + 1 < len && src[i] == '-' && src[i + 1] == '-') {
                while (i < len && src[i] != '\n')
                    i++;
            } else if (i + 1 < len && src[i] == '/' && src[i + 1] == '*') {
                size_t start = i;
                i += 2;
                while (i + 1 < len && !(src[i] == '*' && src[i + 1] == '/'))
                    i++;
                if (i + 1 >= len)
                    return sql_error_at(TBML_E_SYNTAX, src, (int)start, "unterminated comment");
                i += 2;
            } else {
                break;
            }
        }
        if (n + 1 >= cap) {
            sql_token *nt = sql_alloc(a, (size_t)cap * 2 * sizeof(*t));
            memcpy(nt, t, (size_t)n * sizeof(*t));
            t = nt;
            cap *= 2;
        }
        sql_token *tk = &t[n];
        tk->pos = (int)i;
        if (i >= len) {
            tk->kind = TK_EOF;
            tk->len = 0;
            tk->text = "";
            n++;
            break;
        }
        unsigned char c = (unsigned char)src[i];
        if (len > (size_t)1 << 30)
            return tbml_error(TBML_E_ARG, "query is too long (%zu bytes)", len);
        if (is_ident_start(c)) {
            size_t s = i;
            while (i < len && is_ident_char((unsigned char)src[i]))
                i++;
            tk->kind = TK_IDENT;
            tk->text = sql_strndup(a, src + s, i - s);
        } else if (c == '`') {
            /* `quoted identifier`, `` inside is a literal backquote */
            size_t s = i++;
            char *buf = sql_alloc(a, len - s + 1);
            size_t bn = 0;
            for (;;) {
                if (i >= len)
                    return sql_error_at(TBML_E_SYNTAX, src, (int)s,
                                        "unterminated quoted identifier");
                if (src[i] == '`') {
                    if (i + 1 < len && src[i + 1] == '`') {
                        buf[bn++] = '`';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                buf[bn++] = src[i++];
            }
            if (bn == 0) return sql_error_at(TBML_E_SYNTAX, src, (int)s, "empty quoted identifier");
            tk->kind = TK_QIDENT;
            tk->text = buf;
        } else if (c == '\'' || c == '"') {
            /* Spark reads both quotes as string literals, with backslash escapes */
            char q = (char)c;
            size_t s = i++;
            char *buf = sql_alloc(a, len - s + 1);
            size_t bn = 0;
            for (;;) {
                if (i >= len)
                    return sql_error_at(TBML_E_SYNTAX, src, (int)s, "unterminated string literal");
                char ch = src[i];
                if (ch == q) {
                    if (i + 1 < len && src[i + 1] == q) {
                        buf[bn++] = q;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (ch == '\\' && i + 1 < len) {
                    char e = src[i + 1];
                    switch (e) {
                    case 'n':
                        buf[bn++] = '\n';
                        break;
                    case 't':
                        buf[bn++] = '\t';
                        break;
                    case 'r':
                        buf[bn++] = '\r';
                        break;
                    case '%':
                    case '_':
                        buf[bn++] = '\\';
                        buf[bn++] = e;
                        break; /* LIKE escapes stay */
                    default:
                        buf[bn++] = e;
                        break;
                    }
                    i += 2;
                    continue;
                }
                buf[bn++] = ch;
                i++;
            }
            buf[bn] = '\0';
            tk->kind = TK_STRING;
            tk->text = buf;
        } else if (isdigit(c) || (c == '.' && i + 1 < len && isdigit((unsigned char)src[i + 1]))) {
            size_t s = i;
            int is_float = 0;
            while (i < len && isdigit((unsigned char)src[i]))
                i++;
            if (i < len && src[i] == '.') {
                is_float = 1;
                i++;
                while (i < len && isdigit((unsigned char)src[i]))
                    i++;
            }
            if (i < len && (src[i] == 'e' || src[i] == 'E')) {
                size_t j = i + 1;
                if (j < len && (src[j] == '+' || src[j] == '-')) j++;
                if (j < len && isdigit((unsigned char)src[j])) {
                    is_float = 1;
                    i = j;
                    while (i < len && isdigit((unsigned char)src[i]))
                        i++;
                }
            }
            /* Spark's suffixes: 10L (long), 1.5D (double); BD and others are not supported */
            int suffix = 0;
            if (i < len && (src[i] == 'L' || src[i] == 'l') && !is_float) {
                suffix = 1;
            } else if (i < len && (src[i] == 'D' || src[i] == 'd')) {
                is_float = 1;
                suffix = 1;
            }
            tk->kind = is_float ? TK_FLOAT : TK_INT;
            tk->text = sql_strndup(a, src + s, i - s);
            i += (size_t)suffix;
            if (i < len && is_ident_char((unsigned char)src[i]))
                return sql_error_at(TBML_E_SYNTAX, src, (int)s, "malformed number '%.*s'",
                                    (int)(i + 1 - s), src + s);
        } else {
            static const char *ops2[] = {"<=>", "<>", "!=", "<=", ">=", "==", "||", NULL};
            int matched = 0;
            for (int k = 0; ops2[k]; k++) {
                size_t ol = strlen(ops2[k]);
                if (i + ol <= len && memcmp(src + i, ops2[k], ol) == 0) {
                    tk->text = ops2[k];
                    i += ol;
                    matched = 1;
                    break;
                }
            }
            if (!matched) {
                if (!strchr("(),.;*+-/%=<>[]", c))
                    return sql_error_at(TBML_E_SYNTAX, src, (int)i, "unexpected character '%c'",
                                        isprint(c) ? c : '?');
                tk->text = sql_strndup(a, src + i, 1);
                i++;
            }
            tk->kind = TK_OP;
        }
        tk->len = (int)i - tk->pos;
        n++;
    }
    *out = t;
    *nout = n;
    return TBML_OK;
}
