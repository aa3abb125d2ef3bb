/* tools/args: the option parser shared by the drivers, benchmarks and the nde tool. Each
 * test parses an argv, capturing what the parser prints on stdout and stderr. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nde_args.h"

typedef struct vals {
    size_t iters, batch, level;
    uint64_t seed;
    double rtol, frac, shift;
    const char *out;
    int tape, plot, verbose;
    double coef[2];
} vals;

static const char *const tapes[] = {"stages", "starts", NULL};

/* "A" or "A,B", both > 0 (a custom kind). */
static const char *parse_coef(const char *s, void *dest)
{
    double *v = dest;
    char *end;
    v[0] = v[1] = strtod(s, &end);
    if (*end == ',') v[1] = strtod(end + 1, &end);
    return (*end || !(v[0] > 0.0) || !(v[1] > 0.0)) ? "expected A or A,B, both > 0" : NULL;
}

static vals defaults(void)
{
    return (vals){.iters = 2000, .batch = 16, .level = 3, .seed = 7, .rtol = 1e-7, .frac = 0.5,
                  .shift = -1.0, .out = "out/x", .plot = 1, .coef = {100.0, 10.0}};
}

static char out_text[1 << 14], err_text[1 << 14];

/* Read everything written to fd's file since `was` and restore the stream. */
static void restore(FILE *stream, int saved, FILE *tmp, char *text, size_t cap)
{
    fflush(stream);
    dup2(saved, fileno(stream));
    close(saved);
    rewind(tmp);
    size_t n = fread(text, 1, cap - 1, tmp);
    text[n] = '\0';
    fclose(tmp);
}

/* Parse argv (NULL-terminated) into v against the test table; capture stdout and stderr. */
static int parse_into(vals *v, int *first_pos, size_t min_pos, size_t max_pos, char **argv)
{
    const nde_arg opts[] = {
        {.name = "iters", .short_name = 'n', .kind = NDE_ARG_SIZE, .dest = &v->iters,
         .help = "training iterations"},
        {.name = "batch", .kind = NDE_ARG_SIZE, .dest = &v->batch, .min = 1, .help = "batch size"},
        {.name = "level", .kind = NDE_ARG_SIZE, .dest = &v->level, .min = 1, .max = 6,
         .help = "levels"},
        {.name = "seed", .kind = NDE_ARG_U64, .dest = &v->seed, .help = "random seed"},
        {.name = "rtol", .kind = NDE_ARG_DOUBLE, .dest = &v->rtol, .bounds = NDE_ARG_LO_OPEN,
         .help = "relative tolerance"},
        {.name = "frac", .kind = NDE_ARG_DOUBLE, .dest = &v->frac, .lo = 0.0, .hi = 1.0,
         .bounds = NDE_ARG_LO | NDE_ARG_HI_OPEN, .help = "a fraction"},
        {.name = "shift", .kind = NDE_ARG_DOUBLE, .dest = &v->shift, .help = "any number"},
        {.name = "out", .short_name = 'o', .kind = NDE_ARG_STRING, .dest = &v->out,
         .metavar = "DIR", .help = "output folder"},
        {.name = "tape", .kind = NDE_ARG_CHOICE, .dest = &v->tape, .choices = tapes,
         .help = "what the adjoint keeps"},
        {.name = "no-plot", .kind = NDE_ARG_UNFLAG, .dest = &v->plot, .help = "no PNG"},
        {.name = "verbose", .short_name = 'v', .kind = NDE_ARG_FLAG, .dest = &v->verbose,
         .help = "say more"},
        {.name = "coef", .kind = NDE_ARG_CUSTOM, .dest = v->coef, .parse = parse_coef,
         .metavar = "A[,B]", .default_text = "100,10", .help = "coefficient"},
    };
    const nde_args_spec spec = {.prog = "prog", .about = "A test program.", .opts = opts,
                                .n_opts = sizeof opts / sizeof opts[0],
                                .min_positional = min_pos, .max_positional = max_pos};
    int argc = 0;
    while (argv[argc]) argc++;
    fflush(stdout);
    fflush(stderr);
    FILE *to = tmpfile(), *te = tmpfile();
    cr_assert(to && te);
    int so = dup(fileno(stdout)), se = dup(fileno(stderr));
    dup2(fileno(to), fileno(stdout));
    dup2(fileno(te), fileno(stderr));
    int rc = nde_args_parse(&spec, argc, argv, first_pos);
    restore(stdout, so, to, out_text, sizeof out_text);
    restore(stderr, se, te, err_text, sizeof err_text);
    return rc;
}

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__, NULL})

static int parse(vals *v, char **argv)
{
    *v = defaults();
    return parse_into(v, NULL, 0, 0, argv);
}

/* A bad value: exit status 2, one stderr line naming the option and the value, with the
 * hint; nothing on stdout. */
static void expect_bad(char **argv, const char *option, const char *value)
{
    vals v;
    int rc = parse(&v, argv);
    cr_assert_eq(rc, NDE_ARGS_ERROR, "%s %s accepted", option, value);
    cr_assert_eq(nde_args_exit_status(rc), 2);
    cr_assert(strstr(err_text, option) != NULL, "'%s' not named in: %s", option, err_text);
    cr_assert(strstr(err_text, value) != NULL, "'%s' not named in: %s", value, err_text);
    cr_assert(strstr(err_text, "(try --help)\n") != NULL, "%s", err_text);
    cr_assert(strncmp(err_text, "prog: ", 6) == 0, "%s", err_text);
    cr_assert_str_empty(out_text);
}

Test(args, parses_every_kind)
{
    vals v;
    int pos = -1;
    v = defaults();
    int rc = parse_into(&v, &pos, 0, 0,
                        ARGV("--iters", "12", "--batch=3", "--level", "6", "--seed",
                             "18446744073709551615", "--rtol", "1e-3", "--frac", "0",
                             "--shift", "-2.5", "-o", "dir", "--tape", "starts", "--no-plot",
                             "-v", "--coef", "2,0.5"));
    cr_assert_eq(rc, NDE_ARGS_OK, "%s", err_text);
    cr_assert_str_empty(err_text);
    cr_assert_str_empty(out_text);
    cr_assert_eq(v.iters, 12);
    cr_assert_eq(v.batch, 3);
    cr_assert_eq(v.level, 6);
    cr_assert_eq(v.seed, UINT64_MAX);
    cr_assert_eq(v.rtol, 1e-3);
    cr_assert_eq(v.frac, 0.0);
    cr_assert_eq(v.shift, -2.5);
    cr_assert_str_eq(v.out, "dir");
    cr_assert_eq(v.tape, 1);
    cr_assert_eq(v.plot, 0);
    cr_assert_eq(v.verbose, 1);
    cr_assert(v.coef[0] == 2.0 && v.coef[1] == 0.5);
    cr_assert_eq(pos, 22); /* argc: no positionals */
}

Test(args, untouched_options_keep_their_defaults)
{
    vals v;
    cr_assert_eq(parse(&v, ARGV("-n", "0")), NDE_ARGS_OK, "%s", err_text);
    vals d = defaults();
    cr_assert_eq(v.iters, 0); /* a count may be 0 unless the table says min 1 */
    cr_assert(v.batch == d.batch && v.seed == d.seed && v.rtol == d.rtol && v.plot == 1 &&
              v.verbose == 0 && v.tape == 0 && !strcmp(v.out, d.out));
}

/* Every value of values (NULL-terminated) is bad for option. */
static void expect_all_bad(const char *option, const char *const *values)
{
    for (const char *const *v = values; *v; v++)
        expect_bad(ARGV((char *)option, (char *)*v), option, **v ? *v : "''");
}

Test(args, sizes_are_strict)
{
    expect_all_bad("--iters", (const char *const[]){"-3", "2x", "+2", " 2", "1.5", "0x10", "",
                                                    "99999999999999999999999", NULL});
    expect_bad(ARGV("-n", "x"), "--iters", "x");
    expect_bad(ARGV("--batch", "0"), "--batch", "0");
    cr_assert(strstr(err_text, ">= 1") != NULL, "%s", err_text);
    expect_bad(ARGV("--level", "7"), "--level", "7");
    cr_assert(strstr(err_text, "[1, 6]") != NULL, "%s", err_text);
    expect_all_bad("--seed", (const char *const[]){"x", "-1", "18446744073709551616", NULL});
}

Test(args, doubles_are_finite_whole_and_bounded)
{
    expect_all_bad("--shift", (const char *const[]){"nan", "inf", "-inf", "", "1e400", "1e-400",
                                                    "1.5x", " 1", NULL});
    expect_bad(ARGV("--rtol", "0"), "--rtol", "0");
    cr_assert(strstr(err_text, "> 0") != NULL, "%s", err_text);
    expect_bad(ARGV("--rtol", "-1e-6"), "--rtol", "-1e-6");
    expect_bad(ARGV("--frac", "1"), "--frac", "1");
    cr_assert(strstr(err_text, "[0, 1)") != NULL, "%s", err_text);
    expect_bad(ARGV("--frac", "-0.01"), "--frac", "-0.01");
    vals v;
    cr_assert_eq(parse(&v, ARGV("--frac", "0.999", "--rtol", "1e-300")), NDE_ARGS_OK, "%s",
                 err_text);
    cr_assert(v.frac == 0.999 && v.rtol > 0.0);
}

Test(args, strings_choices_and_custom_values)
{
    expect_bad(ARGV("--out", ""), "--out", "''");
    expect_bad(ARGV("--tape", "all"), "--tape", "all");
    cr_assert(strstr(err_text, "stages, starts") != NULL, "%s", err_text);
    expect_bad(ARGV("--tape", "Stages"), "--tape", "Stages");
    expect_bad(ARGV("--coef", "1,-2"), "--coef", "1,-2");
    cr_assert(strstr(err_text, "expected A or A,B") != NULL, "%s", err_text);
}

Test(args, missing_value_unknown_option_and_duplicates)
{
    expect_bad(ARGV("--iters"), "--iters", "needs a value");
    expect_bad(ARGV("--rtol", "1e-3", "-o"), "--out", "needs a value");
    expect_bad(ARGV("--bogus", "3"), "--bogus", "unknown option");
    expect_bad(ARGV("--bogus=3"), "--bogus=3", "unknown option");
    expect_bad(ARGV("-x"), "-x", "unknown option");
    expect_bad(ARGV("--no-plot=1"), "--no-plot", "takes no value");
    expect_bad(ARGV("--iters", "1", "--iters", "2"), "--iters", "given twice");
    expect_bad(ARGV("--iters", "1", "-n", "2"), "--iters", "given twice");
    expect_bad(ARGV("--no-plot", "--no-plot"), "--no-plot", "given twice");
    expect_bad(ARGV("stray"), "stray", "unexpected argument");
}

Test(args, help_goes_to_stdout_with_the_defaults)
{
    vals v;
    /* the defaults shown are those before parsing, even after other options */
    int rc = parse(&v, ARGV("--iters", "5", "--help", "--bogus"));
    cr_assert_eq(rc, NDE_ARGS_HELP);
    cr_assert_eq(nde_args_exit_status(rc), 0);
    cr_assert_str_empty(err_text);
    cr_assert(strncmp(out_text, "usage: prog [options]\nA test program.\n", 38) == 0, "%s",
              out_text);
    const char *expect[] = {"-n, --iters N", "training iterations (default 2000)",
                            "--batch N", "(default 16)", "--seed SEED", "(default 7)",
                            "--rtol X", "(default 1e-07)", "-o, --out DIR", "(default out/x)",
                            "--tape stages|starts", "(default stages)", "--no-plot ", "no PNG\n",
                            "--coef A[,B]", "(default 100,10)", "-h, --help"};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        cr_assert(strstr(out_text, expect[i]) != NULL, "no '%s' in:\n%s", expect[i], out_text);
    cr_assert_eq(parse(&v, ARGV("-h")), NDE_ARGS_HELP);
    cr_assert(strstr(out_text, "usage: prog") != NULL, "%s", out_text);
    /* an error before --help is reported as an error */
    expect_bad(ARGV("--iters", "x", "--help"), "--iters", "x");
}

Test(args, positionals_are_counted_and_found_after_the_options)
{
    vals v = defaults();
    int pos = -1;
    char **argv = ARGV("FILE", "--iters", "4", "NAME");
    cr_assert_eq(parse_into(&v, &pos, 1, 2, argv), NDE_ARGS_OK, "%s", err_text);
    cr_assert_eq(v.iters, 4);
    cr_assert_eq(pos, 3);
    cr_assert_str_eq(argv[pos], "FILE");
    cr_assert_str_eq(argv[pos + 1], "NAME");
    /* "--" ends the options */
    argv = ARGV("--", "--iters");
    cr_assert_eq(parse_into(&v, &pos, 1, 1, argv), NDE_ARGS_OK, "%s", err_text);
    cr_assert_str_eq(argv[pos], "--iters");
    cr_assert_eq(parse_into(&v, &pos, 1, 2, ARGV("--iters", "4")), NDE_ARGS_ERROR);
    cr_assert(strstr(err_text, "expected at least 1 argument, got 0") != NULL, "%s", err_text);
    cr_assert_eq(parse_into(&v, &pos, 1, 2, ARGV("a", "b", "c")), NDE_ARGS_ERROR);
    cr_assert(strstr(err_text, "unexpected argument 'c'") != NULL, "%s", err_text);
}

Test(args, parsing_again_starts_afresh)
{
    vals v;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(parse(&v, ARGV("--iters", "9", "-v")), NDE_ARGS_OK, "%s", err_text);
        cr_assert(v.iters == 9 && v.verbose == 1);
        expect_bad(ARGV("--iters", "1", "--batch", "0"), "--batch", "0");
        cr_assert_eq(parse(&v, ARGV("--batch", "2")), NDE_ARGS_OK, "%s", err_text);
        cr_assert(v.batch == 2 && v.iters == 2000);
    }
}

/* An option with .repeat may be given again: each value goes to its parser in turn. */
typedef struct collected {
    const char *v[4];
    int n;
} collected;

static const char *collect(const char *value, void *dest)
{
    collected *c = dest;
    if (c->n == 4) return "too many";
    c->v[c->n++] = value;
    return NULL;
}

Test(args, repeatable_options_collect_every_value)
{
    collected c = {0};
    size_t iters = 0;
    const nde_arg opts[] = {
        {.name = "set", .kind = NDE_ARG_CUSTOM, .dest = &c, .parse = collect, .repeat = 1,
         .help = "repeatable"},
        {.name = "iters", .kind = NDE_ARG_SIZE, .dest = &iters, .help = "not repeatable"},
    };
    const nde_args_spec spec = {.prog = "prog", NDE_ARGS_TABLE(opts)};
    char *ok[] = {"prog", "--set", "a=1", "--iters", "3", "--set=b=2", "--set", "c", NULL};
    cr_assert_eq(nde_args_parse(&spec, 8, ok, NULL), NDE_ARGS_OK);
    cr_assert_eq(c.n, 3);
    cr_assert_str_eq(c.v[0], "a=1");
    cr_assert_str_eq(c.v[1], "b=2");
    cr_assert_str_eq(c.v[2], "c");
    cr_assert_eq(iters, 3);
    /* the others still refuse a second value */
    char *twice[] = {"prog", "--iters", "1", "--set", "x", "--iters", "2", NULL};
    fflush(stderr);
    cr_assert_eq(nde_args_parse(&spec, 7, twice, NULL), NDE_ARGS_ERROR);
}
