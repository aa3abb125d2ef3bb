/* libFuzzer: the configuration parser of nde train (tools/cli_config.c, libinih) from a
 * temporary file, the cross-key validation, and a round trip of the resolved
 * configuration through its INI text (which must parse again to the same text). */
#include "fuzz_common.h"
#include "cli_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the parser explains each rejection on stderr: keep libFuzzer's output readable
     * (sanitizer reports write to file descriptor 2 directly and still appear) */
    FILE *null = fopen("/dev/null", "w");
    if (null) stderr = null;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(data, size, ".ini");
    if (!path) return 0;
    cli_config c;
    cli_config_defaults(&c);
    if (cli_config_read(&c, path) != 0) return 0;
    (void)cli_config_check(&c, path);
    char *text = cli_config_text(&c);
    if (!text) return 0;
    cli_config d;
    cli_config_defaults(&d);
    if (cli_config_read_string(&d, text, "round trip") != 0) __builtin_trap();
    char *again = cli_config_text(&d);
    if (!again || strcmp(text, again) != 0) __builtin_trap();
    free(again);
    free(text);
    return 0;
}
