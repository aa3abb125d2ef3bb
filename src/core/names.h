/* Enum ↔ name tables: the lookups every name table of the library shares. Internal. */
#ifndef NDE_CORE_NAMES_H
#define NDE_CORE_NAMES_H

/* table[i] for 0 <= i < count, else "unknown". */
const char *nde_name_at(const char *const *table, int count, int i);

/* The index of `name` in table[0..count), comparing ASCII letters without regard to
 * case; -1 if it is not there (or name is NULL). */
int nde_name_index(const char *name, const char *const *table, int count);

#endif
