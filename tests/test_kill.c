/* kill -9 and resume (issue 12, item 4): every entry point that trains with checkpoints
 * and --resume (burgers_fno, darcy with both models, nde train, spiral, stiff,
 * fashion_mnist_node) is killed with SIGKILL
 * at seeded random moments spread over a tiny run, and once deterministically inside a
 * checkpoint write (stopped with SIGSTOP the moment its temporary appears, then killed).
 * After each kill: every checkpoint on disk opens as a complete safetensors file, no
 * leftover temporary carries a checkpoint's name, a write caught midway left the previous
 * checkpoint byte for byte, and resuming to the end gives the bits of an uninterrupted
 * run (all tensors but train.history / train.acc, which hold wall-clock times), with no
 * temporary left behind. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nde/safetensors.h"
#include "nde/core.h"

#define TRIALS 4 /* random-moment kills per entry point (5 until six entry points made the test
                  * take 80 s alone, 105 s beside other tests, on the loaded machine) */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A seeded generator of its own (splitmix64), so the kill moments repeat. */
static uint64_t rng_state = 0x6b696c6c39ULL; /* "kill9" */
static double uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Start `cmd` (run by sh with exec, so the pid is the driver's own), output to log. */
static pid_t spawn(const char *cmd, const char *log)
{
    char full[4096];
    snprintf(full, sizeof full, "exec %s >%s 2>&1", cmd, log);
    pid_t pid = fork();
    cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
    return ws;
}

static char logtext[1 << 16];
static const char *read_log(const char *log)
{
    FILE *f = fopen(log, "r");
    logtext[0] = '\0';
    if (f) {
        size_t n = fread(logtext, 1, sizeof logtext - 1, f);
        logtext[n] = '\0';
        fclose(f);
    }
    return logtext;
}

/* Run cmd to its end; it must succeed. */
static void run_ok(const char *cmd, const char *log)
{
    int ws = wait_status(spawn(cmd, log));
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s failed: %s", cmd, read_log(log));
}

static int exists(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0;
}

/* The temporaries ("*.tmp.*") in dir; none may end like a checkpoint. */
static int count_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (!strstr(e->d_name, ".tmp.")) continue;
        size_t len = strlen(e->d_name);
        cr_assert(len < 12 || strcmp(e->d_name + len - 12, ".safetensors") != 0,
                  "%s/%s looks like a checkpoint", dir, e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* A checkpoint on disk is a complete safetensors file with the trainer's tensors. */
static void valid_checkpoint(const char *path)
{
    nde_st_file *f = NULL;
    cr_assert_eq(nde_st_open(path, &f), NDE_OK, "%s does not load: %s", path, nde_last_error());
    cr_assert_not_null(nde_st_find(f, "train.epoch"), "%s has no train.epoch", path);
    nde_st_close(&f);
}

/* Same tensors, same bytes, except the wall-clock history and accumulators. */
static void same_tensors_but_history(const char *a, const char *b)
{
    nde_st_file *fa = NULL, *fb = NULL;
    cr_assert_eq(nde_st_open(a, &fa), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_open(b, &fb), NDE_OK, "%s", nde_last_error());
    cr_assert_eq(nde_st_n_tensors(fa), nde_st_n_tensors(fb), "%s vs %s: tensor counts", a, b);
    size_t compared = 0;
    for (size_t i = 0; i < nde_st_n_tensors(fa); i++) {
        const nde_st_tensor *ta = nde_st_tensor_at(fa, i), *tb = nde_st_find(fb, ta->name);
        cr_assert_not_null(tb, "%s has no %s", b, ta->name);
        if (!strcmp(ta->name, "train.history") || !strcmp(ta->name, "train.acc")) continue;
        cr_assert(ta->nbytes == tb->nbytes && !memcmp(ta->data, tb->data, ta->nbytes),
                  "%s differs between %s and %s", ta->name, a, b);
        compared++;
    }
    cr_assert_gt(compared, 3);
    nde_st_close(&fa);
    nde_st_close(&fb);
}

static unsigned char *slurp_bin(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(len > 0 ? (size_t)len : 1);
    cr_assert_not_null(p);
    cr_assert_eq(fread(p, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return p;
}

/* One entry point: `cmd` is a printf format taking the output directory then the extra
 * flag ("--resume" or ""); ckpts the checkpoint file names in it. always_resume: the
 * driver accepts --resume without a checkpoint (it starts from epoch 0). */
typedef struct {
    const char *name;
    char cmd[2048];
    const char *ckpts[2];
    int always_resume;
} entry;

static void command(const entry *e, const char *dir, int resume, char *cmd, size_t cap)
{
    snprintf(cmd, cap, e->cmd, dir, resume ? "--resume" : "");
}

static void ckpt_path(const char *dir, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* Resume dir to the end and compare with the uninterrupted run in ref. */
static void resume_and_compare(const entry *e, const char *dir, const char *ref)
{
    char cmd[4096], log[700], a[700], b[700];
    int have = 0;
    for (int k = 0; k < 2 && e->ckpts[k]; k++) {
        ckpt_path(dir, e->ckpts[k], a, sizeof a);
        have |= exists(a);
    }
    command(e, dir, have || e->always_resume, cmd, sizeof cmd);
    snprintf(log, sizeof log, "%s.resume.log", dir);
    run_ok(cmd, log);
    for (int k = 0; k < 2 && e->ckpts[k]; k++) {
        ckpt_path(ref, e->ckpts[k], a, sizeof a);
        ckpt_path(dir, e->ckpts[k], b, sizeof b);
        same_tensors_but_history(a, b);
    }
    cr_assert_eq(count_temps(dir), 0, "%s: a temporary is left after the resumed run", dir);
}

/* After a kill: whatever checkpoint exists is complete. */
static void check_after_kill(const entry *e, const char *dir)
{
    char p[700];
    for (int k = 0; k < 2 && e->ckpts[k]; k++) {
        ckpt_path(dir, e->ckpts[k], p, sizeof p);
        if (exists(p)) valid_checkpoint(p);
    }
    (void)count_temps(dir); /* asserts no temporary is named like a checkpoint */
}

typedef struct {
    int killed, finished, with_ckpt, temps_left, in_write;
} tally;

/* TRIALS kills at seeded moments spread over the run (stratified over [0, T) of the
 * uninterrupted run's wall time T), each followed by a resume to the end. */
static void random_kills(const entry *e, const char *root, const char *ref, double t_ref,
                         tally *t)
{
    for (int i = 0; i < TRIALS; i++) {
        char dir[600], cmd[4096], log[700], p[700];
        snprintf(dir, sizeof dir, "%s/%s_kill%d", root, e->name, i);
        snprintf(log, sizeof log, "%s.log", dir);
        cr_assert_eq(mkdir(dir, 0755), 0, "%s: %s", dir, strerror(errno));
        command(e, dir, e->always_resume, cmd, sizeof cmd);
        const double delay = t_ref * ((double)i + uniform()) / TRIALS;
        pid_t pid = spawn(cmd, log);
        struct timespec ts = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
        kill(pid, SIGKILL);
        int ws = wait_status(pid);
        if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL) {
            t->killed++;
        } else {
            cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s failed: %s", cmd, read_log(log));
            t->finished++;
        }
        int have = 0;
        for (int k = 0; k < 2 && e->ckpts[k]; k++) {
            ckpt_path(dir, e->ckpts[k], p, sizeof p);
            have |= exists(p);
        }
        t->with_ckpt += have;
        t->temps_left += count_temps(dir) > 0;
        check_after_kill(e, dir);
        resume_and_compare(e, dir, ref);
    }
}

/* Deterministically inside a write: watch the directory with inotify, stop the process
 * (SIGSTOP) the moment the `nth` temporary is created (or a later one, if the write was
 * done before the stop landed), check the temporary is there and
 * the previous checkpoint is intact, kill it (SIGKILL), check again and resume. */
static void kill_in_write(const entry *e, const char *root, const char *ref, int nth, tally *t)
{
    char dir[600], cmd[4096], log[700];
    snprintf(dir, sizeof dir, "%s/%s_inwrite", root, e->name);
    snprintf(log, sizeof log, "%s.log", dir);
    cr_assert_eq(mkdir(dir, 0755), 0, "%s: %s", dir, strerror(errno));
    int fd = inotify_init1(IN_NONBLOCK);
    cr_assert_geq(fd, 0, "inotify_init1: %s", strerror(errno));
    cr_assert_geq(inotify_add_watch(fd, dir, IN_CREATE), 0, "inotify_add_watch: %s",
                  strerror(errno));
    command(e, dir, e->always_resume, cmd, sizeof cmd);
    pid_t pid = spawn(cmd, log);
    char tmpname[700] = "";
    int seen = 0;
    const double t0 = now();
    while (!tmpname[0]) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int r = poll(&pf, 1, 100);
        cr_assert(now() - t0 < 60, "%s: no checkpoint temporary within 60 s", e->name);
        if (r <= 0) {
            int ws;
            cr_assert_eq(waitpid(pid, &ws, WNOHANG), 0,
                         "%s ended before a write from the %d-th on was caught midway: %s",
                         e->name, nth, read_log(log));
            continue;
        }
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t n = read(fd, buf, sizeof buf);
        for (ssize_t off = 0; off < n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            off += (ssize_t)sizeof *ev + ev->len;
            if (ev->len && strstr(ev->name, ".tmp.") && ++seen >= nth) {
                kill(pid, SIGSTOP);
                snprintf(tmpname, sizeof tmpname, "%s/%s", dir, ev->name);
                if (exists(tmpname)) break;
                /* a loaded machine let this write finish first: try the next one */
                tmpname[0] = '\0';
                kill(pid, SIGCONT);
            }
        }
    }
    close(fd);
    /* stopped mid-write: the temporary exists, the checkpoint it replaces is complete */
    const int in_write = exists(tmpname); /* checked above; kept for the tally */
    const char *target = NULL;
    for (int k = 0; k < 2 && e->ckpts[k]; k++)
        if (!strncmp(strrchr(tmpname, '/') + 1, e->ckpts[k], strlen(e->ckpts[k]))) target = e->ckpts[k];
    cr_assert_not_null(target, "%s: temporary %s belongs to no checkpoint", e->name, tmpname);
    char old[700];
    ckpt_path(dir, target, old, sizeof old);
    size_t n_before = 0, n_after = 0;
    unsigned char *before = NULL;
    if (exists(old)) {
        valid_checkpoint(old);
        before = slurp_bin(old, &n_before);
    }
    kill(pid, SIGKILL);
    int ws = wait_status(pid);
    cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL, "%s was not killed", e->name);
    cr_assert(in_write, "%s: the write of %s had finished before SIGSTOP landed", e->name, tmpname);
    t->in_write++;
    t->killed++;
    t->temps_left += exists(tmpname);
    if (before) {
        unsigned char *after = slurp_bin(old, &n_after);
        cr_assert(n_after == n_before && !memcmp(before, after, n_before),
                  "%s changed under a killed write", old);
        free(after);
        free(before);
        t->with_ckpt++;
    }
    check_after_kill(e, dir);
    resume_and_compare(e, dir, ref);
}

static void kill_entry(const entry *e, const char *root, int nth_write)
{
    char ref[600], cmd[4096], log[700];
    snprintf(ref, sizeof ref, "%s/%s_ref", root, e->name);
    snprintf(log, sizeof log, "%s.log", ref);
    command(e, ref, 0, cmd, sizeof cmd);
    run_ok(cmd, log); /* fills the data cache */
    command(e, ref, 0, cmd, sizeof cmd);
    const double t0 = now();
    run_ok(cmd, log); /* the timed uninterrupted run, with the cache warm */
    const double t_ref = now() - t0;
    tally t = {0};
    random_kills(e, root, ref, t_ref, &t);
    kill_in_write(e, root, ref, nth_write, &t);
    cr_assert_eq(t.killed + t.finished, TRIALS + 1);
    /* A machine whose load changes between the reference run and the trials may let the
     * late trials finish before their kill: at least the kill inside a write and one
     * random kill must land (the first trial's delay is in [0, t_ref / TRIALS)). */
    cr_assert_geq(t.killed, 2, "%s: at least two kills must land before the end", e->name);
    /* the tally, for docs/reliability.md */
    fprintf(stderr, "kill9 %s: %d trials (ref %.2f s), %d killed, %d finished first, %d left a "
            "checkpoint, %d left a temporary, %d stopped inside a write; all resumed bit-exactly\n",
            e->name, TRIALS + 1, t_ref, t.killed, t.finished, t.with_ckpt, t.temps_left, t.in_write);
}

static char root[] = "/tmp/nde_kill9_XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(root));
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", root);
}

#ifdef NDE_BURGERS_EXE
Test(kill, burgers_fno_resumes_bit_exactly, .init = setup, .fini = teardown)
{
    entry e = {.name = "burgers", .ckpts = {"checkpoint.safetensors", NULL}};
    snprintf(e.cmd, sizeof e.cmd, "%s --n 64 --ntrain 8 --ntest 4 --batch 4 --epochs 4 "
             "--threads 1 --cache %s/cache --out %%s %%s", NDE_BURGERS_EXE, root);
    kill_entry(&e, root, 2);
}
#endif

#ifdef NDE_DARCY_EXE
Test(kill, darcy_both_models_resume_bit_exactly, .init = setup, .fini = teardown)
{
    entry e = {.name = "darcy", .ckpts = {"fno_checkpoint.safetensors", "mgno_checkpoint.safetensors"},
               .always_resume = 1};
    snprintf(e.cmd, sizeof e.cmd, "%s --model both --s 32 --ntrain 8 --ntest 4 --epochs 2 "
             "--batch-fno 4 --batch-mgno 4 --cache %s/cache --out %%s %%s", NDE_DARCY_EXE, root);
    kill_entry(&e, root, 2); /* from the 2nd write on: FNO's epoch 2 over epoch 1's */
}
#endif

Test(kill, nde_train_resumes_bit_exactly, .init = setup, .fini = teardown)
{
    char cmd[2048], log[700];
    snprintf(cmd, sizeof cmd, "%s data burgers --n 24 --s 32 --out %s/b.h5", NDE_CLI_EXE, root);
    snprintf(log, sizeof log, "%s/data.log", root);
    run_ok(cmd, log);
    entry e = {.name = "nde_train", .ckpts = {"checkpoint.safetensors", NULL}};
    snprintf(e.cmd, sizeof e.cmd, "%s train %s/examples/configs/burgers_fno.ini "
             "--set data.path=%s/b.h5 --set data.ntrain=16 --set data.ntest=8 "
             "--set data.subsample=1 --set train.batch=4 --set train.epochs=4 "
             "--set schedule.period=1 --out %%s %%s", NDE_CLI_EXE, NDE_SOURCE_ROOT, root);
    kill_entry(&e, root, 2);
}

#ifdef NDE_SPIRAL_EXE
/* The spiral driver: checkpoints every 40 iterations and after every 200 (its "epochs"); twice the
 * 800 iterations of a first version, of which a parallel full-suite run let 3 of 6 finish first. */
Test(kill, spiral_resumes_bit_exactly, .init = setup, .fini = teardown)
{
    entry e = {.name = "spiral", .ckpts = {"checkpoint.safetensors", NULL}, .always_resume = 1};
    snprintf(e.cmd, sizeof e.cmd, "%s --iters 1600 --print-every 200 --checkpoint-every 40 "
             "--no-plot --out %%s %%s", NDE_SPIRAL_EXE);
    kill_entry(&e, root, 2);
}
#endif


#ifdef NDE_STIFF_EXE
/* The stiff driver (CVODES BDF and its adjoint): a checkpoint after every iteration. Its
 * resumed runs matched only once every solve got a fresh integrator (src/ode/sundials.c):
 * CVodeReInit carried state of the previous solve into the next one. */
Test(kill, stiff_resumes_bit_exactly, .init = setup, .fini = teardown)
{
    entry e = {.name = "stiff", .ckpts = {"checkpoint.safetensors", NULL}, .always_resume = 1};
    snprintf(e.cmd, sizeof e.cmd, "%s --iters 40 --print-every 0 --checkpoint-every 1 "
             "--out %%s %%s", NDE_STIFF_EXE);
    kill_entry(&e, root, 2);
}
#endif

#ifdef NDE_FASHION_EXE
#include "nde/idx.h"

/* A tiny Fashion-MNIST look-alike (as in test_examples.c): random pixels brightened by the
 * label, gzip IDX files in Debian's layout. */
static void write_fake_split(const char *dir, const char *split, uint32_t n, unsigned seed)
{
    uint8_t *img = malloc((size_t)n * 784), *lab = malloc(n);
    cr_assert(img && lab);
    srand(seed);
    for (uint32_t i = 0; i < n; i++) {
        lab[i] = (uint8_t)(i % 10);
        for (int p = 0; p < 784; p++) img[(size_t)i * 784 + p] = (uint8_t)((rand() % 64) + 19 * lab[i]);
    }
    char path[700];
    uint32_t dims_i[3] = {n, 28, 28}, dims_l[1] = {n};
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, split);
    cr_assert_eq(nde_idx_write(path, NDE_IDX_U8, 3, dims_i, img, 1), NDE_OK, "%s", nde_last_error());
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, split);
    cr_assert_eq(nde_idx_write(path, NDE_IDX_U8, 1, dims_l, lab, 1), NDE_OK, "%s", nde_last_error());
    free(img);
    free(lab);
}

/* The Fashion-MNIST classifier, two methods in one process (one checkpoint each, every 2
 * steps), on 256 fake training images in batches of 16. */
Test(kill, fashion_mnist_node_resumes_bit_exactly, .init = setup, .fini = teardown)
{
    write_fake_split(root, "train", 256, 1);
    write_fake_split(root, "t10k", 32, 2);
    entry e = {.name = "fashion", .always_resume = 1,
               .ckpts = {"vanilla.checkpoint.safetensors", "ernode.checkpoint.safetensors"}};
    snprintf(e.cmd, sizeof e.cmd, "%s --data %s --methods vanilla,ernode --steps 24 --batch 16 "
             "--train-eval 16 --rtol 1e-4 --atol 1e-4 --print-every 0 --checkpoint-every 2 "
             "--no-plot --out %%s %%s", NDE_FASHION_EXE, root);
    kill_entry(&e, root, 2);
}
#endif
