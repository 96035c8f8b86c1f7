/* nn_check.h - the one assertion macro of the tests/nn programs: unlike assert() it
 * survives -DNDEBUG and says which condition failed where. */
#ifndef TUNEDFS_TESTS_NN_CHECK_H
#define TUNEDFS_TESTS_NN_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

#endif
