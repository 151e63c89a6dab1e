/* fuzz.h - what the libFuzzer targets share: CHECK(), an invariant that aborts (a finding) when false. */
#ifndef EM_FUZZ_H
#define EM_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                           \
	do {                                                                                  \
		if (!(cond)) {                                                                \
			fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__); \
			abort();                                                              \
		}                                                                             \
	} while (0)

#endif
