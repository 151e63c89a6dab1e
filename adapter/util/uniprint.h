/* uniprint.h - Go's strconv.IsPrint for one rune, from a generated Unicode table. */
#ifndef EM_UNIPRINT_H
#define EM_UNIPRINT_H

#include <stdbool.h>
#include <stdint.h>

/* True for letters, marks, numbers, punctuation, symbols and the ASCII space
 * (Go's unicode.IsPrint); false for controls, other spaces, format characters,
 * surrogates, private use and unassigned code points, and r < 0. */
bool em_rune_is_print(int32_t r);

#endif
