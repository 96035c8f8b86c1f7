/* clock.h - the monotonic clock in milliseconds and deadlines for condition waits.
 * Condition variables that wait on deadlines must be made with clock_cond_init. */
#ifndef TUNEDFS_BASE_CLOCK_H
#define TUNEDFS_BASE_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t clock_now_ms(void);
/* The CLOCK_MONOTONIC instant ms milliseconds from now, for pthread_cond_timedwait. */
struct timespec clock_deadline_in(int64_t ms);
/* The same for an absolute clock_now_ms() value. */
struct timespec clock_deadline_at(int64_t at_ms);
/* A condition variable whose timed waits use CLOCK_MONOTONIC. */
void clock_cond_init(pthread_cond_t *c);

#endif
