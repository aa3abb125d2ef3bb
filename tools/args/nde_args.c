/* The shared command-line parser (nde_args.h): getopt_long over a table of options. */
#include "nde_args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nde/nde.h"

enum { DEFAULT_CAP = 64, VAL_BASE = 256 };

/* The value's name in the usage when the table gives none. */
static void metavar(const nde_arg *o, char *buf, size_t cap)
{
    if (o->metavar) {
        snprintf(buf, cap, "%s", o->metavar);
        return;
    }
    switch (o->kind) {
    case NDE_ARG_SIZE: snprintf(buf, cap, "N"); return;
    case NDE_ARG_U64: snprintf(buf, cap, "SEED"); return;
    case NDE_ARG_DOUBLE: snprintf(buf, cap, "X"); return;
    case NDE_ARG_CHOICE: {
        size_t len = 0;
        buf[0] = '\0';
        for (const char *const *c = o->choices; c && *c && len < cap; c++)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", c == o->choices ? "" : "|", *c);
        return;
    }
    default: snprintf(buf, cap, "STR"); return;
    }
}

static int takes_value(const nde_arg *o)
{
    return o->kind != NDE_ARG_FLAG && o->kind != NDE_ARG_UNFLAG;
}

/* The default shown for o: its default_text, or the value now in dest ("" for none). */
static void default_of(const nde_arg *o, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->default_text) {
        snprintf(buf, cap, "%s", o->default_text);
        return;
    }
    switch (o->kind) {
    case NDE_ARG_SIZE: snprintf(buf, cap, "%zu", *(const size_t *)o->dest); break;
    case NDE_ARG_U64:
        snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)o->dest);
        break;
    case NDE_ARG_DOUBLE: snprintf(buf, cap, "%g", *(const double *)o->dest); break;
    case NDE_ARG_STRING: {
        const char *s = *(const char *const *)o->dest;
        if (s) snprintf(buf, cap, "%s", s);
        break;
    }
    case NDE_ARG_CHOICE: {
        int i = *(const int *)o->dest;
        size_t n = 0;
        while (o->choices && o->choices[n]) n++;
        if (i >= 0 && (size_t)i < n) snprintf(buf, cap, "%s", o->choices[i]);
        break;
    }
    default: break;
    }
}

/* The usage, with defaults[i] (DEFAULT_CAP chars each) shown for option i. */
static void usage_with(const nde_args_spec *spec, const char *defaults, FILE *f)
{
    fprintf(f, "usage: %s %s\n", spec->prog, spec->synopsis ? spec->synopsis : "[options]");
    if (spec->about) fprintf(f, "%s%s", spec->about,
                             spec->about[strlen(spec->about) - 1] == '\n' ? "" : "\n");
    fprintf(f, "\noptions:\n");
    enum { COL = 26 };
    for (size_t i = 0; i <= spec->n_opts; i++) {
        const nde_arg *o = i < spec->n_opts ? &spec->opts[i] : NULL;
        char left[160], mv[96];
        if (o) {
            metavar(o, mv, sizeof mv);
            int n = o->short_name ? snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name)
                                  : snprintf(left, sizeof left, "--%s", o->name);
            if (takes_value(o) && n >= 0 && (size_t)n < sizeof left)
                snprintf(left + n, sizeof left - (size_t)n, " %s", mv);
        } else {
            snprintf(left, sizeof left, "-h, --help");
        }
        const char *help = o ? (o->help ? o->help : "") : "print this help and exit";
        if (strlen(left) + 2 >= COL)
            fprintf(f, "  %s\n%*s", left, COL, "");
        else
            fprintf(f, "  %-*s", COL - 2, left);
        for (const char *h = help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "%*s", COL, "");
        }
        const char *def = o ? defaults + i * DEFAULT_CAP : "";
        if (*def) fprintf(f, "%s(default %s)", *help ? " " : "", def);
        fputc('\n', f);
    }
}

int nde_args_exit_status(int rc)
{
    return rc == NDE_ARGS_HELP ? 0 : 2;
}

static int fail(const nde_args_spec *spec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", spec->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try --help)\n");
    va_end(ap);
    return NDE_ARGS_ERROR;
}

/* Decimal digits only, the whole string, no overflow past max. */
static int parse_u64(const char *s, unsigned long long max, unsigned long long *v)
{
    if (!(*s >= '0' && *s <= '9')) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x > max) return -1;
    *v = x;
    return 0;
}

/* What an NDE_ARG_DOUBLE must be, e.g. "a finite number in (0, 1)". */
static void double_expect(const nde_arg *o, char *buf, size_t cap)
{
    unsigned b = o->bounds;
    int lo = (b & (NDE_ARG_LO | NDE_ARG_LO_OPEN)) != 0, hi = (b & (NDE_ARG_HI | NDE_ARG_HI_OPEN)) != 0;
    if (lo && hi)
        snprintf(buf, cap, "a number in %c%g, %g%c", b & NDE_ARG_LO_OPEN ? '(' : '[', o->lo, o->hi,
                 b & NDE_ARG_HI_OPEN ? ')' : ']');
    else if (lo)
        snprintf(buf, cap, "a finite number %s %g", b & NDE_ARG_LO_OPEN ? ">" : ">=", o->lo);
    else if (hi)
        snprintf(buf, cap, "a finite number %s %g", b & NDE_ARG_HI_OPEN ? "<" : "<=", o->hi);
    else
        snprintf(buf, cap, "a finite number");
}

static int parse_double(const nde_arg *o, const char *s, double *v)
{
    if (isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(x)) return -1;
    unsigned b = o->bounds;
    if (((b & NDE_ARG_LO) && !(x >= o->lo)) || ((b & NDE_ARG_LO_OPEN) && !(x > o->lo)) ||
        ((b & NDE_ARG_HI) && !(x <= o->hi)) || ((b & NDE_ARG_HI_OPEN) && !(x < o->hi)))
        return -1;
    *v = x;
    return 0;
}

/* Store value in o's dest; NDE_ARGS_OK or a printed error. */
static int store(const nde_args_spec *spec, const nde_arg *o, const char *value)
{
    char why[256];
    why[0] = '\0';
    switch (o->kind) {
    case NDE_ARG_FLAG: *(int *)o->dest = 1; return NDE_ARGS_OK;
    case NDE_ARG_UNFLAG: *(int *)o->dest = 0; return NDE_ARGS_OK;
    case NDE_ARG_SIZE: {
        size_t max = o->max ? o->max : SIZE_MAX;
        unsigned long long v;
        if (parse_u64(value, max, &v) == 0 && v >= o->min) {
            *(size_t *)o->dest = (size_t)v;
            return NDE_ARGS_OK;
        }
        if (o->max)
            snprintf(why, sizeof why, "an integer in [%zu, %zu]", o->min, o->max);
        else if (o->min)
            snprintf(why, sizeof why, "an integer >= %zu", o->min);
        else
            snprintf(why, sizeof why, "a non-negative integer");
        break;
    }
    case NDE_ARG_U64: {
        unsigned long long v;
        if (parse_u64(value, UINT64_MAX, &v) == 0) {
            *(uint64_t *)o->dest = (uint64_t)v;
            return NDE_ARGS_OK;
        }
        snprintf(why, sizeof why, "a non-negative integer below 2^64");
        break;
    }
    case NDE_ARG_DOUBLE:
        if (parse_double(o, value, (double *)o->dest) == 0) return NDE_ARGS_OK;
        double_expect(o, why, sizeof why);
        break;
    case NDE_ARG_STRING:
        if (*value) {
            *(const char **)o->dest = value;
            return NDE_ARGS_OK;
        }
        snprintf(why, sizeof why, "a non-empty string");
        break;
    case NDE_ARG_CHOICE: {
        size_t len = (size_t)snprintf(why, sizeof why, "one of ");
        for (int i = 0; o->choices[i]; i++) {
            if (!strcmp(value, o->choices[i])) {
                *(int *)o->dest = i;
                return NDE_ARGS_OK;
            }
            if (len < sizeof why)
                len += (size_t)snprintf(why + len, sizeof why - len, "%s%s", i ? ", " : "",
                                        o->choices[i]);
        }
        break;
    }
    case NDE_ARG_CUSTOM: {
        const char *msg = o->parse(value, o->dest);
        if (!msg) return NDE_ARGS_OK;
        return fail(spec, "--%s %s%s%s: bad value: %s", o->name, *value ? "" : "'", value,
                    *value ? "" : "'", msg);
    }
    }
    return fail(spec, "--%s %s%s%s: bad value: expected %s", o->name, *value ? "" : "'", value,
                *value ? "" : "'", why);
}

int nde_args_parse(const nde_args_spec *spec, int argc, char **argv, int *first_positional)
{
    size_t n = spec->n_opts;
    struct option *longs = calloc(n + 2, sizeof *longs);
    char *shorts = malloc(3 * n + 4), *defaults = calloc(n + 1, DEFAULT_CAP);
    unsigned char *seen = calloc(n + 1, 1);
    int rc = NDE_ARGS_OK;
    if (!longs || !shorts || !defaults || !seen) {
        rc = fail(spec, "out of memory parsing the options");
        goto done;
    }
    size_t k = 0;
    shorts[k++] = ':'; /* report a missing value as ':' */
    shorts[k++] = 'h';
    for (size_t i = 0; i < n; i++) {
        const nde_arg *o = &spec->opts[i];
        longs[i] = (struct option){o->name, takes_value(o) ? required_argument : no_argument,
                                   NULL, VAL_BASE + (int)i};
        if (o->short_name) {
            shorts[k++] = o->short_name;
            if (takes_value(o)) shorts[k++] = ':';
        }
        default_of(o, defaults + i * DEFAULT_CAP, DEFAULT_CAP);
    }
    shorts[k] = '\0';
    longs[n] = (struct option){"help", no_argument, NULL, 'h'};
    optind = 0; /* glibc: a full reset, so that parsing may run again */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shorts, longs, NULL);
        if (c == -1) break;
        if (c == 'h') {
            usage_with(spec, defaults, stdout);
            rc = NDE_ARGS_HELP;
            goto done;
        }
        if (c == ':' || c == '?') {
            const nde_arg *o = NULL;
            if (optopt >= VAL_BASE && (size_t)(optopt - VAL_BASE) < n) o = &spec->opts[optopt - VAL_BASE];
            for (size_t i = 0; !o && optopt > 0 && i < n; i++)
                if (spec->opts[i].short_name == optopt) o = &spec->opts[i];
            if (c == ':' && o)
                rc = fail(spec, "--%s needs a value", o->name);
            else if (o)
                rc = fail(spec, "--%s takes no value", o->name);
            else if (optopt > 0 && optopt < VAL_BASE)
                rc = fail(spec, "unknown option -%c", optopt);
            else
                rc = fail(spec, "unknown option %s", argv[optind - 1]);
            goto done;
        }
        /* a short option's character, or a long option's VAL_BASE + index */
        size_t i = (size_t)c >= VAL_BASE ? (size_t)c - VAL_BASE : n;
        for (size_t j = 0; i == n && j < n; j++)
            if (spec->opts[j].short_name == c) i = j;
        if (i == n) {
            rc = fail(spec, "unknown option -%c", c);
            goto done;
        }
        if (seen[i] && !spec->opts[i].repeat) {
            rc = fail(spec, "--%s given twice", spec->opts[i].name);
            goto done;
        }
        seen[i] = 1;
        rc = store(spec, &spec->opts[i], takes_value(&spec->opts[i]) ? optarg : NULL);
        if (rc != NDE_ARGS_OK) goto done;
    }
    size_t n_pos = (size_t)(argc - optind);
    if (n_pos > spec->max_positional) {
        rc = spec->max_positional ? fail(spec, "unexpected argument '%s' (at most %zu)",
                                         argv[optind + spec->max_positional], spec->max_positional)
                                  : fail(spec, "unexpected argument '%s'", argv[optind]);
    } else if (n_pos < spec->min_positional) {
        rc = fail(spec, "expected %s%zu argument%s, got %zu",
                  spec->max_positional > spec->min_positional ? "at least " : "",
                  spec->min_positional, spec->min_positional == 1 ? "" : "s", n_pos);
    } else if (first_positional) {
        *first_positional = optind;
    }
done:
    free(longs);
    free(shorts);
    free(defaults);
    free(seen);
    return rc;
}

const char *nde_args_method(const char *value, void *dest)
{
    return nde_method_parse(value, dest) == NDE_OK ? NULL : nde_last_error();
}
