/* Enum ↔ name tables (see names.h). */
#include "core/names.h"

#include <stddef.h>

const char *nde_name_at(const char *const *table, int count, int i)
{
    return i < 0 || i >= count ? "unknown" : table[i];
}

static int ascii_lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

static int same_name(const char *a, const char *b)
{
    while (*a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b)) a++, b++;
    return ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b);
}

int nde_name_index(const char *name, const char *const *table, int count)
{
    if (!name) return -1;
    for (int i = 0; i < count; i++)
        if (table[i] && same_name(name, table[i])) return i;
    return -1;
}
