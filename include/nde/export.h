/** @file
 * nde/export.h — NDE_API, the mark of a public function.
 *
 * The library is built with hidden symbols (meson: gnu_symbol_visibility 'hidden'), so
 * only functions declared with NDE_API in include/nde are exported from libnde.so;
 * helpers shared between the library's own files stay internal. tests/exported_symbols.sh
 * checks that `nm -D --defined-only libnde.so` lists exactly the functions declared in
 * include/nde. */
#ifndef NDE_EXPORT_H
#define NDE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
/** Marks a public function: default visibility, so libnde.so exports it. */
#define NDE_API __attribute__((visibility("default")))
#else
#define NDE_API
#endif

#endif
